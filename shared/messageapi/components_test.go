package messageapi_test

import (
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/templates"
)

// Every component's parameters are checked against the registered
// template before a template message is accepted (not only the body's
// count): a TEXT header's {{1}}, a media header's media, a URL button's
// {{1}} suffix, a quick reply's payload; errors name the component and its
// index. What passes is stored with its components for the sender.
func TestTemplateComponentsChecked(t *testing.T) {
	s, prov, ten := pipeline(t)
	reg := messaging.Of(s.Deps).TemplateRegistry()
	approve := func(name string, comps []templates.Component) {
		t.Helper()
		lang, cat := "en", "MARKETING"
		if _, err := reg.Create(t.Context(), ten.ID, ten.ChannelID, templates.Input{Name: &name, Language: &lang, Category: &cat, Components: &comps}); err != nil {
			t.Fatal(err)
		}
		if err := reg.SetStatus(t.Context(), ten.ID, ten.ChannelID, name, lang, templates.StatusApproved, ""); err != nil {
			t.Fatal(err)
		}
	}
	approve("shipping", []templates.Component{
		{Type: "HEADER", Format: "TEXT", Text: "Order {{1}}", Example: &templates.Example{HeaderText: []string{"A-1"}}},
		{Type: "BODY", Text: "Hi {{1}}, it shipped.", Example: &templates.Example{BodyText: [][]string{{"Ana"}}}},
		{Type: "BUTTONS", Buttons: []templates.Button{
			{Type: "URL", Text: "Track", URL: "https://example.com/track/{{1}}", Example: []string{"https://example.com/track/A-1"}},
			{Type: "QUICK_REPLY", Text: "Stop"},
			{Type: "PHONE_NUMBER", Text: "Call", PhoneNumber: "+15550001234"},
		}},
	})
	approve("photo", []templates.Component{{Type: "HEADER", Format: "IMAGE"}, {Type: "BODY", Text: "New arrivals."}})

	header := map[string]any{"type": "header", "parameters": []any{map[string]any{"type": "text", "text": "A-1"}}}
	url := map[string]any{"type": "button", "sub_type": "url", "index": "0", "parameters": []any{map[string]any{"type": "text", "text": "A-1"}}}
	quick := map[string]any{"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": []any{map[string]any{"type": "payload", "payload": "STOP"}}}
	msg := func(name string, params []string, comps ...any) map[string]any {
		tpl := map[string]any{"name": name, "language": "en"}
		if params != nil {
			tpl["params"] = params
		}
		if comps != nil {
			tpl["components"] = comps
		}
		return map[string]any{"to": "+923244077087", "type": "template", "template": tpl}
	}
	image := func(link string) map[string]any {
		return map[string]any{"type": "header", "parameters": []any{map[string]any{"type": "image", "image": map[string]any{"link": link}}}}
	}
	cases := []struct {
		name   string
		body   any
		status int
		want   string
	}{
		{"body only", msg("shipping", []string{"Ana"}), 400, "template.components: template \"shipping\" (en)'s TEXT header takes 1 parameter"},
		{"body count", msg("shipping", nil, header, url), 400, "template.params: template \"shipping\" (en) takes 1 body parameter, got 0"},
		{"header type", msg("shipping", []string{"Ana"}, map[string]any{"type": "header", "parameters": []any{map[string]any{"type": "image", "image": map[string]any{"link": "https://example.com/a.png"}}}}, url),
			400, "template.components[0].parameters[0].type: template \"shipping\" (en)'s header is TEXT"},
		{"header long", msg("shipping", []string{"Ana"}, map[string]any{"type": "header", "parameters": []any{map[string]any{"type": "text", "text": strings.Repeat("x", 61)}}}, url),
			400, "template.components[0].parameters[0].text"},
		{"url button missing", msg("shipping", []string{"Ana"}, header), 400, "template.components: template \"shipping\" (en)'s button 0 (URL"},
		{"url button no params", msg("shipping", []string{"Ana"}, header, map[string]any{"type": "button", "sub_type": "url", "index": "0", "parameters": []any{}}), 400, "template.components[1].parameters: is empty"},
		{"url button sub_type", msg("shipping", []string{"Ana"}, header, map[string]any{"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": []any{map[string]any{"type": "payload", "payload": "X"}}}),
			400, "template.components[1].sub_type: template \"shipping\" (en)'s button 0 is URL"},
		{"url button param type", msg("shipping", []string{"Ana"}, header, map[string]any{"type": "button", "sub_type": "url", "index": "0", "parameters": []any{map[string]any{"type": "payload", "payload": "X"}}}),
			400, "template.components[1].parameters[0].type: a url button takes parameters of type text"},
		{"phone button", msg("shipping", []string{"Ana"}, header, url, map[string]any{"type": "button", "sub_type": "url", "index": "2", "parameters": []any{map[string]any{"type": "text", "text": "x"}}}),
			400, "template.components[2]: template \"shipping\" (en)'s button 2 (PHONE_NUMBER) takes no parameter"},
		{"no such button", msg("shipping", []string{"Ana"}, header, url, map[string]any{"type": "button", "sub_type": "quick_reply", "index": "5", "parameters": []any{map[string]any{"type": "payload", "payload": "X"}}}),
			400, "template.components[2].index: template \"shipping\" (en) has 3 buttons: no button 5"},
		{"bad index", msg("shipping", []string{"Ana"}, header, map[string]any{"type": "button", "sub_type": "url", "index": "first", "parameters": []any{map[string]any{"type": "text", "text": "x"}}}),
			400, "template.components[1].index"},
		{"two headers", msg("shipping", []string{"Ana"}, header, header), 400, "template.components[1].type: a message has at most one header"},
		{"body twice", msg("shipping", []string{"Ana"}, header, url, map[string]any{"type": "body", "parameters": []any{map[string]any{"type": "text", "text": "Ana"}}}), 400, "template.components[2]: give the body's parameters once"},
		{"header on a template without one", msg("order_update", []string{"Ana"}, header), 400, "template.components[0]: template \"order_update\" (en) has no header"},
		{"media header missing", msg("photo", nil), 400, "template.components: template \"photo\" (en)'s IMAGE header takes 1 parameter"},
		{"media header as text", msg("photo", nil, header), 400, "template.components[0].parameters[0].type: template \"photo\" (en)'s header is IMAGE"},
		{"media header private link", msg("photo", nil, image("https://10.0.0.5/a.png")), 422, "template.components[0].parameters[0].image.link"},
		{"media header not http", msg("photo", nil, image("ftp://example.com/a.png")), 400, "template.components[0].parameters[0].image.link"},
	}
	for _, c := range cases {
		r := s.Do("POST", "/v1/messages", bearer(ten.Token), c.body)
		msg, _ := r.JSON["message"].(string)
		if r.Status != c.status || !strings.Contains(msg, c.want) || r.JSON["status"] != "error" {
			t.Errorf("%s: %d %s, want %d naming %q", c.name, r.Status, r.Body, c.status, c.want)
		}
	}
	// Filled: accepted, stored with its components, sent.
	id := send(t, s, ten.Token, msg("shipping", []string{"Ana"}, header, url, quick))
	m := waitStatus(t, s, ten.Token, id, "sent")
	comps, _ := stacktest.Path(m, "template.components").([]any)
	if len(comps) != 3 || stacktest.Path(comps[2], "parameters") == nil || stacktest.Path(comps[1], "sub_type") != "url" {
		t.Fatalf("stored message %v", m)
	}
	// The quick reply's payload may be left out; the body may come as a
	// component.
	send(t, s, ten.Token, msg("shipping", nil, header, url, map[string]any{"type": "body", "parameters": []any{map[string]any{"type": "text", "text": "Ana"}}}))
	send(t, s, ten.Token, msg("photo", nil, image("https://example.com/a.png")))
	if n := len(prov.Requests()); n > 3 {
		t.Fatalf("provider got %d requests, want at most 3", n)
	}
}
