package messages

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/lazyre"
)

// SendRequest is POST /v1/messages' body: whom to send to (a phone number
// or one of the channel's contacts) and exactly one payload, the one its
// type names.
type SendRequest struct {
	// To is the recipient's phone number: E.164, or national in the
	// channel's default country.
	To string `json:"to,omitempty"`
	// ContactID is one of the channel's contacts (its phone field is used).
	ContactID string         `json:"contact_id,omitempty"`
	Type      Type           `json:"type"`
	Text      *TextInput     `json:"text,omitempty"`
	Template  *TemplateInput `json:"template,omitempty"`
	Media     *MediaInput    `json:"media,omitempty"`
}

// The payloads of a send request: the message's, as types of their own
// (the OpenAPI document tells request types from answer types).
type (
	TextInput  Text
	MediaInput Media
)

// TemplateInput is a template message's template (Template's fields).
type TemplateInput struct {
	Name       string           `json:"name"`
	Namespace  string           `json:"namespace,omitempty"`
	Language   string           `json:"language"`
	Params     []string         `json:"params,omitempty"` // body {{1}}, {{2}}, ... in order
	Components []ComponentInput `json:"components,omitempty"`
}

// Template is the input as the message's template.
func (t *TemplateInput) Template() *Template {
	if t == nil {
		return nil
	}
	out := &Template{Name: t.Name, Namespace: t.Namespace, Language: t.Language, Params: t.Params}
	for _, c := range t.Components {
		sc := SendComponent{Type: c.Type, SubType: c.SubType, Index: c.Index, Parameters: make([]SendParameter, len(c.Parameters))}
		for i, p := range c.Parameters {
			sc.Parameters[i] = SendParameter{Type: p.Type, Text: p.Text, Payload: p.Payload,
				Image: (*SendMedia)(p.Image), Video: (*SendMedia)(p.Video), Document: (*SendMedia)(p.Document)}
		}
		out.Components = append(out.Components, sc)
	}
	return out
}

// Payload is the request's payload as the message's.
func (r SendRequest) Payload() (*Text, *Template, *Media) {
	return (*Text)(r.Text), r.Template.Template(), (*Media)(r.Media)
}

// Limits of a send request beyond the content limits above.
const (
	MaxTemplateParams     = 100  // body parameters of a template
	MaxTemplateParamChars = 1024 // one parameter, in characters
	MaxLinkBytes          = 2048 // a media link (netguard.MaxURLLength)
	MaxFilenameChars      = 240
	MaxContactIDBytes     = 128
)

var (
	templateName = &lazyre.Regexp{Expr: `^[a-z0-9_]+$`}
	// language is a WhatsApp template language code: en, en_US, zh_CN, fil.
	language  = &lazyre.Regexp{Expr: `^[a-z]{2,3}(_[A-Za-z]{2,4})?$`}
	namespace = &lazyre.Regexp{Expr: `^[A-Za-z0-9_-]+$`} // and at most 64 bytes, checked apart
)

// MediaKinds are the media message kinds, in a stable order.
var MediaKinds = []MediaKind{MediaImage, MediaDocument, MediaAudio, MediaVideo}

// Types are the outbound message types, in a stable order.
var Types = []Type{TypeText, TypeTemplate, TypeMedia}

// Validate checks a send request's shape: one recipient, a known type, the
// payload of that type and no other, and the payload's limits. It does not
// parse the phone number, check the media link against the SSRF guard, look
// the contact or template up, or check the 24-hour window: the API does,
// with its ports. Errors are apperr invalid errors naming the field.
func (r SendRequest) Validate() error {
	switch {
	case r.To == "" && r.ContactID == "":
		return apperr.Invalid("to", "give the recipient: to (a phone number) or contact_id")
	case r.To != "" && r.ContactID != "":
		return apperr.Invalid("to", "give to or contact_id, not both")
	case len(r.ContactID) > MaxContactIDBytes || strings.ContainsAny(r.ContactID, "#") || !utf8.ValidString(r.ContactID):
		return apperr.Invalidf("contact_id", "is not a contact ID (at most %d bytes, no '#')", MaxContactIDBytes)
	case len(r.To) > 64:
		return apperr.Invalid("to", "is not a phone number (over 64 characters)")
	}
	payloads := 0
	for _, set := range []bool{r.Text != nil, r.Template != nil, r.Media != nil} {
		if set {
			payloads++
		}
	}
	var want bool
	switch r.Type {
	case TypeText:
		want = r.Text != nil
	case TypeTemplate:
		want = r.Template != nil
	case TypeMedia:
		want = r.Media != nil
	case "":
		return apperr.Invalid("type", "is required: text, template or media")
	default:
		return apperr.Invalidf("type", "must be text, template or media, not %q", clip(string(r.Type)))
	}
	if !want {
		return apperr.Invalidf(string(r.Type), "is required for a message of type %s", r.Type)
	}
	if payloads > 1 {
		return apperr.Invalidf("type", "is %s: send only the %s object (one payload per message)", r.Type, r.Type)
	}
	switch r.Type {
	case TypeText:
		return r.Text.validate()
	case TypeTemplate:
		return r.Template.validate()
	default:
		return r.Media.validate()
	}
}

