package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/whatsapp"
)

// A template message's components, checked as the Cloud API checks them
// against the approved template (Meta's TemplateComponent: HeaderComponent,
// BodyComponent, ButtonComponent; ParameterObject, ButtonParameterObject):
//
//   - header: its parameters fill the template's header: a TEXT header's
//     {{n}} as text parameters (as many as it holds), an IMAGE, DOCUMENT or
//     VIDEO header's media as one image, document or video parameter (a
//     media object: id or an http(s) link, no caption); a template whose
//     header needs parameters refuses a message without them;
//   - body: text parameters, as many as the body's {{n}};
//   - button: sub_type (quick_reply or url) and index (the button's
//     position, "0" to "9") are required, and name a button of that kind
//     in the template; a quick reply takes one payload parameter, a URL
//     button with a {{1}} suffix one text parameter; a URL button with a
//     suffix refuses a message without it.
//
// The error codes are the Cloud API's: 132000 for a parameter count,
// 132012 for a parameter that does not fit the template's format, 131008
// for a missing required field, 100 for a malformed component.

// sendComponent is a component of a template send.
type sendComponent struct {
	Type       string            `json:"type"`
	SubType    string            `json:"sub_type"`
	Index      json.RawMessage   `json:"index"`
	Parameters []json.RawMessage `json:"parameters"`
}

// sendParam is one parameter: Meta's ParameterObject (text, image,
// document, video; currency and date_time are for body parameters of
// text-based templates, which this sandbox does not take) and
// ButtonParameterObject (payload, text).
type sendParam struct {
	Type     string          `json:"type"`
	Text     *string         `json:"text"`
	Payload  *string         `json:"payload"`
	Image    json.RawMessage `json:"image"`
	Document json.RawMessage `json:"document"`
	Video    json.RawMessage `json:"video"`
}

var mediaFormats = map[string]bool{"IMAGE": true, "DOCUMENT": true, "VIDEO": true}

func errParamCount(details string) graphErr {
	return graphErr{status: 400, code: 132000, message: "(#132000) Number of parameters does not match the expected number of params", details: details}
}

func errParamFormat(details string) graphErr {
	return graphErr{status: 400, code: 132012, message: "(#132012) Parameter format does not match format in the created template", details: details}
}

func errMissing(details string) graphErr {
	return graphErr{status: 400, code: 131008, message: "(#131008) Required parameter is missing", details: details}
}

// templateParts is what a template's components ask of a message.
type templateParts struct {
	headerFormat string // "", TEXT, IMAGE, DOCUMENT, VIDEO, LOCATION
	headerParams int    // a TEXT header's {{n}}
	bodyParams   int
	buttons      []whatsapp.TemplateButton
}

func partsOf(t Template) templateParts {
	var p templateParts
	for _, c := range t.Components {
		switch strings.ToUpper(c.Type) {
		case "HEADER":
			p.headerFormat = strings.ToUpper(c.Format)
			if p.headerFormat == "" {
				p.headerFormat = "TEXT"
			}
			if p.headerFormat == "TEXT" {
				p.headerParams = whatsapp.CountParams(c.Text)
			}
		case "BODY":
			p.bodyParams = whatsapp.CountParams(c.Text)
		case "BUTTONS":
			p.buttons = append(p.buttons, c.Buttons...)
		}
	}
	return p
}

// decodeParam reads one parameter, refusing unknown keys.
func decodeParam(raw json.RawMessage) (sendParam, error) {
	var p sendParam
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&p)
	return p, err
}

// checkMedia checks a header's media object: id or an http(s) link, and
// no caption (Meta: "Captions not supported").
func checkMedia(where, kind string, raw json.RawMessage) (string, graphErr, bool) {
	var m whatsapp.MediaObject
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if len(raw) == 0 || string(raw) == "null" {
		return "", errMissing(fmt.Sprintf("%s: a parameter of type %s requires the %s object.", where, kind, kind)), false
	}
	if err := dec.Decode(&m); err != nil {
		return "", errInvalidParam(fmt.Sprintf("%s.%s is not a media object: %v", where, kind, err)), false
	}
	if (m.Link == "") == (m.ID == "") {
		return "", errInvalidParam(fmt.Sprintf("%s.%s: exactly one of id and link is required", where, kind)), false
	}
	if m.Link != "" && !strings.HasPrefix(m.Link, "https://") && !strings.HasPrefix(m.Link, "http://") {
		return "", errInvalidParam(fmt.Sprintf("%s.%s.link must be an http(s) URL", where, kind)), false
	}
	if m.Caption != "" {
		return "", errInvalidParam(fmt.Sprintf("%s.%s: a header's media takes no caption", where, kind)), false
	}
	if m.Filename != "" && kind != "document" {
		return "", errInvalidParam(fmt.Sprintf("%s.%s takes no filename", where, kind)), false
	}
	return m.Link + m.ID, graphErr{}, true
}

