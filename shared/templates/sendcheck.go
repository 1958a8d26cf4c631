package templates

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/messages"
)

// CheckSend refuses a send whose parameters do not fill the template: the
// body's (params, or a body component) as many text parameters as its
// {{n}}; a TEXT header's {{1}} one text parameter, a media header one
// parameter of its format (image, video, document) with a link, a header
// without parameters none; each URL button whose link ends in {{1}} (and
// an OTP button) one text parameter, a QUICK_REPLY button at most one
// payload, any other button none; and no component for a part the
// template does not have. prefix starts the fields named in errors
// ("template." for POST /v1/messages, "" for seed 002's sendTemplate);
// errors are apperr invalid errors naming the component and its index.
// The components' shapes are checked before (messages.SendRequest).
func (t Template) CheckSend(prefix string, params []string, comps []messages.SendComponent) error {
	var header, body, buttons *Component
	for i := range t.Components {
		switch c := &t.Components[i]; c.Type {
		case "HEADER":
			header = c
		case "BODY":
			body = c
		case "BUTTONS":
			buttons = c
		}
	}
	name := fmt.Sprintf("template %q (%s)", t.Name, t.Language)
	given := map[string]int{} // "header", "body", "button<i>" → index in comps
	for i, c := range comps {
		k := c.Type
		if k == "button" {
			k += c.Index
		}
		given[k] = i
	}
	field := func(k string) string {
		if i, ok := given[k]; ok {
			return messages.ComponentField(prefix, i)
		}
		return prefix + "components"
	}
	params1 := func(k string) []messages.SendParameter {
		if i, ok := given[k]; ok {
			return comps[i].Parameters
		}
		return nil
	}

	// The body.
	want := 0
	if body != nil {
		want, _ = paramCount(body.Text)
	}
	got, bodyField := len(params), prefix+"params"
	if _, ok := given["body"]; ok {
		got, bodyField = len(params1("body")), field("body")+".parameters"
	}
	if got != want {
		return apperr.Invalidf(bodyField, "%s takes %d body parameter%s, got %d", name, want, plural(want), got)
	}
	for i, p := range params {
		if strings.TrimSpace(p) == "" {
			return apperr.Invalidf(fmt.Sprintf("%sparams[%d]", prefix, i), "must not be empty")
		}
	}

	// The header.
	hp := params1("header")
	switch {
	case header == nil:
		if _, ok := given["header"]; ok {
			return apperr.Invalidf(field("header"), "%s has no header to fill", name)
		}
	case header.Format == "TEXT":
		n, _ := paramCount(header.Text)
		if len(hp) != n {
			if n == 0 {
				return apperr.Invalidf(field("header"), "%s's header takes no parameter", name)
			}
			return apperr.Invalidf(field("header"), "%s's TEXT header takes %d parameter ({{1}}): give a header component with one text parameter, got %d", name, n, len(hp))
		}
		for j, p := range hp {
			if p.Type != "text" {
				return apperr.Invalidf(fmt.Sprintf("%s.parameters[%d].type", field("header"), j), "%s's header is TEXT: its parameter is of type text, not %s", name, p.Type)
			}
			if n := len([]rune(p.Text)); n > MaxHeaderChars {
				return apperr.Invalidf(fmt.Sprintf("%s.parameters[%d].text", field("header"), j), "a TEXT header is at most %d characters; its parameter alone is %d", MaxHeaderChars, n)
			}
		}
	case header.Format == "IMAGE" || header.Format == "VIDEO" || header.Format == "DOCUMENT":
		typ := strings.ToLower(header.Format)
		if len(hp) != 1 {
			return apperr.Invalidf(field("header"), "%s's %s header takes 1 parameter: give a header component with one %s parameter ({\"type\":%q,%q:{\"link\":\"https://…\"}}), got %d",
				name, header.Format, typ, typ, typ, len(hp))
		}
		if hp[0].Type != typ {
			return apperr.Invalidf(field("header")+".parameters[0].type", "%s's header is %s: its parameter is of type %s, not %s", name, header.Format, typ, hp[0].Type)
		}
	default: // LOCATION
		return apperr.Invalidf(field("header"), "%s has a %s header, which cannot be sent through this API", name, header.Format)
	}

	// The buttons.
	var bs []Button
	if buttons != nil {
		bs = buttons.Buttons
	}
	for k, i := range given {
		if !strings.HasPrefix(k, "button") {
			continue
		}
		if n, _ := strconv.Atoi(comps[i].Index); n >= len(bs) {
			return apperr.Invalidf(messages.ComponentField(prefix, i)+".index", "%s has %d button%s: no button %s", name, len(bs), plural(len(bs)), comps[i].Index)
		}
	}
	for n, b := range bs {
		k := "button" + strconv.Itoa(n)
		c, has := given[k]
		f := field(k)
		sub, need, max := "", 0, 0
		switch b.Type {
		case "URL":
			if m, _ := paramCount(b.URL); m > 0 {
				sub, need, max = "url", 1, 1
			}
		case "OTP":
			sub, need, max = "url", 1, 1
		case "QUICK_REPLY":
			sub, max = "quick_reply", 1
		case "COPY_CODE":
			return apperr.Invalidf(f, "%s has a COPY_CODE button (button %d), which cannot be sent through this API", name, n)
		}
		got := 0
		if has {
			got = len(comps[c].Parameters)
			if sub == "" {
				return apperr.Invalidf(f, "%s's button %d (%s) takes no parameter", name, n, b.Type)
			}
			if comps[c].SubType != sub {
				return apperr.Invalidf(f+".sub_type", "%s's button %d is %s: its sub_type is %s, not %s", name, n, b.Type, sub, comps[c].SubType)
			}
		}
		if got < need || got > max {
			if need == 1 && !has {
				return apperr.Invalidf(f, "%s's button %d (%s %s) takes 1 parameter (the URL's {{1}}): give a button component with sub_type %s, index %q and one text parameter",
					name, n, b.Type, b.URL, sub, strconv.Itoa(n))
			}
			return apperr.Invalidf(f+".parameters", "%s's button %d (%s) takes %d parameter, got %d", name, n, b.Type, max, got)
		}
	}
	return nil
}

// paramCount is how many {{n}} parameters a text takes (0 if malformed:
// the template was checked when it was made).
func paramCount(text string) (int, error) { return params(text) }

// ResolveSend is Lookup and CheckSend in one, for a template message: what
// POST /v1/messages checks ("template." fields).
func (s *Service) ResolveSend(ctx context.Context, tenantID, channelID string, m messages.Template) (Template, error) {
	t, err := s.Lookup(ctx, tenantID, channelID, m.Name, m.Namespace, m.Language)
	if err != nil {
		return Template{}, err
	}
	return t, t.CheckSend("template.", m.Params, m.Components)
}