func (t *TextInput) validate() error {
	if strings.TrimSpace(t.Body) == "" {
		return apperr.Invalid("text.body", "is empty")
	}
	if n := utf8.RuneCountInString(t.Body); n > MaxTextChars {
		return apperr.Invalidf("text.body", "is %d characters long; at most %d", n, MaxTextChars)
	}
	return nil
}

func (t *TemplateInput) validate() error {
	switch {
	case t.Name == "":
		return apperr.Invalid("template.name", "is empty")
	case len(t.Name) > MaxTemplateName || !templateName.MatchString(t.Name):
		return apperr.Invalidf("template.name", "must be 1 to %d lower-case letters, digits and underscores, as the template was registered", MaxTemplateName)
	case t.Language == "":
		return apperr.Invalid("template.language", "is empty (a language code such as en or en_US)")
	case !language.MatchString(t.Language):
		return apperr.Invalidf("template.language", "%q is not a language code such as en or en_US", clip(t.Language))
	case t.Namespace != "" && (len(t.Namespace) > 64 || !namespace.MatchString(t.Namespace)):
		return apperr.Invalid("template.namespace", "must be 1 to 64 letters, digits, '_' and '-'")
	case len(t.Params) > MaxTemplateParams:
		return apperr.Invalidf("template.params", "has %d parameters; at most %d", len(t.Params), MaxTemplateParams)
	}
	for i, p := range t.Params {
		if strings.TrimSpace(p) == "" {
			return apperr.Invalidf(fmt.Sprintf("template.params[%d]", i), "is empty (parameter {{%d}})", i+1)
		}
		if n := utf8.RuneCountInString(p); n > MaxTemplateParamChars {
			return apperr.Invalidf(fmt.Sprintf("template.params[%d]", i), "is %d characters long; at most %d", n, MaxTemplateParamChars)
		}
	}
	return validateComponents("template.", t.Params, t.Template().Components)
}

func (m *MediaInput) validate() error {
	switch m.Kind {
	case MediaImage, MediaDocument, MediaAudio, MediaVideo:
	case "":
		return apperr.Invalid("media.kind", "is required: image, document, audio or video")
	default:
		return apperr.Invalidf("media.kind", "must be image, document, audio or video, not %q", clip(string(m.Kind)))
	}
	switch {
	case m.Link == "":
		return apperr.Invalid("media.link", "is empty (an https:// URL the provider fetches the media from)")
	case len(m.Link) > MaxLinkBytes:
		return apperr.Invalidf("media.link", "is over %d bytes", MaxLinkBytes)
	case !strings.HasPrefix(strings.ToLower(m.Link), "https://") && !strings.HasPrefix(strings.ToLower(m.Link), "http://"):
		return apperr.Invalid("media.link", "must be an http:// or https:// URL")
	case m.Kind == MediaAudio && m.Caption != "":
		return apperr.Invalid("media.caption", "audio messages take no caption")
	case utf8.RuneCountInString(m.Caption) > MaxCaptionChars:
		return apperr.Invalidf("media.caption", "is %d characters long; at most %d", utf8.RuneCountInString(m.Caption), MaxCaptionChars)
	case m.Filename != "" && m.Kind != MediaDocument:
		return apperr.Invalid("media.filename", "only document messages take a filename")
	case utf8.RuneCountInString(m.Filename) > MaxFilenameChars:
		return apperr.Invalidf("media.filename", "is over %d characters", MaxFilenameChars)
	}
	return nil
}

// FreeForm reports whether a message of type t is free-form: outside the
// 24-hour window only templates may be sent.
func FreeForm(t Type) bool { return t == TypeText || t == TypeMedia }

// WindowClosed is the API's refusal of a free-form message to a contact
// outside the 24-hour customer service window.
func WindowClosed() error {
	return apperr.New(apperr.KindRejected, "The 24-hour customer service window is closed: the contact has not written to this channel "+
		"in the last 24 hours, so only a template message may be sent (type template) until they write again.")
}

// Templates checks a template message against the channel's template
// registry: the template exists in that language, is approved, and takes
// as many body parameters as given. Errors are apperr kinds (not found,
// rejected) whose messages name the template.
type Templates interface {
	CheckTemplate(ctx context.Context, tenantID, channelID string, t Template) error
}

// AnyTemplate is the Templates port of a stage without a template
// registry: it accepts every well-formed template, and the provider
// refuses an unknown one (the message then fails with the provider's code,
// 132001 on WhatsApp).
type AnyTemplate struct{}

// CheckTemplate accepts t.
func (AnyTemplate) CheckTemplate(context.Context, string, string, Template) error { return nil }

// clip shortens an echoed input for an error message.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	cut := 40
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