// buttonIndex reads a button component's index: a string (Meta's schema)
// or a number, 0 to 9.
func buttonIndex(raw json.RawMessage) (int, bool) {
	s := string(raw)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	if len(s) != 1 || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	return int(s[0] - '0'), true
}

// checkComponents checks a template send's components against the
// approved template and returns the parameters' values for the page.
func checkComponents(t Template, comps []sendComponent) ([]string, graphErr, bool) {
	want := partsOf(t)
	var values []string
	var header, body *sendComponent
	buttons := map[int]bool{}
	for i := range comps {
		c := &comps[i]
		where := fmt.Sprintf("template.components[%d]", i)
		switch c.Type {
		case "header":
			if header != nil {
				return nil, errInvalidParam(where + ": a message has one header component"), false
			}
			header = c
		case "body":
			if body != nil {
				return nil, errInvalidParam(where + ": a message has one body component"), false
			}
			body = c
			for j, raw := range c.Parameters {
				p, err := decodeParam(raw)
				if err != nil || p.Type != "text" || p.Text == nil || *p.Text == "" {
					return nil, errParamFormat(fmt.Sprintf("body: parameter %d must be {\"type\":\"text\",\"text\":\"...\"} with a text", j)), false
				}
				if utf8.RuneCountInString(*p.Text) > 32768 {
					return nil, errInvalidParam(fmt.Sprintf("%s.parameters[%d].text is over 32768 characters", where, j)), false
				}
				values = append(values, *p.Text)
			}
		case "button":
			vals, e, ok := checkButton(where, want, c, buttons)
			if !ok {
				return nil, e, false
			}
			values = append(values, vals...)
		case "":
			return nil, errMissing(where + ": type is required (header, body or button)"), false
		default:
			return nil, errInvalidParam(fmt.Sprintf("%s.type: %q is not one of header, body, button", where, c.Type)), false
		}
	}
	hv, e, ok := checkHeader(want, header)
	if !ok {
		return nil, e, false
	}
	values = append(hv, values...)
	got := 0
	if body != nil {
		got = len(body.Parameters)
	}
	if got != want.bodyParams {
		return nil, errParamCount(fmt.Sprintf("body: number of localizable_params (%d) does not match the expected number of params (%d)", got, want.bodyParams)), false
	}
	// A URL button with a {{1}} suffix needs its parameter.
	for i, b := range want.buttons {
		if strings.EqualFold(b.Type, "URL") && whatsapp.CountParams(b.URL) > 0 && !buttons[i] {
			return nil, errParamCount(fmt.Sprintf("button at index %d of type Url requires a parameter", i)), false
		}
	}
	return values, graphErr{}, true
}

// checkHeader checks the header component (nil: none given) against the
// template's header.
func checkHeader(want templateParts, c *sendComponent) ([]string, graphErr, bool) {
	n := 0
	if c != nil {
		n = len(c.Parameters)
		if n == 0 {
			return nil, errMissing("header: parameters are required (at least 1)"), false
		}
	}
	switch {
	case want.headerFormat == "" || (want.headerFormat == "TEXT" && want.headerParams == 0):
		if n > 0 {
			return nil, errParamCount(fmt.Sprintf("header: number of localizable_params (%d) does not match the expected number of params (0)", n)), false
		}
		return nil, graphErr{}, true
	case want.headerFormat == "TEXT":
		var vals []string
		for j := 0; c != nil && j < n; j++ {
			p, err := decodeParam(c.Parameters[j])
			if err != nil || p.Type != "text" {
				return nil, errParamFormat(fmt.Sprintf("header: Format mismatch, expected TEXT, received %s", strings.ToUpper(p.Type))), false
			}
			if p.Text == nil || *p.Text == "" {
				return nil, errMissing(fmt.Sprintf("header: parameter %d of type text requires a text", j)), false
			}
			if utf8.RuneCountInString(*p.Text) > whatsapp.MaxTemplateHeader {
				return nil, errInvalidParam(fmt.Sprintf("header: parameter %d is over %d characters", j, whatsapp.MaxTemplateHeader)), false
			}
			vals = append(vals, *p.Text)
		}
		if n != want.headerParams {
			return nil, errParamCount(fmt.Sprintf("header: number of localizable_params (%d) does not match the expected number of params (%d)", n, want.headerParams)), false
		}
		return vals, graphErr{}, true
	case mediaFormats[want.headerFormat]:
		if c == nil {
			return nil, errParamFormat(fmt.Sprintf("header: Format mismatch, expected %s, received UNKNOWN", want.headerFormat)), false
		}
		if n != 1 {
			return nil, errParamCount(fmt.Sprintf("header: number of parameters (%d) does not match the expected number of params (1)", n)), false
		}
		p, err := decodeParam(c.Parameters[0])
		if err != nil {
			return nil, errInvalidParam("header: parameter 0 is not a parameter object: " + err.Error()), false
		}
		kind := strings.ToLower(want.headerFormat)
		if p.Type != kind {
			return nil, errParamFormat(fmt.Sprintf("header: Format mismatch, expected %s, received %s", want.headerFormat, strings.ToUpper(p.Type))), false
		}
		media := map[string]json.RawMessage{"image": p.Image, "document": p.Document, "video": p.Video}
		for k, v := range media {
			if k != kind && len(v) > 0 {
				return nil, errInvalidParam(fmt.Sprintf("header: parameter 0 is of type %s but holds %s", kind, k)), false
			}
		}
		if p.Text != nil || p.Payload != nil {
			return nil, errInvalidParam(fmt.Sprintf("header: parameter 0 is of type %s and takes no text or payload", kind)), false
		}
		v, e, ok := checkMedia("header.parameters[0]", kind, media[kind])
		if !ok {
			return nil, e, false
		}
		return []string{v}, graphErr{}, true
	default: // LOCATION headers take a location parameter this sandbox does not model
		return nil, errParamFormat(fmt.Sprintf("header: Format mismatch, expected %s, received %s", want.headerFormat, "UNKNOWN")), false
	}
}

