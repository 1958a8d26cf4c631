// Package messages is the messaging domain: one model for every message the
// system sends or receives on a channel (WhatsApp, SMS, voice, ...), its
// status ladder, and the rules shared by the API that accepts a message,
// the sender that hands it to a provider and the webhooks that report what
// the provider did with it.
//
// A message moves queued → sent → delivered → read, or ends failed with the
// provider's code and text. Statuses only move forward: a late or
// out-of-order callback (delivered after read) never moves one back, and a
// failed message stays failed.
package messages

import (
	"fmt"
	"time"
)

// Direction says who wrote a message.
type Direction string

const (
	Outbound Direction = "outbound" // from the tenant's bot to the contact
	Inbound  Direction = "inbound"  // from the contact
)

// Type is what a message carries.
type Type string

const (
	TypeText     Type = "text"
	TypeTemplate Type = "template"
	TypeMedia    Type = "media"
)

// Status is where a message is on its way.
type Status string

const (
	StatusQueued    Status = "queued"    // accepted by the API, not yet handed to the provider
	StatusSent      Status = "sent"      // the provider accepted it (it has a provider id)
	StatusDelivered Status = "delivered" // the provider reports it reached the contact's device
	StatusRead      Status = "read"      // the contact opened it
	// StatusCompleted is a call (voice channels) that was answered and
	// ended: a call's delivered.
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"   // the provider refused it or reported it undeliverable
	StatusReceived  Status = "received" // an inbound message, as stored
	// StatusHeld is an installation's message created outside its allowed
	// hours: it waits for its release time (HeldUntil), then goes queued.
	StatusHeld Status = "held"
)

// rank orders the statuses of an outbound message. Failed outranks
// everything: once failed, a message stays failed. A call ends completed
// (its last step, as read is a message's).
var rank = map[Status]int{StatusHeld: 0, StatusQueued: 1, StatusSent: 2, StatusDelivered: 3, StatusRead: 4, StatusCompleted: 4, StatusFailed: 5}

// ParseStatus accepts a status name.
func ParseStatus(s string) (Status, error) {
	st := Status(s)
	if _, ok := rank[st]; ok || st == StatusReceived {
		return st, nil
	}
	return "", fmt.Errorf("status must be one of held, queued, sent, delivered, read, completed, failed, received, not %q", s)
}

// Advances reports whether moving a message from status from to status to
// is a step forward. A provider's "read" may arrive before its "delivered":
// read then stands, and the later delivered does not move it back.
func Advances(from, to Status) bool {
	rf, ok1 := rank[from]
	rt, ok2 := rank[to]
	return ok1 && ok2 && rt > rf
}

// Final reports whether a status ends a message's life on our side (the
// sender never touches it again).
func Final(s Status) bool { return s == StatusFailed || rank[s] >= rank[StatusSent] }

// Text is a free-form text message.
type Text struct {
	Body       string `json:"body" dynamodbav:"body"`
	PreviewURL bool   `json:"preview_url,omitempty" dynamodbav:"preview_url,omitempty"`
}

// Template is a pre-approved template message: the only kind a business
// may start a WhatsApp conversation with, outside the 24-hour window.
type Template struct {
	Name      string   `json:"name" dynamodbav:"name"`
	Namespace string   `json:"namespace,omitempty" dynamodbav:"namespace,omitempty"`
	Language  string   `json:"language" dynamodbav:"language"`
	Params    []string `json:"params,omitempty" dynamodbav:"params,omitempty"` // body {{1}}, {{2}}, ... in order
	// Components are the parameters of the header, the body and the
	// buttons, in the Cloud API's shape (SendComponent).
	Components []SendComponent `json:"components,omitempty" dynamodbav:"components,omitempty"`
}

// MediaKind is the kind of a media message.
type MediaKind string

const (
	MediaImage    MediaKind = "image"
	MediaDocument MediaKind = "document"
	MediaAudio    MediaKind = "audio"
	MediaVideo    MediaKind = "video"
)

// Media is a media message sent by link.
type Media struct {
	Kind     MediaKind `json:"kind" dynamodbav:"kind"`
	Link     string    `json:"link" dynamodbav:"link"`
	Caption  string    `json:"caption,omitempty" dynamodbav:"caption,omitempty"`
	Filename string    `json:"filename,omitempty" dynamodbav:"filename,omitempty"`
}

// Failure is the provider's reason for a failed message.
type Failure struct {
	Code    string `json:"code" dynamodbav:"code"`
	Message string `json:"message" dynamodbav:"message"`
}

