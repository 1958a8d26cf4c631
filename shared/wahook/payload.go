// Package wahook is WhatsApp Cloud API webhook intake: the verify
// handshake (GET /v1/webhooks/whatsapp), the signed calls (POST), which are
// checked against the app secret of the channel each names and stored
// whole as one inbox item per channel, and the intake, the data table
// stream's consumer that turns each stored call into inbound messages
// (with their contacts), status updates of sent messages and template
// status updates.
//
// Meta retries a call it got no 200 for, for days: every inbound message is
// recorded once by its wamid (a mark on the operations table), and statuses
// only move a message forward (shared/messages), so a repeat changes
// nothing.
package wahook

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/messages"
)

// Body is the part of a WhatsApp webhook call that is read (Meta's shape:
// object whatsapp_business_account, entry[] with the WABA id, changes[]
// with a field and a value).
type Body struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is one WABA's part of a call.
type Entry struct {
	ID      string   `json:"id"` // the WABA id
	Changes []Change `json:"changes"`
}

// Change fields this package reads.
const (
	FieldMessages       = "messages"
	FieldTemplateStatus = "message_template_status_update"
)

// Change is one change of an entry.
type Change struct {
	Field string `json:"field"`
	Value Value  `json:"value"`
}

// Value is a change's value: for field "messages", the phone number it is
// about (metadata), the contacts that wrote, their messages and the
// statuses of messages sent from it; for "message_template_status_update",
// the template's new status.
type Value struct {
	MessagingProduct string `json:"messaging_product,omitempty"`
	Metadata         struct {
		DisplayPhoneNumber string `json:"display_phone_number,omitempty"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WaID string `json:"wa_id"`
	} `json:"contacts,omitempty"`
	Messages []Message `json:"messages,omitempty"`
	Statuses []Status  `json:"statuses,omitempty"`

	// message_template_status_update.
	Event                   string      `json:"event,omitempty"`
	MessageTemplateID       json.Number `json:"message_template_id,omitempty"`
	MessageTemplateName     string      `json:"message_template_name,omitempty"`
	MessageTemplateLanguage string      `json:"message_template_language,omitempty"`
	Reason                  string      `json:"reason,omitempty"`
}

// Media is an image, audio, video, document or sticker a contact sent (by
// Meta's media id; the file itself is fetched from the Graph API).
type Media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// Message is one inbound message.
type Message struct {
	From      string `json:"from"` // the contact's wa_id
	ID        string `json:"id"`   // the wamid
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Text      *struct {
		Body string `json:"body"`
	} `json:"text,omitempty"`
	Image    *Media `json:"image,omitempty"`
	Audio    *Media `json:"audio,omitempty"`
	Video    *Media `json:"video,omitempty"`
	Document *Media `json:"document,omitempty"`
	Sticker  *Media `json:"sticker,omitempty"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name,omitempty"`
		Address   string  `json:"address,omitempty"`
	} `json:"location,omitempty"`
	Contacts []struct {
		Name struct {
			FormattedName string `json:"formatted_name"`
		} `json:"name"`
	} `json:"contacts,omitempty"`
	Button *struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button,omitempty"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply,omitempty"`
		ListReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"list_reply,omitempty"`
	} `json:"interactive,omitempty"`
	Reaction *struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	} `json:"reaction,omitempty"`
	Errors []Error `json:"errors,omitempty"`
}

// Error is an error object of a message or a status.
type Error struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message,omitempty"`
	ErrorData *struct {
		Details string `json:"details"`
	} `json:"error_data,omitempty"`
}

// Status is a status update of a message sent from the number.
type Status struct {
	ID          string  `json:"id"` // the wamid
	Status      string  `json:"status"`
	Timestamp   string  `json:"timestamp"`
	RecipientID string  `json:"recipient_id"`
	Errors      []Error `json:"errors,omitempty"`
}

