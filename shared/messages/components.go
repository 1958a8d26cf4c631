package messages

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// SendComponent holds the parameters of one component of a template
// message, in the WhatsApp Cloud API's shape (its SendComponent: a
// header, the body, or a button by index). Template.Params is the body's
// text parameters in short.
type SendComponent struct {
	// Type is header, body or button.
	Type string `json:"type" dynamodbav:"type"`
	// SubType is a button's kind: url (a URL button's {{1}} suffix) or
	// quick_reply (its payload). Buttons only.
	SubType string `json:"sub_type,omitempty" dynamodbav:"sub_type,omitempty"`
	// Index is a button's position in the template, "0" to "9". Buttons only.
	Index      string          `json:"index,omitempty" dynamodbav:"index,omitempty"`
	Parameters []SendParameter `json:"parameters" dynamodbav:"parameters"`
}

// The request's forms of a component, its parameters and their media
// (the OpenAPI document tells request types from answer types).
type (
	// ComponentInput is SendComponent in a send request.
	ComponentInput struct {
		Type       string           `json:"type"`
		SubType    string           `json:"sub_type,omitempty"`
		Index      string           `json:"index,omitempty"`
		Parameters []ParameterInput `json:"parameters"`
	}
	// ParameterInput is SendParameter in a send request.
	ParameterInput struct {
		Type     string          `json:"type"`
		Text     string          `json:"text,omitempty"`
		Payload  string          `json:"payload,omitempty"`
		Image    *MediaLinkInput `json:"image,omitempty"`
		Video    *MediaLinkInput `json:"video,omitempty"`
		Document *MediaLinkInput `json:"document,omitempty"`
	}
	// MediaLinkInput is SendMedia in a send request.
	MediaLinkInput SendMedia
)

// SendParameter is one parameter (the Cloud API's ParameterObject and
// ButtonParameterObject): text (header, body, a URL button's suffix),
// image, video or document (a media header, by link), or payload (a quick
// reply button's).
type SendParameter struct {
	Type     string     `json:"type" dynamodbav:"type"`
	Text     string     `json:"text,omitempty" dynamodbav:"text,omitempty"`
	Payload  string     `json:"payload,omitempty" dynamodbav:"payload,omitempty"`
	Image    *SendMedia `json:"image,omitempty" dynamodbav:"image,omitempty"`
	Video    *SendMedia `json:"video,omitempty" dynamodbav:"video,omitempty"`
	Document *SendMedia `json:"document,omitempty" dynamodbav:"document,omitempty"`
}

// SendMedia is a media header's media, by link.
type SendMedia struct {
	Link     string `json:"link" dynamodbav:"link"`
	Filename string `json:"filename,omitempty" dynamodbav:"filename,omitempty"`
}

// Media returns the parameter's media for its type (nil for text and
// payload, or when the object of its type is missing).
func (p SendParameter) Media() *SendMedia {
	switch p.Type {
	case "image":
		return p.Image
	case "video":
		return p.Video
	case "document":
		return p.Document
	}
	return nil
}

// Limits of template components in a send.
const (
	MaxTemplateComponents = 12 // a header, the body, ten buttons
	MaxButtonIndex        = 9  // buttons are 0 to 9
	MaxButtonParamChars   = 2000
	MaxHeaderParamChars   = 60 // a TEXT header's whole text, so its parameter too
)

// ComponentField names a component of a send request in errors:
// template.components[2].
func ComponentField(prefix string, i int) string {
	return fmt.Sprintf("%scomponents[%d]", prefix, i)
}