// Message is one message on a channel, either way.
type Message struct {
	ID        string `json:"id" dynamodbav:"id"`
	TenantID  string `json:"-" dynamodbav:"tenant_id"`
	ChannelID string `json:"channel_id" dynamodbav:"channel_id"`
	// ChannelKind is the channel's network (tenancy.ChannelKind): the
	// sender picks the provider by it.
	ChannelKind string    `json:"-" dynamodbav:"channel_kind,omitempty"`
	ContactID   string    `json:"contact_id,omitempty" dynamodbav:"contact_id,omitempty"`
	Direction   Direction `json:"direction" dynamodbav:"direction"`
	Type        Type      `json:"type" dynamodbav:"type"`
	// To is the contact's address on the channel: E.164 phone for
	// WhatsApp, SMS and voice (WhatsApp's wa_id once known).
	To       string    `json:"to,omitempty" dynamodbav:"to,omitempty"`
	From     string    `json:"from,omitempty" dynamodbav:"from,omitempty"`
	Text     *Text     `json:"text,omitempty" dynamodbav:"text,omitempty"`
	Template *Template `json:"template,omitempty" dynamodbav:"template,omitempty"`
	Media    *Media    `json:"media,omitempty" dynamodbav:"media,omitempty"`
	// ProviderID is the provider's id of the message (WhatsApp's wamid,
	// Twilio's SID), set when the provider accepts it.
	ProviderID string   `json:"provider_message_id,omitempty" dynamodbav:"provider_id,omitempty"`
	Status     Status   `json:"status" dynamodbav:"status"`
	Failure    *Failure `json:"error,omitempty" dynamodbav:"failure,omitempty"`
	// LastError is the provider's answer to the last attempt that is to be
	// retried (a timeout, 429 or 5xx), while the message is still queued.
	LastError *Failure `json:"last_error,omitempty" dynamodbav:"last_error,omitempty"`
	// Attempts counts the sender's calls to the provider.
	Attempts int `json:"attempts" dynamodbav:"attempts"`
	// Times of each status reached, Unix milliseconds (0: not reached).
	CreatedAt   int64 `json:"created_at" dynamodbav:"created_at"`
	SentAt      int64 `json:"sent_at,omitempty" dynamodbav:"sent_at,omitempty"`
	DeliveredAt int64 `json:"delivered_at,omitempty" dynamodbav:"delivered_at,omitempty"`
	ReadAt      int64 `json:"read_at,omitempty" dynamodbav:"read_at,omitempty"`
	CompletedAt int64 `json:"completed_at,omitempty" dynamodbav:"completed_at,omitempty"`
	FailedAt    int64 `json:"failed_at,omitempty" dynamodbav:"failed_at,omitempty"`
	// InstallationID is the sender installation (seed 004) a message leaves
	// from: such a message is pulled by the installed sender, never handed
	// to the provider by the sender function.
	InstallationID string `json:"installation_id,omitempty" dynamodbav:"installation_id,omitempty"`
	// DownloadLink is an installation message's attachment as given: an
	// http(s) URL or a path on the installed sender's own disk.
	DownloadLink string `json:"download_link,omitempty" dynamodbav:"download_link,omitempty"`
	// HeldUntil is when a held message is released (Unix ms).
	HeldUntil int64 `json:"held_until,omitempty" dynamodbav:"held_until,omitempty"`
}

// Stamp records that m reached status s at t, if that is a step forward;
// it reports whether m changed.
func (m *Message) Stamp(s Status, t time.Time, f *Failure) bool {
	if !Advances(m.Status, s) {
		return false
	}
	ms := t.UnixMilli()
	m.Status = s
	switch s {
	case StatusSent:
		m.SentAt = ms
	case StatusDelivered:
		m.DeliveredAt = ms
	case StatusRead:
		m.ReadAt = ms
	case StatusCompleted:
		m.CompletedAt = ms
	case StatusFailed:
		m.FailedAt = ms
		m.Failure = f
	}
	return true
}

// Limits of message content (WhatsApp's; SMS and voice have their own,
// checked by their providers' rules).
const (
	MaxTextChars    = 4096 // a text body, in characters (WhatsApp's limit)
	MaxCaptionChars = 1024
	MaxTemplateName = 512
	// Window is how long after a contact's last inbound message a business
	// may send it free-form messages (WhatsApp's customer service window).
	Window = 24 * time.Hour
)

// InWindow reports whether free-form messages may go to a contact whose
// last inbound message on the channel was at lastInbound (Unix ms, 0: never).
func InWindow(lastInbound int64, now time.Time) bool {
	return lastInbound > 0 && now.Sub(time.UnixMilli(lastInbound)) < Window
}
