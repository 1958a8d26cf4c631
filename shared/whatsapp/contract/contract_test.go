package contract_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/whatsapp"
)

const schemaURL = "urn:chatbackend:whatsapp-cloudapi"

// schemas compiles the hand-written definitions.
func schemas(t *testing.T) func(def string) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile("testdata/cloudapi.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		t.Fatal(err)
	}
	cache := map[string]*jsonschema.Schema{}
	return func(def string) *jsonschema.Schema {
		if s, ok := cache[def]; ok {
			return s
		}
		s, err := c.Compile(schemaURL + "#/$defs/" + def)
		if err != nil {
			t.Fatalf("compile %s: %v", def, err)
		}
		cache[def] = s
		return s
	}
}

func validate(t *testing.T, s *jsonschema.Schema, what string, body []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: not JSON: %v: %s", what, err, body)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("%s does not match the Cloud API's shape: %v\n%s", what, err, body)
	}
}

// exchange is one call through the recorder.
type exchange struct {
	method, path string
	req          []byte
	status       int
	resp         []byte
}

// recorder sits between the client and the sandbox and keeps both sides.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	log  []exchange
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rw := httptest.NewRecorder()
	rc.next.ServeHTTP(rw, r)
	rc.mu.Lock()
	rc.log = append(rc.log, exchange{r.Method, r.URL.Path, body, rw.Code, rw.Body.Bytes()})
	rc.mu.Unlock()
	for k, v := range rw.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rw.Code)
	_, _ = w.Write(rw.Body.Bytes())
}

type hooks struct {
	mu   sync.Mutex
	got  [][]byte
	sigs int
}

func (h *hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if whatsapp.VerifySignature("contract-secret", r.Header.Get(whatsapp.SignatureHeader), b) {
		h.sigs++
	}
	h.got = append(h.got, b)
}

func (h *hooks) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

const (
	pnid    = "106540352242922"
	waba    = "102290129340398"
	contact = "16505551234"
)

