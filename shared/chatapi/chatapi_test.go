package chatapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/limits"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/templates"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// The seed's own example bodies, byte for byte as its curl, PHP
// (json_encode) and Node (JSON.stringify) examples send them.
const (
	seedSendTemplateCurl = `{"phone": "79995253422","template": "template_name", "namespace" : "namespace_of_template", "language": { "code": "en", "policy": "deterministic"}}`
	seedSendTemplatePHP  = `{"phone":"79995253422","template":"template_name","namespace":"namespace_of_template","language":{"code":"en","policy":"deterministic"}}`
	seedMessageCurl      = `{"phone": "79995253422","body": "Hello, Andrew!"}`
	seedMessagePHP       = `{"phone":"79995253422","body":"Hello, Andrew!"}`
	seedProfilePHP       = `{"address":"79995253422","description":"Best Company","email":"","vertical":""}`
)

// fakePorts are the handlers' ports in memory.
type fakePorts struct {
	mu        sync.Mutex
	now       time.Time
	tpl       *templates.Service
	sent      []messages.Message
	keys      []string
	inbound   map[string]time.Time // by phone
	instance  string
	profile   Profile
	conns     *memConns
	senderErr error
}

func newFake(t *testing.T) *fakePorts {
	f := &fakePorts{now: time.Unix(1_750_000_000, 0), inbound: map[string]time.Time{}, instance: "777", conns: &memConns{}}
	f.tpl = &templates.Service{Store: &memTemplates{}, Submitter: templates.LocalOnly{},
		NewID: func() string { return tenancy.NewID("tpl") }, Now: func() time.Time { return f.now }}
	seed := func(name, lang, text string, status templates.Status) {
		cat, ns := "MARKETING", "namespace_of_template"
		comps := []templates.Component{{Type: "BODY", Text: text}}
		if _, err := f.tpl.Create(t.Context(), "ten_1", "ch_wa", templates.Input{Name: &name, Namespace: &ns, Language: &lang, Category: &cat, Components: &comps}); err != nil {
			t.Fatal(err)
		}
		if err := f.tpl.SetStatus(t.Context(), "ten_1", "ch_wa", name, lang, status, ""); err != nil {
			t.Fatal(err)
		}
	}
	seed("template_name", "en", "Hello from Acme!", templates.StatusApproved)
	seed("with_params", "en", "Hi {{1}}, your code is {{2}}", templates.StatusApproved)
	seed("waiting", "en", "Soon", templates.StatusPending)
	return f
}

func (f *fakePorts) ChatTemplates() TemplateLookup { return f.tpl }
func (f *fakePorts) ChatSender() Sender            { return f }
func (f *fakePorts) ChatWindow() Window            { return f }
func (f *fakePorts) ChatInstances() Instances      { return f }
func (f *fakePorts) ChatProfiles() Profiles        { return f }
func (f *fakePorts) ConnectionStore() connections.Store {
	return f.conns
}
func (f *fakePorts) Setting(k string) string {
	if k == "ALLOW_LOOPBACK_TARGETS" {
		return "true"
	}
	return ""
}
func (f *fakePorts) Clock() func() time.Time         { return func() time.Time { return f.now } }
func (f *fakePorts) TenantLimits() limits.Limits     { return limits.Defaults() }
func (f *fakePorts) Phone() contacts.PhoneNormalizer { return phone.Normalize }

func (f *fakePorts) Enqueue(_ context.Context, m messages.Message, key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.senderErr != nil {
		return "", f.senderErr
	}
	f.sent = append(f.sent, m)
	f.keys = append(f.keys, key)
	return "msg_" + strings.Repeat("a", len(f.sent)), nil
}

func (f *fakePorts) LastInbound(_ context.Context, tenantID, channelID, phone string) (time.Time, error) {
	if tenantID != "ten_1" || channelID != "ch_wa" {
		return time.Time{}, nil
	}
	return f.inbound[phone], nil
}

func (f *fakePorts) InstanceOf(_ context.Context, tenantID, channelID string) (string, error) {
	if tenantID == "ten_1" && channelID == "ch_wa" {
		return f.instance, nil
	}
	return "", nil
}

func (f *fakePorts) GetProfile(context.Context, string, string) (Profile, error) {
	return f.profile, nil
}

func (f *fakePorts) SetProfile(_ context.Context, _, _ string, u Profile) (Profile, error) {
	if u.About != "" {
		f.profile.About = u.About
	}
	if u.Address != "" {
		f.profile.Address = u.Address
	}
	if u.Description != "" {
		f.profile.Description = u.Description
	}
	if u.Email != "" {
		f.profile.Email = u.Email
	}
	if u.Vertical != "" {
		f.profile.Vertical = u.Vertical
	}
	if len(u.Websites) > 0 {
		f.profile.Websites = u.Websites
	}
	return f.profile, nil
}

