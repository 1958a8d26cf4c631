package whatsapp

import (
	"context"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/messages"
)

// SendRequest is the body of POST /{version}/{phone_number_id}/messages
// for the kinds this client sends (Meta's schemas TextMessage,
// TemplateMessage, ImageMessage, DocumentMessage, AudioMessage,
// VideoMessage over BaseMessageProperties).
type SendRequest struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to"`
	Type             string `json:"type"`
	// BizOpaqueCallbackData is echoed in the message's status webhooks:
	// our message id, so a status finds its message even before the
	// wamid is stored.
	BizOpaqueCallbackData string       `json:"biz_opaque_callback_data,omitempty"`
	Text                  *TextObject  `json:"text,omitempty"`
	Template              *TemplateObj `json:"template,omitempty"`
	Image                 *MediaObject `json:"image,omitempty"`
	Document              *MediaObject `json:"document,omitempty"`
	Audio                 *MediaObject `json:"audio,omitempty"`
	Video                 *MediaObject `json:"video,omitempty"`
}

// TextObject is a text message's text.
type TextObject struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// TemplateObj is a template message's template (Meta's TemplateObject).
type TemplateObj struct {
	Name       string              `json:"name"`
	Language   Language            `json:"language"`
	Components []TemplateComponent `json:"components,omitempty"`
}

// Language is Meta's LanguageObject: its policy is always "deterministic".
type Language struct {
	Policy string `json:"policy"`
	Code   string `json:"code"`
}

// TemplateComponent holds a template's parameters for one of its
// components (header, body, button).
type TemplateComponent struct {
	Type       string          `json:"type"`
	SubType    string          `json:"sub_type,omitempty"`
	Index      string          `json:"index,omitempty"`
	Parameters []TextParameter `json:"parameters,omitempty"`
}

// TextParameter is one parameter (Meta's ParameterObject and
// ButtonParameterObject): a {{n}} text value, a quick reply button's
// payload, or a media header's image, video or document.
type TextParameter struct {
	Type     string       `json:"type"`
	Text     string       `json:"text,omitempty"`
	Payload  string       `json:"payload,omitempty"`
	Image    *MediaObject `json:"image,omitempty"`
	Video    *MediaObject `json:"video,omitempty"`
	Document *MediaObject `json:"document,omitempty"`
}

// MediaObject is a media message's media, sent by link.
type MediaObject struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// SendResponse is the answer to a send (Meta's MessageResponsePayload).
type SendResponse struct {
	MessagingProduct string `json:"messaging_product"`
	Contacts         []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
}

// Sent is what a send returns: the message's id at WhatsApp (its wamid)
// and the contact's WhatsApp id.
type Sent struct {
	WAMID string
	WaID  string
	// Input is the "to" sent; MessageStatus is "accepted" (or
	// "held_for_quality_assessment", "paused").
	Input         string
	MessageStatus string
}

// Limits WhatsApp sets on what is sent.
const (
	MaxTextBody     = messages.MaxTextChars    // characters
	MaxCaption      = messages.MaxCaptionChars // characters
	MaxTemplateName = messages.MaxTemplateName
	maxLink         = 2048
	maxFilename     = 240
	maxParam        = 1024 // a body parameter's characters
	maxOpaque       = 512
)