// checkButton checks one button component against the template's buttons;
// seen collects the indexes given.
func checkButton(where string, want templateParts, c *sendComponent, seen map[int]bool) ([]string, graphErr, bool) {
	if c.SubType == "" {
		return nil, errMissing(where + ": sub_type is required for a button component (quick_reply or url)"), false
	}
	if len(c.Index) == 0 {
		return nil, errMissing(where + ": index is required for a button component"), false
	}
	idx, ok := buttonIndex(c.Index)
	if !ok {
		return nil, errInvalidParam(fmt.Sprintf("%s.index: %s is not a button position (0 to 9)", where, c.Index)), false
	}
	if seen[idx] {
		return nil, errInvalidParam(fmt.Sprintf("%s: button at index %d is given twice", where, idx)), false
	}
	seen[idx] = true
	var kind string
	switch c.SubType {
	case "quick_reply":
		kind = "QUICK_REPLY"
	case "url":
		kind = "URL"
	case "catalog":
		kind = "CATALOG"
	default:
		return nil, errInvalidParam(fmt.Sprintf("%s.sub_type: %q is not one of quick_reply, url, catalog", where, c.SubType)), false
	}
	if idx >= len(want.buttons) {
		return nil, errParamFormat(fmt.Sprintf("button at index %d: the template has %d buttons", idx, len(want.buttons))), false
	}
	b := want.buttons[idx]
	if !strings.EqualFold(b.Type, kind) {
		return nil, errParamFormat(fmt.Sprintf("button at index %d: Format mismatch, expected %s, received %s", idx, strings.ToUpper(b.Type), kind)), false
	}
	if len(c.Parameters) == 0 {
		return nil, errMissing(fmt.Sprintf("button at index %d: parameters are required (at least 1)", idx)), false
	}
	if len(c.Parameters) != 1 {
		return nil, errParamCount(fmt.Sprintf("button at index %d of type %s: number of parameters (%d) does not match the expected number of params (1)", idx, kind, len(c.Parameters))), false
	}
	p, err := decodeParam(c.Parameters[0])
	if err != nil || len(p.Image)+len(p.Document)+len(p.Video) > 0 {
		return nil, errInvalidParam(fmt.Sprintf("button at index %d: the parameter is not a button parameter (type payload or text)", idx)), false
	}
	switch kind {
	case "QUICK_REPLY":
		if p.Type != "payload" || p.Text != nil {
			return nil, errParamFormat(fmt.Sprintf("button at index %d of type QuickReply takes a parameter of type payload, not %q", idx, p.Type)), false
		}
		if p.Payload == nil {
			return nil, errMissing(fmt.Sprintf("button at index %d: a parameter of type payload requires a payload", idx)), false
		}
		if utf8.RuneCountInString(*p.Payload) > 128 {
			return nil, errInvalidParam(fmt.Sprintf("button at index %d: the payload is over 128 characters", idx)), false
		}
		return []string{*p.Payload}, graphErr{}, true
	case "URL":
		if whatsapp.CountParams(b.URL) == 0 {
			return nil, errParamCount(fmt.Sprintf("button at index %d of type Url: the template's URL is static and takes no parameter", idx)), false
		}
		if p.Type != "text" || p.Payload != nil {
			return nil, errParamFormat(fmt.Sprintf("button at index %d of type Url takes a parameter of type text, not %q", idx, p.Type)), false
		}
		if p.Text == nil || *p.Text == "" {
			return nil, errMissing(fmt.Sprintf("button at index %d: a parameter of type text requires a text", idx)), false
		}
		return []string{*p.Text}, graphErr{}, true
	default:
		return nil, errParamFormat(fmt.Sprintf("button at index %d: %s buttons are not supported by this sandbox", idx, kind)), false
	}
}