// validateComponents checks the components' shapes (what the Cloud API
// accepts, whatever the template): at most one header and one body (and
// no body beside params), buttons with a sub_type and a distinct index,
// and each parameter of a type that component takes, with its value. The
// template registry then checks them against the template.
func validateComponents(prefix string, params []string, cs []SendComponent) error {
	if len(cs) > MaxTemplateComponents {
		return apperr.Invalidf(prefix+"components", "has %d components; at most %d (a header, the body, ten buttons)", len(cs), MaxTemplateComponents)
	}
	seen := map[string]bool{}
	for i, c := range cs {
		f := ComponentField(prefix, i)
		switch c.Type {
		case "header", "body":
			if seen[c.Type] {
				return apperr.Invalidf(f+".type", "a message has at most one %s component", c.Type)
			}
			seen[c.Type] = true
			if c.SubType != "" || c.Index != "" {
				return apperr.Invalidf(f, "a %s component takes no sub_type or index (buttons only)", c.Type)
			}
			if c.Type == "body" && len(params) > 0 {
				return apperr.Invalidf(f, "give the body's parameters once: in %sparams or in a body component, not both", prefix)
			}
		case "button":
			n, err := strconv.Atoi(c.Index)
			if err != nil || n < 0 || n > MaxButtonIndex || strconv.Itoa(n) != c.Index {
				return apperr.Invalidf(f+".index", "must be the button's position in the template, \"0\" to \"%d\", not %q", MaxButtonIndex, clip(c.Index))
			}
			if seen["button"+c.Index] {
				return apperr.Invalidf(f+".index", "button %s has two components", c.Index)
			}
			seen["button"+c.Index] = true
			if c.SubType != "url" && c.SubType != "quick_reply" {
				return apperr.Invalidf(f+".sub_type", "must be url or quick_reply, not %q", clip(c.SubType))
			}
		case "":
			return apperr.Invalid(f+".type", "is required: header, body or button")
		default:
			return apperr.Invalidf(f+".type", "must be header, body or button, not %q", clip(c.Type))
		}
		if len(c.Parameters) == 0 {
			return apperr.Invalid(f+".parameters", "is empty: a component is given for its parameters")
		}
		if len(c.Parameters) > MaxTemplateParams {
			return apperr.Invalidf(f+".parameters", "has %d parameters; at most %d", len(c.Parameters), MaxTemplateParams)
		}
		for j, p := range c.Parameters {
			if err := validateParam(fmt.Sprintf("%s.parameters[%d]", f, j), c, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// paramTypes are the parameter types each kind of component takes.
var paramTypes = map[string][]string{
	"header":      {"text", "image", "video", "document"},
	"body":        {"text"},
	"url":         {"text"},
	"quick_reply": {"payload"},
}

func validateParam(f string, c SendComponent, p SendParameter) error {
	kind := c.Type
	if kind == "button" {
		kind = c.SubType
	}
	ok := false
	for _, t := range paramTypes[kind] {
		ok = ok || t == p.Type
	}
	if !ok {
		what := "a " + c.Type
		if c.Type == "button" {
			what = "a " + c.SubType + " button"
		}
		return apperr.Invalidf(f+".type", "%s takes parameters of type %s, not %q", what, strings.Join(paramTypes[kind], ", "), clip(p.Type))
	}
	set := 0
	for _, b := range []bool{p.Text != "", p.Payload != "", p.Image != nil, p.Video != nil, p.Document != nil} {
		if b {
			set++
		}
	}
	switch p.Type {
	case "text":
		max := MaxTemplateParamChars
		if c.Type == "button" {
			max = MaxButtonParamChars
		}
		if strings.TrimSpace(p.Text) == "" {
			return apperr.Invalid(f+".text", "is empty")
		}
		if n := utf8.RuneCountInString(p.Text); n > max {
			return apperr.Invalidf(f+".text", "is %d characters long; at most %d", n, max)
		}
	case "payload":
		if strings.TrimSpace(p.Payload) == "" {
			return apperr.Invalid(f+".payload", "is empty")
		}
		if n := utf8.RuneCountInString(p.Payload); n > MaxTemplateParamChars {
			return apperr.Invalidf(f+".payload", "is %d characters long; at most %d", n, MaxTemplateParamChars)
		}
	default:
		m := p.Media()
		switch {
		case m == nil:
			return apperr.Invalidf(f+"."+p.Type, "is required for a parameter of type %s ({\"link\":\"https://…\"})", p.Type)
		case m.Link == "":
			return apperr.Invalidf(f+"."+p.Type+".link", "is empty (an https:// URL the provider fetches the media from)")
		case len(m.Link) > MaxLinkBytes:
			return apperr.Invalidf(f+"."+p.Type+".link", "is over %d bytes", MaxLinkBytes)
		case !strings.HasPrefix(strings.ToLower(m.Link), "https://") && !strings.HasPrefix(strings.ToLower(m.Link), "http://"):
			return apperr.Invalid(f+"."+p.Type+".link", "must be an http:// or https:// URL")
		case m.Filename != "" && p.Type != "document":
			return apperr.Invalid(f+"."+p.Type+".filename", "only documents take a filename")
		case utf8.RuneCountInString(m.Filename) > MaxFilenameChars:
			return apperr.Invalidf(f+"."+p.Type+".filename", "is over %d characters", MaxFilenameChars)
		}
	}
	if set != 1 {
		return apperr.Invalidf(f, "a parameter of type %s holds its %s and nothing else", p.Type, p.Type)
	}
	return nil
}

// MediaLinks are the links of a send's media header parameters, with the
// field naming each (the API checks them against the SSRF guard).
func (t Template) MediaLinks(prefix string) map[string]string {
	out := map[string]string{}
	for i, c := range t.Components {
		for j, p := range c.Parameters {
			if m := p.Media(); m != nil {
				out[fmt.Sprintf("%s.parameters[%d].%s.link", ComponentField(prefix, i), j, p.Type)] = m.Link
			}
		}
	}
	return out
}