// Every request the client makes and every answer and webhook of the
// sandbox, for each kind of send, each error and the profile and template
// calls, matches the Cloud API's shapes.
func TestClientAndSandboxMatchTheCloudAPI(t *testing.T) {
	schema := schemas(t)
	hk := &hooks{}
	hookSrv := httptest.NewServer(hk)
	defer hookSrv.Close()
	sb, err := sandbox.New(sandbox.Options{AppSecret: "contract-secret", WebhookURL: hookSrv.URL, Tokens: []string{"EAAGcontracttoken"},
		WABAID: waba, StatusDelay: time.Millisecond, WebhookRetries: []time.Duration{}, AsyncWindowErrors: false,
		Templates: []sandbox.Template{{Name: "order_update", Language: "en_US", Category: "UTILITY",
			Components: []whatsapp.TemplateDefComponent{{Type: "BODY", Text: "Hi {{1}}, order {{2}} shipped."}}},
			{Name: "shipping", Language: "en_US", Category: "UTILITY", Components: []whatsapp.TemplateDefComponent{
				{Type: "HEADER", Format: "TEXT", Text: "Order {{1}}"}, {Type: "BODY", Text: "Hi {{1}}"},
				{Type: "BUTTONS", Buttons: []whatsapp.TemplateButton{{Type: "URL", Text: "Track", URL: "https://example.com/t/{{1}}"}, {Type: "QUICK_REPLY", Text: "Stop"}}}}},
			{Name: "photo", Language: "en_US", Category: "MARKETING", Components: []whatsapp.TemplateDefComponent{
				{Type: "HEADER", Format: "IMAGE"}, {Type: "BODY", Text: "New arrivals."}}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	rec := &recorder{next: sb}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, _ := whatsapp.New(whatsapp.Config{BaseURL: srv.URL})
	cr := whatsapp.Credentials{AccessToken: "EAAGcontracttoken", PhoneNumberID: pnid, WABAID: waba}
	ctx := context.Background()

	// Before the contact writes: 131047; then it writes (inbound webhook).
	_, _ = c.Send(ctx, cr, messages.Message{ID: "m0", Type: messages.TypeText, To: "+" + contact, Text: &messages.Text{Body: "too early"}})
	sb.Inbound(pnid, contact, "Sheena Nelson", "Does it come in another color?")
	sb.SetUndeliverable("15550000001", true)
	sb.OpenWindow("15550000001", time.Now())

	to := "+" + contact
	sends := []messages.Message{
		{ID: "m1", Type: messages.TypeText, To: to, Text: &messages.Text{Body: "Yes: https://example.com/colors", PreviewURL: true}},
		{ID: "m2", Type: messages.TypeTemplate, To: to, Template: &messages.Template{Name: "order_update", Language: "en_US", Params: []string{"Sheena", "A-42"}}},
		{ID: "m3", Type: messages.TypeMedia, To: to, Media: &messages.Media{Kind: messages.MediaImage, Link: "https://example.com/red.jpg", Caption: "red"}},
		{ID: "m4", Type: messages.TypeMedia, To: to, Media: &messages.Media{Kind: messages.MediaDocument, Link: "https://example.com/c.pdf", Caption: "catalog", Filename: "c.pdf"}},
		{ID: "m5", Type: messages.TypeMedia, To: to, Media: &messages.Media{Kind: messages.MediaAudio, Link: "https://example.com/a.ogg"}},
		{ID: "m6", Type: messages.TypeMedia, To: to, Media: &messages.Media{Kind: messages.MediaVideo, Link: "https://example.com/v.mp4", Caption: "clip"}},
		{ID: "m7", Type: messages.TypeText, To: "+15550000001", Text: &messages.Text{Body: "undeliverable"}},
		// Header and button components.
		{ID: "m8", Type: messages.TypeTemplate, To: to, Template: &messages.Template{Name: "shipping", Language: "en_US", Params: []string{"Sheena"}, Components: []messages.SendComponent{
			{Type: "header", Parameters: []messages.SendParameter{{Type: "text", Text: "A-42"}}},
			{Type: "button", SubType: "url", Index: "0", Parameters: []messages.SendParameter{{Type: "text", Text: "A-42"}}},
			{Type: "button", SubType: "quick_reply", Index: "1", Parameters: []messages.SendParameter{{Type: "payload", Payload: "STOP"}}}}}},
		{ID: "m9", Type: messages.TypeTemplate, To: to, Template: &messages.Template{Name: "photo", Language: "en_US", Components: []messages.SendComponent{
			{Type: "header", Parameters: []messages.SendParameter{{Type: "image", Image: &messages.SendMedia{Link: "https://example.com/new.jpg"}}}}}}},
		// Errors the sandbox gives: unknown template, parameter count, a
		// component that does not fit the template.
		{ID: "e3", Type: messages.TypeTemplate, To: to, Template: &messages.Template{Name: "photo", Language: "en_US", Components: []messages.SendComponent{
			{Type: "header", Parameters: []messages.SendParameter{{Type: "video", Video: &messages.SendMedia{Link: "https://example.com/new.mp4"}}}}}}},
		{ID: "e4", Type: messages.TypeTemplate, To: to, Template: &messages.Template{Name: "shipping", Language: "en_US", Params: []string{"Sheena"}, Components: []messages.SendComponent{
			{Type: "header", Parameters: []messages.SendParameter{{Type: "text", Text: "A-42"}}}}}},
		{ID: "e1", Type: messages.TypeTemplate, To: to, Template: &messages.Template{Name: "nope", Language: "en_US"}},
		{ID: "e2", Type: messages.TypeTemplate, To: to, Template: &messages.Template{Name: "order_update", Language: "en_US", Params: []string{"x"}}},
	}
	for _, m := range sends {
		_, _ = c.Send(ctx, cr, m)
	}
	// A bad token, a rate limit, a 500 fault, malformed input.
	_, _ = c.Send(ctx, whatsapp.Credentials{AccessToken: "EAAGwrongtoken", PhoneNumberID: pnid}, sends[0])
	_ = sb.SetFaults(sandbox.Faults{Fail429Pct: 100})
	_, _ = c.Send(ctx, cr, sends[0])
	_ = sb.SetFaults(sandbox.Faults{Fail500Pct: 100})
	_, _ = c.Send(ctx, cr, sends[0])
	_ = sb.SetFaults(sandbox.Faults{})
	_, _ = c.SendRequest(ctx, cr, whatsapp.SendRequest{MessagingProduct: "whatsapp", To: contact, Type: "text", Text: &whatsapp.TextObject{Body: ""}})

	// Profile and templates.
	_ = c.UpdateProfile(ctx, cr, whatsapp.Profile{About: "Butterflies", Address: "1 Hacker Way", Description: "We sell butterflies.",
		Email: "hi@example.com", Vertical: "RETAIL", Websites: []string{"https://example.com", "https://example.org/x"}})
	_, _ = c.GetProfile(ctx, cr)
	_, _ = c.CreateTemplate(ctx, cr, whatsapp.TemplateDef{Name: "welcome", Language: "en", Category: "MARKETING",
		Components: []whatsapp.TemplateDefComponent{{Type: "HEADER", Format: "TEXT", Text: "Welcome"},
			{Type: "BODY", Text: "Hi {{1}}", Example: &whatsapp.TemplateExample{BodyText: [][]string{{"Sheena"}}}},
			{Type: "FOOTER", Text: "Reply STOP to stop"},
			{Type: "BUTTONS", Buttons: []whatsapp.TemplateButton{{Type: "QUICK_REPLY", Text: "Stop promotions"}, {Type: "URL", Text: "Shop", URL: "https://example.com"}}}}})
	_, _ = c.ListTemplates(ctx, cr, "", "", 1)

	seen := map[string]int{}
	for _, x := range rec.log {
		what := x.method + " " + x.path
		edge := x.path[strings.LastIndexByte(x.path, '/')+1:]
		if x.status != 200 {
			validate(t, schema("GraphError"), what+" error answer", x.resp)
			var e struct {
				Error struct{ Code int } `json:"error"`
			}
			_ = json.Unmarshal(x.resp, &e)
			seen["error "+itoa(e.Error.Code)]++
		}
		switch {
		case edge == "messages":
			if len(x.req) > 0 && !bytes.Contains(x.req, []byte(`"body":""`)) {
				validate(t, schema("SendRequest"), what+" request", x.req)
			}
			if x.status == 200 {
				validate(t, schema("SendResponse"), what+" answer", x.resp)
				seen["send"]++
				if bytes.Contains(x.req, []byte(`"type":"header"`)) {
					seen["components"]++
				}
			}
		case edge == "whatsapp_business_profile" && x.method == "POST":
			validate(t, schema("ProfileUpdateRequest"), what+" request", x.req)
			validate(t, schema("SuccessResponse"), what+" answer", x.resp)
			seen["profile update"]++
		case edge == "whatsapp_business_profile":
			validate(t, schema("ProfileGetResponse"), what+" answer", x.resp)
			seen["profile get"]++
		case edge == "message_templates" && x.method == "POST":
			validate(t, schema("TemplateCreateRequest"), what+" request", x.req)
			validate(t, schema("TemplateCreateResponse"), what+" answer", x.resp)
			seen["template create"]++
		case edge == "message_templates":
			validate(t, schema("TemplateListResponse"), what+" answer", x.resp)
			seen["template list"]++
		}
	}
	for _, want := range []string{"send", "profile update", "profile get", "template create", "template list",
		"error 131047", "error 132001", "error 132000", "error 132012", "error 190", "error 100", "error 130429", "error 131000"} {
		if seen[want] == 0 {
			t.Errorf("no %s went through the recorder: %v", want, seen)
		}
	}
	if seen["send"] != 9 {
		t.Errorf("%d sends accepted, want 9", seen["send"])
	}
	if seen["components"] != 2 {
		t.Errorf("%d accepted sends with header or button components, want 2", seen["components"])
	}

	// Webhooks: 8 messages × 3 statuses, 1 failed, 1 inbound, 1 template.
	deadline := time.Now().Add(10 * time.Second)
	for hk.count() < 27 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	sb.Wait()
	hk.mu.Lock()
	defer hk.mu.Unlock()
	if len(hk.got) != 27 || hk.sigs != 27 {
		t.Fatalf("%d webhooks, %d with a valid signature, want 27", len(hk.got), hk.sigs)
	}
	kinds := map[string]int{}
	for _, b := range hk.got {
		validate(t, schema("WebhookPayload"), "webhook", b)
		var p whatsapp.WebhookPayload
		_ = json.Unmarshal(b, &p)
		ch := p.Entry[0].Changes[0]
		var v whatsapp.MessagesValue
		_ = json.Unmarshal(ch.Value, &v)
		switch {
		case ch.Field == "message_template_status_update":
			kinds["template"]++
		case len(v.Messages) > 0:
			kinds["inbound"]++
		default:
			kinds[v.Statuses[0].Status]++
		}
	}
	if kinds["sent"] != 8 || kinds["delivered"] != 8 || kinds["read"] != 8 || kinds["failed"] != 1 || kinds["inbound"] != 1 || kinds["template"] != 1 {
		t.Fatalf("webhooks by kind: %v", kinds)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// The schemas refuse what the Cloud API would: they are not vacuous.
func TestSchemasRefuseWrongShapes(t *testing.T) {
	schema := schemas(t)
	bad := map[string][]string{
		"SendRequest": {
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"template","template":{"name":"t","language":{"code":"en"}}}`,
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text"}`,
			`{"recipient_type":"individual","to":"16505551234","type":"text","text":{"body":"x"}}`,
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"image","image":{"caption":"no link"}}`,
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"audio","audio":{"link":"https://x.io/a","caption":"c"}}`,
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text","text":{"body":"x"},"image":{"link":"https://x.io/a"}}`,
		},
		"TemplateObject": {
			// A header without parameters, with a caption, with a payload.
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"header","parameters":[]}]}`,
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://x.io/a.png","caption":"c"}}]}]}`,
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"header","parameters":[{"type":"payload","payload":"x"}]}]}`,
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"header","parameters":[{"type":"image","video":{"link":"https://x.io/a.mp4"}}]}]}`,
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"header","sub_type":"url","parameters":[{"type":"text","text":"x"}]}]}`,
			// A button without sub_type, index or parameters; a bad index;
			// a quick reply with text; a URL button with a payload; two parameters.
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"button","index":"0","parameters":[{"type":"payload","payload":"x"}]}]}`,
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"button","sub_type":"quick_reply","parameters":[{"type":"payload","payload":"x"}]}]}`,
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"button","sub_type":"quick_reply","index":"0"}]}`,
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"button","sub_type":"quick_reply","index":"10","parameters":[{"type":"payload","payload":"x"}]}]}`,
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"text","text":"x"}]}]}`,
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"payload","payload":"x"}]}]}`,
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}`,
			// A body with a media parameter; an unknown component.
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"body","parameters":[{"type":"image","image":{"link":"https://x.io/a.png"}}]}]}`,
			`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"footer"}]}`,
		},
		"GraphError":   {`{"error":{"message":"x","type":"OAuthException"}}`, `{"message":"x"}`},
		"SendResponse": {`{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"abc"}]}`},
		"WebhookPayload": {
			`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"1"},"statuses":[{"id":"wamid.x","status":"sent","timestamp":"1"}]}}]}]}`,
			`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"1"},"statuses":[{"id":"wamid.x","status":"failed","timestamp":"1","recipient_id":"1"}]}}]}]}`,
			`{"object":"page","entry":[]}`,
		},
		"ProfileUpdateRequest": {`{"messaging_product":"whatsapp","vertical":"SHOES"}`, `{"about":"x"}`, `{"messaging_product":"whatsapp","websites":["https://a","https://b","https://c"]}`},
	}
	good := []string{
		`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"header","parameters":[{"type":"text","text":"A-1"}]},{"type":"body","parameters":[{"type":"text","text":"Ana"}]},{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"A-1"}]},{"type":"button","sub_type":"quick_reply","index":"1","parameters":[{"type":"payload","payload":"STOP"}]}]}`,
		`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"header","parameters":[{"type":"document","document":{"link":"https://x.io/a.pdf","filename":"a.pdf"}}]}]}`,
		`{"name":"t","language":{"policy":"deterministic","code":"en"},"components":[{"type":"header","parameters":[{"type":"video","video":{"id":"123"}}]}]}`,
	}
	for _, d := range good {
		v, _ := jsonschema.UnmarshalJSON(strings.NewReader(d))
		if err := schema("TemplateObject").Validate(v); err != nil {
			t.Errorf("TemplateObject refused %s: %v", d, err)
		}
	}
	for def, docs := range bad {
		s := schema(def)
		for _, d := range docs {
			v, _ := jsonschema.UnmarshalJSON(strings.NewReader(d))
			if s.Validate(v) == nil {
				t.Errorf("%s accepted %s", def, d)
			}
		}
	}
}
