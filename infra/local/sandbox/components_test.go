package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/whatsapp"
)

// componentTemplates have every header format and button kind the
// sandbox checks.
var componentTemplates = []sandbox.Template{
	{Name: "shipping", Language: "en", Category: "UTILITY", Components: []whatsapp.TemplateDefComponent{
		{Type: "HEADER", Format: "TEXT", Text: "Order {{1}}"},
		{Type: "BODY", Text: "Hi {{1}}, it shipped."},
		{Type: "BUTTONS", Buttons: []whatsapp.TemplateButton{
			{Type: "URL", Text: "Track", URL: "https://example.com/track/{{1}}"},
			{Type: "QUICK_REPLY", Text: "Stop"},
			{Type: "PHONE_NUMBER", Text: "Call", PhoneNumber: "+15550001234"},
			{Type: "URL", Text: "Shop", URL: "https://example.com/shop"},
		}},
	}},
	{Name: "photo", Language: "en", Category: "MARKETING", Components: []whatsapp.TemplateDefComponent{
		{Type: "HEADER", Format: "IMAGE"}, {Type: "BODY", Text: "New arrivals."}}},
	{Name: "invoice", Language: "en", Category: "UTILITY", Components: []whatsapp.TemplateDefComponent{
		{Type: "HEADER", Format: "DOCUMENT"}, {Type: "BODY", Text: "Your invoice."}}},
	{Name: "clip", Language: "en", Category: "MARKETING", Components: []whatsapp.TemplateDefComponent{
		{Type: "HEADER", Format: "VIDEO"}, {Type: "BODY", Text: "Watch this."}}},
	{Name: "plain_header", Language: "en", Category: "UTILITY", Components: []whatsapp.TemplateDefComponent{
		{Type: "HEADER", Format: "TEXT", Text: "Hello"}, {Type: "BODY", Text: "No parameters."}}},
}