// BuildSendRequest turns a message into the Cloud API's request body,
// refusing (ErrInvalid) what WhatsApp would refuse for its form: an empty
// or over-long text, a media link that is not http(s), a caption on audio,
// a template without name or language.
func BuildSendRequest(m messages.Message) (SendRequest, error) {
	to, err := recipient(m.To)
	if err != nil {
		return SendRequest{}, err
	}
	r := SendRequest{MessagingProduct: "whatsapp", RecipientType: "individual", To: to}
	if utf8.RuneCountInString(m.ID) <= maxOpaque {
		r.BizOpaqueCallbackData = m.ID
	}
	switch m.Type {
	case messages.TypeText:
		if m.Text == nil {
			return r, invalidf("a text message without text")
		}
		if err := checkText("text.body", m.Text.Body, MaxTextBody); err != nil {
			return r, err
		}
		r.Type = "text"
		r.Text = &TextObject{Body: m.Text.Body, PreviewURL: m.Text.PreviewURL}
	case messages.TypeTemplate:
		t := m.Template
		if t == nil {
			return r, invalidf("a template message without template")
		}
		if t.Name == "" || utf8.RuneCountInString(t.Name) > MaxTemplateName {
			return r, invalidf("template.name must be 1 to %d characters", MaxTemplateName)
		}
		if t.Language == "" {
			return r, invalidf("template.language is required")
		}
		obj := &TemplateObj{Name: t.Name, Language: Language{Policy: "deterministic", Code: t.Language}}
		if len(t.Params) > 0 {
			c := TemplateComponent{Type: "body"}
			for i, p := range t.Params {
				if p == "" || utf8.RuneCountInString(p) > maxParam || !utf8.ValidString(p) {
					return r, invalidf("template.params[%d] must be 1 to %d characters", i, maxParam)
				}
				c.Parameters = append(c.Parameters, TextParameter{Type: "text", Text: p})
			}
			obj.Components = []TemplateComponent{c}
		}
		for i, tc := range t.Components {
			c := TemplateComponent{Type: tc.Type, SubType: tc.SubType, Index: tc.Index}
			for j, p := range tc.Parameters {
				wp := TextParameter{Type: p.Type, Text: p.Text, Payload: p.Payload}
				if m := p.Media(); m != nil {
					if err := checkLink(m.Link); err != nil {
						return r, err
					}
					mo := &MediaObject{Link: m.Link, Filename: m.Filename}
					switch p.Type {
					case "image":
						wp.Image = mo
					case "video":
						wp.Video = mo
					case "document":
						wp.Document = mo
					}
				} else if (p.Type == "text" && p.Text == "") || (p.Type == "payload" && p.Payload == "") || (p.Type != "text" && p.Type != "payload") {
					return r, invalidf("template.components[%d].parameters[%d] is not a parameter WhatsApp takes", i, j)
				}
				c.Parameters = append(c.Parameters, wp)
			}
			obj.Components = append(obj.Components, c)
		}
		r.Type = "template"
		r.Template = obj
	case messages.TypeMedia:
		md := m.Media
		if md == nil {
			return r, invalidf("a media message without media")
		}
		if err := checkLink(md.Link); err != nil {
			return r, err
		}
		if md.Caption != "" {
			if err := checkText("media.caption", md.Caption, MaxCaption); err != nil {
				return r, err
			}
		}
		obj := &MediaObject{Link: md.Link, Caption: md.Caption}
		switch md.Kind {
		case messages.MediaImage:
			r.Image = obj
		case messages.MediaVideo:
			r.Video = obj
		case messages.MediaDocument:
			if utf8.RuneCountInString(md.Filename) > maxFilename {
				return r, invalidf("media.filename must be at most %d characters", maxFilename)
			}
			obj.Filename = md.Filename
			r.Document = obj
		case messages.MediaAudio:
			if md.Caption != "" {
				return r, invalidf("media.caption: WhatsApp audio messages take no caption")
			}
			r.Audio = obj
		default:
			return r, invalidf("media.kind must be image, document, audio or video, not %q", md.Kind)
		}
		if md.Filename != "" && md.Kind != messages.MediaDocument {
			return r, invalidf("media.filename: only documents take a file name")
		}
		r.Type = string(md.Kind)
	default:
		return r, invalidf("message type must be text, template or media, not %q", m.Type)
	}
	return r, nil
}

// recipient is the "to" of a message: the E.164 number without its "+"
// (WhatsApp's wa_id form).
func recipient(to string) (string, error) {
	d := strings.TrimPrefix(strings.TrimSpace(to), "+")
	if len(d) < 5 || len(d) > 15 || strings.Trim(d, "0123456789") != "" {
		return "", invalidf("to must be a phone number in international form, not %q", to)
	}
	return d, nil
}

func checkText(field, s string, max int) error {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		return invalidf("%s is not valid UTF-8", field)
	case strings.TrimSpace(s) == "":
		return invalidf("%s is empty", field)
	case n > max:
		return invalidf("%s is %d characters, over WhatsApp's %d", field, n, max)
	}
	return nil
}

func checkLink(link string) error {
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(link) > maxLink {
		return invalidf("media.link must be an http(s) URL of at most %d bytes", maxLink)
	}
	return nil
}

// Send sends m from the credentials' phone number and returns its wamid.
// An error is an *Error (see IsRetryable) or wraps ErrInvalid.
func (c *Client) Send(ctx context.Context, cr Credentials, m messages.Message) (Sent, error) {
	req, err := BuildSendRequest(m)
	if err != nil {
		return Sent{}, err
	}
	return c.SendRequest(ctx, cr, req)
}

// SendRequest posts a request body as it is.
func (c *Client) SendRequest(ctx context.Context, cr Credentials, req SendRequest) (Sent, error) {
	if err := checkID("phone_number_id", cr.PhoneNumberID); err != nil {
		return Sent{}, err
	}
	var out SendResponse
	if err := c.call(ctx, cr, "POST", "/"+cr.PhoneNumberID+"/messages", nil, req, &out); err != nil {
		return Sent{}, err
	}
	if len(out.Messages) == 0 || out.Messages[0].ID == "" {
		// Accepted without an id: not retried (it may have gone out).
		return Sent{}, &Error{HTTPStatus: 200, Message: "the answer to a send holds no message id"}
	}
	s := Sent{WAMID: out.Messages[0].ID, MessageStatus: out.Messages[0].MessageStatus, Input: req.To}
	if len(out.Contacts) > 0 {
		s.WaID, s.Input = out.Contacts[0].WaID, out.Contacts[0].Input
	}
	return s, nil
}