var whatsapp = httpapi.Principal{Kind: string(tenancy.ChannelToken), TenantID: "ten_1", ChannelID: "ch_wa", ChannelKind: tenancy.WhatsApp, CredentialID: "tok_1", DefaultCountry: "PK"}

type result struct {
	status int
	body   string
	json   map[string]any
}

func do(t *testing.T, h http.Handler, p httpapi.Principal, instance, method, body string) result {
	t.Helper()
	req := httptest.NewRequest(method, "/x?token=secret", strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	ctx := httpapi.WithPrincipal(req.Context(), p)
	if instance != "" {
		ctx = httpapi.WithPathParams(ctx, map[string]string{InstanceParam: instance})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(ctx))
	r := result{status: rec.Code, body: rec.Body.String()}
	_ = json.Unmarshal(rec.Body.Bytes(), &r.json)
	return r
}

func wantError(t *testing.T, r result, status int, msg string) {
	t.Helper()
	if r.status != status || r.json["status"] != "error" || r.json["message"] != msg {
		t.Fatalf("got %d %s, want %d %q", r.status, r.body, status, msg)
	}
}

// TestSeedSendTemplate: the seed's own sendTemplate bodies, on both routes,
// queue a template message to the number and answer as chat-api did.
func TestSeedSendTemplate(t *testing.T) {
	f := newFake(t)
	for i, c := range []struct {
		h        http.Handler
		instance string
		body     string
	}{
		{ChatapiInstanceSendTemplate(f), "instance777", seedSendTemplateCurl},
		{ChatapiSendTemplate(f), "", seedSendTemplateCurl},
		{ChatapiInstanceSendTemplate(f), "instance777", seedSendTemplatePHP},
		{ChatapiSendTemplate(f), "", seedSendTemplatePHP},
	} {
		r := do(t, c.h, whatsapp, c.instance, "POST", c.body)
		if r.status != 200 || r.json["sent"] != true || r.json["id"] != "msg_"+strings.Repeat("a", i+1) ||
			r.json["message"] != "Queued for sending to 79995253422@c.us" {
			t.Fatalf("case %d: %d %s", i, r.status, r.body)
		}
	}
	m := f.sent[0]
	if m.Type != messages.TypeTemplate || m.To != "+79995253422" || m.Direction != messages.Outbound || m.Status != messages.StatusQueued ||
		m.Template == nil || m.Template.Name != "template_name" || m.Template.Namespace != "namespace_of_template" || m.Template.Language != "en" ||
		m.TenantID != "ten_1" || m.ChannelID != "ch_wa" || m.CreatedAt != f.now.UnixMilli() {
		t.Fatalf("queued %+v %+v", m, m.Template)
	}
}

// TestSendTemplateRefusals: what a send refuses, each with its message;
// nothing is queued.
func TestSendTemplateRefusals(t *testing.T) {
	f := newFake(t)
	h := ChatapiSendTemplate(f)
	for _, c := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{"phone":"79995253422","template":"nope","language":{"code":"en"}}`, 404, `Template "nope" in language "en" not found on this channel.`},
		{`{"phone":"79995253422","template":"template_name","language":{"code":"es"}}`, 404, `Template "template_name" in language "es" not found on this channel.`},
		{`{"phone":"79995253422","template":"template_name","namespace":"other_ns","language":{"code":"en"}}`, 404,
			`Template "template_name" in language "en" not found in namespace "other_ns" on this channel (its namespace is "namespace_of_template").`},
		{`{"phone":"79995253422","template":"waiting","language":{"code":"en"}}`, 422,
			`template: template "waiting" (en) is PENDING, not APPROVED: only an approved template can be sent.`},
		{`{"phone":"79995253422","template":"with_params","language":{"code":"en"}}`, 400, `params: template "with_params" (en) takes 2 body parameters, got 0.`},
		{`{"phone":"79995253422","template":"with_params","language":{"code":"en"},"params":["Ana",""]}`, 400, `params[1]: must not be empty.`},
		{`{"phone":"79995253422","template":"template_name","language":{"code":"en","policy":"fallback"}}`, 400,
			`language.policy: must be "deterministic" (the only policy WhatsApp keeps), not "fallback".`},
		{`{"phone":"79995253422","template":"template_name"}`, 400, `language: is required: {"code":"en","policy":"deterministic"}.`},
		{`{"phone":"79995253422","template":"template_name","language":{"code":"English"}}`, 400, `language.code: must be a language code such as en, en_US or pt_BR, not "English".`},
		{`{"phone":"79995253422","language":{"code":"en"}}`, 400, `template: is required: the name of an approved template.`},
		{`{"phone":"79995253422","template":"Template Name","language":{"code":"en"}}`, 400, `template: may hold only lowercase letters, digits and underscores ("T" is not one).`},
		{`{"template":"template_name","language":{"code":"en"}}`, 400, `phone: is required: the recipient's number with its country code, as 79995253422 (or chatId).`},
		{`{"phone":"0333 1234567","template":"template_name","language":{"code":"en"}}`, 400, `phone: must be a phone number with its country code, digits only, as 79995253422, not "0333 1234567".`},
		{`{"phone":"99999999999","template":"template_name","language":{"code":"en"}}`, 400, `phone: "99999999999" is not a valid phone number with its country code.`},
		{`{"chatId":"123456789-1479621234@g.us","template":"template_name","language":{"code":"en"}}`, 400, `chatId: is a group chat; messages go to one contact (<number>@c.us).`},
		{`{"phone":"79995253422","chatId":"79995253423@c.us","template":"template_name","language":{"code":"en"}}`, 400, `chatId: names another number than phone: give one of them.`},
		{`{"phone":"79995253422","template":"template_name","language":{"code":"en"},"quotedMsgId":"x"}`, 400, `Unknown field "quotedMsgId".`},
		{``, 400, `Request body is empty; a JSON body is required.`},
	} {
		wantError(t, do(t, h, whatsapp, "", "POST", c.body), c.status, c.msg)
	}
	if len(f.sent) != 0 {
		t.Fatalf("queued %d", len(f.sent))
	}
	r := do(t, h, whatsapp, "", "POST", `{"chatId":"79995253422@c.us","template":"with_params","language":{"code":"en"},"params":["Ana","4242"]}`)
	if r.status != 200 || len(f.sent) != 1 || f.sent[0].Template.Params[1] != "4242" || f.sent[0].To != "+79995253422" {
		t.Fatalf("%d %s %+v", r.status, r.body, f.sent)
	}
}