// post sends a raw template message and returns the HTTP status and the
// Graph error code (0 when accepted).
func post(t *testing.T, f *fixture, template string) (int, int, string) {
	t.Helper()
	body := `{"messaging_product":"whatsapp","recipient_type":"individual","to":"` + contact + `","type":"template","template":` + template + `}`
	req, _ := http.NewRequest("POST", f.sb.URL+"/v23.0/"+pnid+"/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Error struct {
			Code      int `json:"code"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out.Error.Code, out.Error.ErrorData.Details
}

// TestTemplateComponents: header and button components are checked
// against the approved template as the Cloud API checks them, with its
// error codes; what passes is accepted and recorded.
func TestTemplateComponents(t *testing.T) {
	f := start(t, sandbox.Options{Templates: componentTemplates})
	const (
		header = `{"type":"header","parameters":[{"type":"text","text":"A-1"}]}`
		body   = `{"type":"body","parameters":[{"type":"text","text":"Ana"}]}`
		url    = `{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"A-1"}]}`
		quick  = `{"type":"button","sub_type":"quick_reply","index":"1","parameters":[{"type":"payload","payload":"STOP"}]}`
	)
	tpl := func(name string, comps ...string) string {
		return `{"name":"` + name + `","language":{"policy":"deterministic","code":"en"},"components":[` + strings.Join(comps, ",") + `]}`
	}
	media := func(kind, obj string) string {
		return `{"type":"header","parameters":[{"type":"` + kind + `","` + kind + `":` + obj + `}]}`
	}
	ok := []struct{ name, template string }{
		{"all components", tpl("shipping", header, body, url, quick)},
		{"quick reply left out", tpl("shipping", header, body, url)},
		{"index as a number", tpl("shipping", header, body, strings.Replace(url, `"index":"0"`, `"index":0`, 1))},
		{"image header by link", tpl("photo", media("image", `{"link":"https://example.com/a.png"}`))},
		{"image header by id", tpl("photo", media("image", `{"id":"1234567890"}`))},
		{"document header", tpl("invoice", media("document", `{"link":"https://example.com/i.pdf","filename":"i.pdf"}`))},
		{"video header", tpl("clip", media("video", `{"link":"http://example.com/v.mp4"}`))},
		{"static text header", tpl("plain_header")},
	}
	for _, c := range ok {
		if status, code, details := post(t, f, c.template); status != 200 {
			t.Errorf("%s: %d %d %s, want accepted", c.name, status, code, details)
		}
	}
	bad := []struct {
		name, template string
		code           int
		details        string
	}{
		{"text header missing", tpl("shipping", body, url), 132000, "header: number of localizable_params (0) does not match the expected number of params (1)"},
		{"text header, two parameters", tpl("shipping", `{"type":"header","parameters":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}`, body, url), 132000, "header: number of localizable_params (2)"},
		{"text header given media", tpl("shipping", media("image", `{"link":"https://example.com/a.png"}`), body, url), 132012, "header: Format mismatch, expected TEXT, received IMAGE"},
		{"header without parameters", tpl("shipping", `{"type":"header","parameters":[]}`, body, url), 131008, "header: parameters are required"},
		{"header on a static header", tpl("plain_header", header), 132000, "expected number of params (0)"},
		{"two headers", tpl("shipping", header, header, body, url), 100, "one header component"},
		{"image header missing", tpl("photo"), 132012, "header: Format mismatch, expected IMAGE, received UNKNOWN"},
		{"image header given text", tpl("photo", header), 132012, "expected IMAGE, received TEXT"},
		{"image header given video", tpl("photo", media("video", `{"link":"https://example.com/v.mp4"}`)), 132012, "expected IMAGE, received VIDEO"},
		{"image without its object", tpl("photo", `{"type":"header","parameters":[{"type":"image"}]}`), 131008, "requires the image object"},
		{"image with id and link", tpl("photo", media("image", `{"id":"1","link":"https://example.com/a.png"}`)), 100, "exactly one of id and link"},
		{"image link not http", tpl("photo", media("image", `{"link":"ftp://example.com/a.png"}`)), 100, "http(s) URL"},
		{"image with a caption", tpl("photo", media("image", `{"link":"https://example.com/a.png","caption":"c"}`)), 100, "takes no caption"},
		{"unknown parameter key", tpl("photo", `{"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/a.png"},"extra":1}]}`), 100, "not a parameter object"},
		{"video header given document", tpl("clip", media("document", `{"link":"https://example.com/i.pdf"}`)), 132012, "expected VIDEO, received DOCUMENT"},
		{"url button missing", tpl("shipping", header, body), 132000, "button at index 0 of type Url requires a parameter"},
		{"button without sub_type", tpl("shipping", header, body, `{"type":"button","index":"0","parameters":[{"type":"text","text":"x"}]}`), 131008, "sub_type is required"},
		{"button without index", tpl("shipping", header, body, `{"type":"button","sub_type":"url","parameters":[{"type":"text","text":"x"}]}`), 131008, "index is required"},
		{"button index not a position", tpl("shipping", header, body, strings.Replace(url, `"index":"0"`, `"index":"first"`, 1)), 100, "is not a button position"},
		{"button sub_type unknown", tpl("shipping", header, body, url, `{"type":"button","sub_type":"call","index":"2","parameters":[{"type":"text","text":"x"}]}`), 100, "is not one of quick_reply, url, catalog"},
		{"button index beyond the template", tpl("shipping", header, body, url, `{"type":"button","sub_type":"quick_reply","index":"7","parameters":[{"type":"payload","payload":"x"}]}`), 132012, "button at index 7: the template has 4 buttons"},
		{"url sub_type on a quick reply", tpl("shipping", header, body, url, `{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"x"}]}`), 132012, "button at index 1: Format mismatch, expected QUICK_REPLY, received URL"},
		{"phone button given a parameter", tpl("shipping", header, body, url, `{"type":"button","sub_type":"quick_reply","index":"2","parameters":[{"type":"payload","payload":"x"}]}`), 132012, "expected PHONE_NUMBER, received QUICK_REPLY"},
		{"static url given a suffix", tpl("shipping", header, body, url, `{"type":"button","sub_type":"url","index":"3","parameters":[{"type":"text","text":"x"}]}`), 132000, "static"},
		{"url button given a payload", tpl("shipping", header, body, `{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"payload","payload":"x"}]}`), 132012, "takes a parameter of type text"},
		{"url button empty text", tpl("shipping", header, body, `{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":""}]}`), 131008, "requires a text"},
		{"quick reply given text", tpl("shipping", header, body, url, `{"type":"button","sub_type":"quick_reply","index":"1","parameters":[{"type":"text","text":"x"}]}`), 132012, "takes a parameter of type payload"},
		{"quick reply without payload", tpl("shipping", header, body, url, `{"type":"button","sub_type":"quick_reply","index":"1","parameters":[{"type":"payload"}]}`), 131008, "requires a payload"},
		{"button without parameters", tpl("shipping", header, body, url, `{"type":"button","sub_type":"quick_reply","index":"1","parameters":[]}`), 131008, "parameters are required"},
		{"button twice", tpl("shipping", header, body, url, url), 100, "button at index 0 is given twice"},
		{"unknown component", tpl("shipping", header, body, url, `{"type":"footer","parameters":[]}`), 100, `"footer" is not one of header, body, button`},
		{"body count still checked", tpl("shipping", header, url), 132000, "body: number of localizable_params (0)"},
	}
	for _, c := range bad {
		status, code, details := post(t, f, c.template)
		if status != 400 || code != c.code || !strings.Contains(details, c.details) {
			t.Errorf("%s: %d %d %q, want 400 %d naming %q", c.name, status, code, details, c.code, c.details)
		}
	}
	if n := len(f.sb.Messages()); n != len(ok) {
		t.Fatalf("%d messages recorded, want the %d accepted", n, len(ok))
	}
	// The client's own request with components goes through, and the page
	// shows the header's and buttons' values.
	m := messages.Message{ID: "msg_comp", Type: messages.TypeTemplate, To: "+" + contact, Template: &messages.Template{Name: "shipping", Language: "en", Params: []string{"Ana"},
		Components: []messages.SendComponent{
			{Type: "header", Parameters: []messages.SendParameter{{Type: "text", Text: "A-1"}}},
			{Type: "button", SubType: "url", Index: "0", Parameters: []messages.SendParameter{{Type: "text", Text: "A-1"}}},
			{Type: "button", SubType: "quick_reply", Index: "1", Parameters: []messages.SendParameter{{Type: "payload", Payload: "STOP"}}},
		}}}
	if _, err := f.client.Send(context.Background(), f.cred, m); err != nil {
		t.Fatal(err)
	}
	recs := f.sb.Messages()
	if got := recs[len(recs)-1].Summary; got != "shipping/en A-1 | Ana | A-1 | STOP" {
		t.Fatalf("summary %q", got)
	}
}