// Time reads Meta's timestamp (Unix seconds as a string); zero if it is
// not one.
func Time(ts string) time.Time {
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// maxSummary bounds a stored summary (WhatsApp's text limit).
const maxSummary = messages.MaxTextChars

// Summary is what an inbound message says, as text: the body of a text,
// the caption or file name of media, a location's coordinates and name,
// the title of a button or list reply, a reaction's emoji.
func (m Message) Summary() string {
	var s string
	media := func(md *Media) string {
		if md == nil {
			return ""
		}
		return strings.TrimSpace(strings.Join(nonEmpty(md.Caption, md.Filename), " "))
	}
	switch m.Type {
	case "text":
		if m.Text != nil {
			s = m.Text.Body
		}
	case "image":
		s = media(m.Image)
	case "audio":
		s = media(m.Audio)
	case "video":
		s = media(m.Video)
	case "document":
		s = media(m.Document)
	case "sticker":
		s = media(m.Sticker)
	case "location":
		if l := m.Location; l != nil {
			s = strings.Join(nonEmpty(fmt.Sprintf("%g,%g", l.Latitude, l.Longitude), l.Name, l.Address), " ")
		}
	case "contacts":
		var names []string
		for _, c := range m.Contacts {
			names = append(names, c.Name.FormattedName)
		}
		s = strings.Join(nonEmpty(names...), ", ")
	case "button":
		if m.Button != nil {
			s = strings.Join(nonEmpty(m.Button.Text, m.Button.Payload), " ")
		}
	case "interactive":
		if i := m.Interactive; i != nil {
			switch {
			case i.ButtonReply != nil:
				s = i.ButtonReply.Title
			case i.ListReply != nil:
				s = i.ListReply.Title
			}
		}
	case "reaction":
		if m.Reaction != nil {
			s = m.Reaction.Emoji
		}
	default:
		if len(m.Errors) > 0 {
			s = m.Errors[0].Title
		}
	}
	if r := []rune(s); len(r) > maxSummary {
		s = string(r[:maxSummary])
	}
	return s
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

// MediaOf is the media of an image, audio, video, document or sticker
// message (nil for other types).
func (m Message) MediaOf() *Media {
	switch m.Type {
	case "image":
		return m.Image
	case "audio":
		return m.Audio
	case "video":
		return m.Video
	case "document":
		return m.Document
	case "sticker":
		return m.Sticker
	}
	return nil
}

// StatusOf maps a WhatsApp status to ours: sent, delivered, read and
// failed; ok is false for the others (deleted, warning, ...), which are
// not recorded.
func StatusOf(s string) (messages.Status, bool) {
	switch s {
	case "sent":
		return messages.StatusSent, true
	case "delivered":
		return messages.StatusDelivered, true
	case "read":
		return messages.StatusRead, true
	case "failed":
		return messages.StatusFailed, true
	}
	return "", false
}

// Failure is a failed status's reason: the first error's code, and its
// title with its details.
func (s Status) Failure() *messages.Failure {
	if len(s.Errors) == 0 {
		return &messages.Failure{Code: "unknown", Message: "WhatsApp reported the message failed without a reason."}
	}
	e := s.Errors[0]
	msg := e.Title
	if e.Message != "" && e.Message != e.Title {
		msg = strings.Join(nonEmpty(msg, e.Message), ": ")
	}
	if e.ErrorData != nil && e.ErrorData.Details != "" {
		msg = strings.Join(nonEmpty(msg, e.ErrorData.Details), ": ")
	}
	return &messages.Failure{Code: strconv.Itoa(e.Code), Message: msg}
}

// TemplateStatusUpdate is a message template's new status, as Meta reports
// it (APPROVED, REJECTED, PENDING, and others such as DISABLED or PAUSED),
// for the channels of its WABA.
type TemplateStatusUpdate struct {
	WABAID     string
	TemplateID string
	Name       string
	Language   string
	Event      string
	Reason     string
}

// PhoneNumberIDs lists the phone number ids the call's "messages" changes
// are about, and the WABA ids of its template status changes, once each.
func (b Body) PhoneNumberIDs() (phones, wabas []string) {
	seenP, seenW := map[string]bool{}, map[string]bool{}
	for _, e := range b.Entry {
		for _, c := range e.Changes {
			switch c.Field {
			case FieldMessages:
				if id := c.Value.Metadata.PhoneNumberID; id != "" && !seenP[id] {
					seenP[id] = true
					phones = append(phones, id)
				}
			case FieldTemplateStatus:
				if e.ID != "" && !seenW[e.ID] {
					seenW[e.ID] = true
					wabas = append(wabas, e.ID)
				}
			}
		}
	}
	return phones, wabas
}

// WhatsAppWebhook is how the API document shows a webhook call: Meta's
// object and entries (Body is the part of them that is read).
type WhatsAppWebhook struct {
	Object string            `json:"object"`
	Entry  []json.RawMessage `json:"entry"`
}