// TestSeedMessageWindow: the seed's message body is refused, naming the
// 24-hour window, when the contact never wrote or wrote over 24 h ago, and
// queued inside the window.
func TestSeedMessageWindow(t *testing.T) {
	f := newFake(t)
	inst, bare := ChatapiInstanceMessage(f), ChatapiMessage(f)
	wantError(t, do(t, bare, whatsapp, "", "POST", seedMessageCurl), 422,
		"The 24-hour customer service window with 79995253422 is closed: the contact has not written to this channel. "+
			"A free-form message can be sent only within 24 hours of the contact's last message; send an approved template (POST /sendTemplate) to start the conversation.")
	f.inbound["+79995253422"] = f.now.Add(-24*time.Hour - time.Second)
	wantError(t, do(t, inst, whatsapp, "instance777", "POST", seedMessagePHP), 422,
		"The 24-hour customer service window with 79995253422 is closed: the contact last wrote at 2025-06-14T15:06:39Z, more than 24 hours ago. "+
			"A free-form message can be sent only within 24 hours of the contact's last message; send an approved template (POST /sendTemplate) to start the conversation.")
	if len(f.sent) != 0 {
		t.Fatal("queued outside the window")
	}
	f.inbound["+79995253422"] = f.now.Add(-23 * time.Hour)
	for _, c := range []struct {
		h        http.Handler
		instance string
		body     string
	}{{bare, "", seedMessageCurl}, {inst, "instance777", seedMessagePHP}, {bare, "", `{"chatId":"79995253422@c.us","body":"Hi"}`}} {
		r := do(t, c.h, whatsapp, c.instance, "POST", c.body)
		if r.status != 200 || r.json["sent"] != true || r.json["message"] != "Queued for sending to 79995253422@c.us" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	if m := f.sent[0]; m.Type != messages.TypeText || m.Text == nil || m.Text.Body != "Hello, Andrew!" || m.To != "+79995253422" {
		t.Fatalf("queued %+v", m)
	}
	wantError(t, do(t, bare, whatsapp, "", "POST", `{"phone":"79995253422","body":"   "}`), 400, "body: is required: the message's text.")
	wantError(t, do(t, bare, whatsapp, "", "POST", `{"phone":"79995253422","body":"`+strings.Repeat("я", 4097)+`"}`), 400,
		"body: must be at most 4096 characters, not 4097.")
	if r := do(t, bare, whatsapp, "", "POST", `{"phone":"79995253422","body":"`+strings.Repeat("я", 4096)+`"}`); r.status != 200 {
		t.Fatalf("4,096 characters: %d %s", r.status, r.body)
	}
	// The sender's refusal reaches the client as it is.
	f.senderErr = apperr.Unavailable("Sending messages is not available on this deployment yet.")
	wantError(t, do(t, bare, whatsapp, "", "POST", seedMessageCurl), 503, "Sending messages is not available on this deployment yet.")
}

// TestInstances: the instance in the path must be the token's channel's.
func TestInstances(t *testing.T) {
	f := newFake(t)
	f.inbound["+79995253422"] = f.now
	h := ChatapiInstanceMessage(f)
	wantError(t, do(t, h, whatsapp, "instance778", "POST", seedMessageCurl), 403, "This token does not belong to instance 778.")
	for _, seg := range []string{"instance", "instance0777", "Instance777", "777", "instance77x", "instance1234567890123456789"} {
		wantError(t, do(t, h, whatsapp, seg, "POST", seedMessageCurl), 404, "Not found.")
	}
	f.instance = ""
	wantError(t, do(t, h, whatsapp, "instance777", "POST", seedMessageCurl), 403, "This token does not belong to instance 777.")
	other := whatsapp
	other.ChannelKind = tenancy.Messenger
	wantError(t, do(t, ChatapiMessage(f), other, "", "POST", seedMessageCurl), 403,
		"These chat-api routes are for WhatsApp channels: this token's channel is a messenger channel.")
	if len(f.sent) != 0 {
		t.Fatal("queued")
	}
}

// TestSeedProfile: the seed's profile body sets address and description
// and leaves the empty email and vertical as they are; WhatsApp's limits.
func TestSeedProfile(t *testing.T) {
	f := newFake(t)
	f.profile = Profile{Email: "info@acme.example", Vertical: "RETAIL"}
	set, get := ChatapiInstanceMeSet(f), ChatapiInstanceMeGet(f)
	r := do(t, set, whatsapp, "instance777", "POST", seedProfilePHP)
	if r.status != 200 || r.json["set"] != true {
		t.Fatalf("%d %s", r.status, r.body)
	}
	want := Profile{Address: "79995253422", Description: "Best Company", Email: "info@acme.example", Vertical: "RETAIL"}
	if f.profile.Address != want.Address || f.profile.Description != want.Description || f.profile.Email != want.Email || f.profile.Vertical != want.Vertical {
		t.Fatalf("profile %+v", f.profile)
	}
	r = do(t, get, whatsapp, "instance777", "GET", "")
	if r.status != 200 || r.json["address"] != "79995253422" || r.json["vertical"] != "RETAIL" {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ body, msg string }{
		{`{"address":"` + strings.Repeat("a", 257) + `"}`, "address: must be at most 256 characters, not 257."},
		{`{"description":"` + strings.Repeat("d", 513) + `"}`, "description: must be at most 512 characters, not 513."},
		{`{"about":"` + strings.Repeat("b", 140) + `"}`, "about: must be at most 139 characters, not 140."},
		{`{"email":"` + strings.Repeat("e", 120) + `@example.com"}`, "email: must be at most 128 characters, not 132."},
		{`{"email":"not an email"}`, `email: "not an email" is not a valid email address.`},
		{`{"email":"a@b"}`, `email: "a@b" is not a valid email address.`},
		{`{"vertical":"SHOES"}`, `vertical: must be one of ` + strings.Join(Verticals, ", ") + `, not "SHOES".`},
		{`{"websites":["https://a.example","https://b.example","https://c.example"]}`, "websites: may hold at most 2 URLs, not 3."},
		{`{"websites":["ftp://a.example"]}`, `websites[0]: must be an http or https URL, not "ftp://a.example".`},
		{`{"email":"","vertical":""}`, "Request body must set at least one of about, address, description, email, vertical, websites (an empty string leaves a field as it is)."},
	} {
		wantError(t, do(t, set, whatsapp, "instance777", "POST", c.body), 400, c.msg)
	}
	r = do(t, set, whatsapp, "instance777", "POST", `{"vertical":"retail","websites":["https://acme.example"],"email":"hi@acme.example"}`)
	if r.status != 200 || f.profile.Vertical != "RETAIL" || f.profile.Websites[0] != "https://acme.example" || f.profile.Email != "hi@acme.example" {
		t.Fatalf("%d %s %+v", r.status, r.body, f.profile)
	}
	wantError(t, do(t, get, whatsapp, "instance1", "GET", ""), 403, "This token does not belong to instance 1.")
}

// TestWebhook: the seed's webhook setting makes one chat-api connection,
// moves it, and removes it.
func TestWebhook(t *testing.T) {
	f := newFake(t)
	h, inst := ChatapiWebhook(f), ChatapiInstanceWebhook(f)
	r := do(t, inst, whatsapp, "instance777", "POST", `{"webhookUrl":"http://127.0.0.1:9/my_webhook_url"}`)
	secret, _ := r.json["secret"].(string)
	if r.status != 200 || r.json["set"] != true || r.json["webhookUrl"] != "http://127.0.0.1:9/my_webhook_url" || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if len(f.conns.items) != 1 {
		t.Fatalf("%d connections", len(f.conns.items))
	}
	c := f.conns.items[0]
	if c.Source != connections.SourceChatAPI || len(c.Triggers) != 1 || c.Triggers[0] != connections.TriggerMessage || !c.Enabled || c.ChannelID != "ch_wa" {
		t.Fatalf("connection %+v", c)
	}
	r = do(t, h, whatsapp, "", "POST", `{"webhookUrl":"http://127.0.0.1:9/moved"}`)
	if r.status != 200 || r.json["secret"] != nil || len(f.conns.items) != 1 || f.conns.items[0].URL != "http://127.0.0.1:9/moved" || f.conns.items[0].Version != 2 {
		t.Fatalf("move: %d %s %+v", r.status, r.body, f.conns.items)
	}
	wantError(t, do(t, h, whatsapp, "", "POST", `{"webhookUrl":"ftp://example.com/x"}`), 422, `webhookUrl: URL must start with https:// or http://.`)
	wantError(t, do(t, h, whatsapp, "", "POST", `{}`), 400, `webhookUrl: is required: the URL inbound messages are posted to ("" removes it).`)
	r = do(t, h, whatsapp, "", "POST", `{"webhookUrl":""}`)
	if r.status != 200 || r.json["set"] != true || len(f.conns.items) != 0 {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
}

// memConns is the part of connections.Store the webhook uses, in memory.
type memConns struct {
	connections.Store
	items []connections.Connection
}

func (m *memConns) ListConnections(_ context.Context, tenantID string) ([]connections.Connection, error) {
	var out []connections.Connection
	for _, c := range m.items {
		if c.TenantID == tenantID {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *memConns) CreateConnection(_ context.Context, c connections.Connection) error {
	m.items = append(m.items, c)
	return nil
}

func (m *memConns) PutConnection(_ context.Context, c connections.Connection) error {
	for i, x := range m.items {
		if x.ID == c.ID {
			if x.Version != c.Version-1 {
				return apperr.Conflict("connection")
			}
			m.items[i] = c
			return nil
		}
	}
	return apperr.NotFound("Connection", c.ID)
}

func (m *memConns) DeleteConnection(_ context.Context, _, id string) error {
	for i, x := range m.items {
		if x.ID == id {
			m.items = append(m.items[:i], m.items[i+1:]...)
			return nil
		}
	}
	return apperr.NotFound("Connection", id)
}

// memTemplates is templates.Store in memory.
type memTemplates struct {
	mu    sync.Mutex
	items []templates.Template
}

func (m *memTemplates) CreateTemplate(_ context.Context, t templates.Template) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items = append(m.items, t)
	return nil
}

func (m *memTemplates) GetTemplate(_ context.Context, tenantID, channelID, id string) (templates.Template, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.items {
		if t.TenantID == tenantID && t.ChannelID == channelID && t.ID == id {
			return t, nil
		}
	}
	return templates.Template{}, apperr.NotFound("Template", id)
}

func (m *memTemplates) FindTemplate(_ context.Context, tenantID, channelID, name, language string) (templates.Template, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.items {
		if t.TenantID == tenantID && t.ChannelID == channelID && t.Name == name && t.Language == language {
			return t, nil
		}
	}
	return templates.Template{}, apperr.NotFound("Template", name)
}

func (m *memTemplates) ListTemplates(context.Context, string, string) ([]templates.Template, error) {
	return nil, nil
}

func (m *memTemplates) PutTemplate(_ context.Context, t templates.Template) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.items {
		if x.ID == t.ID {
			m.items[i] = t
			return nil
		}
	}
	return apperr.NotFound("Template", t.ID)
}

func (m *memTemplates) DeleteTemplate(context.Context, templates.Template) error { return nil }
