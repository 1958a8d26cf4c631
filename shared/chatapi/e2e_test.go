package chatapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/gateway"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/authorizer"
	"github.com/startmsg/chatbackend/shared/chatapi"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/routes/contract"
	"github.com/startmsg/chatbackend/shared/templates"
	"github.com/startmsg/chatbackend/shared/wiring"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

var get = stacktest.Path

func wantError(t *testing.T, r stacktest.Response, status int, msg string) {
	t.Helper()
	if r.Status != status || get(r.JSON, "status") != "error" || get(r.JSON, "message") != msg {
		t.Fatalf("got %d %s, want %d %q", r.Status, r.Body, status, msg)
	}
}

const (
	seedSendTemplate = `{"phone": "79995253422","template": "template_name", "namespace" : "namespace_of_template", "language": { "code": "en", "policy": "deterministic"}}`
	seedMessage      = `{"phone": "79995253422","body": "Hello, Andrew!"}`
	seedProfile      = `{"address":"79995253422","description":"Best Company","email":"","vertical":""}`
)

// newSeedTemplate makes the seed's template_name on the channel, in
// namespace_of_template, language en, with the given status.
func newSeedTemplate(t *testing.T, d *wiring.Env, tenantID, channelID string, status templates.Status) {
	t.Helper()
	name, ns, lang, cat := "template_name", "namespace_of_template", "en", "MARKETING"
	comps := []templates.Component{{Type: "BODY", Text: "Hello from Acme!"}}
	reg := messaging.Of(d).TemplateRegistry()
	reg.Submitter = templates.LocalOnly{} // seeded as approved here, not submitted to a provider
	if _, err := reg.Create(t.Context(), tenantID, channelID, templates.Input{Name: &name, Namespace: &ns, Language: &lang, Category: &cat, Components: &comps}); err != nil {
		t.Fatal(err)
	}
	if status != templates.StatusPending {
		if err := reg.SetStatus(t.Context(), tenantID, channelID, name, lang, status, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSeed002OnTheStack: the chat-api routes on the whole local stack as
// make run wires it today: ?token= auth (and only that), the webhook as a
// connection, templates from the registry, the window closed for a
// contact that never wrote, no instance ids yet. Every answer is checked
// against the OpenAPI document, and the token never reaches the logs.
func TestSeed002OnTheStack(t *testing.T) {
	s := stacktest.New(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	slog.SetDefault(slog.New(slog.NewTextHandler(syncWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	wa := s.NewTenant("Acme", "whatsapp")
	q := "?token=" + wa.Token

	// The token goes in the query string: a header is not the identity
	// source of these routes.
	wantError(t, s.Do("POST", "/sendTemplate", "Bearer "+wa.Token, seedSendTemplate), 401, "API Token is invalid.")
	wantError(t, s.Do("POST", "/sendTemplate", "", seedSendTemplate), 401, "API Token is invalid.")
	wantError(t, s.Do("POST", "/sendTemplate?token=ct_"+strings.Repeat("x", 52), "", seedSendTemplate), 401, "API Token is invalid.")
	wantError(t, s.Do("POST", "/sendTemplate?token="+wa.Secret, "", seedSendTemplate), 403, "This endpoint takes a channel API token, not the account secret key.")

	wantError(t, s.Do("POST", "/sendTemplate"+q, "", seedSendTemplate), 404, `Template "template_name" in language "en" not found on this channel.`)
	newSeedTemplate(t, s.Deps, wa.ID, wa.ChannelID, templates.StatusPending)
	wantError(t, s.Do("POST", "/sendTemplate"+q, "", seedSendTemplate), 422,
		`template: template "template_name" (en) is PENDING, not APPROVED: only an approved template can be sent.`)
	wantError(t, s.Do("POST", "/message"+q, "", seedMessage), 422,
		"The 24-hour customer service window with 79995253422 is closed: the contact has not written to this channel. "+
			"A free-form message can be sent only within 24 hours of the contact's last message; send an approved template (POST /sendTemplate) to start the conversation.")
	// No channel has an instance id until they are wired.
	wantError(t, s.Do("POST", "/instance777/sendTemplate"+q, "", seedSendTemplate), 403, "This token does not belong to instance 777.")
	wantError(t, s.Do("POST", "/instance777/webhook"+q, "", `{"webhookUrl":"http://127.0.0.1:9/x"}`), 403, "This token does not belong to instance 777.")
	wantError(t, s.Do("POST", "/instancex/sendTemplate"+q, "", seedSendTemplate), 404, "Not found.")
	wantError(t, s.Do("GET", "/instance777/sendTemplate"+q, "", nil), 405, "405 Method Not Allowed.")
	wantError(t, s.Do("POST", "/api/message"+q, "", seedMessage), 422, get(s.Do("POST", "/message"+q, "", seedMessage).JSON, "message").(string))

	// A Messenger channel's token is refused.
	ms := s.NewTenant("Page", "messenger")
	wantError(t, s.Do("POST", "/message?token="+ms.Token, "", seedMessage), 403,
		"These chat-api routes are for WhatsApp channels: this token's channel is a messenger channel.")

	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), wa.Token) || strings.Contains(logs.String(), ms.Token) {
		t.Fatalf("a token reached the logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "route=chatapi-message") {
		t.Fatalf("no request lines were logged (the check above saw nothing):\n%.2000s", logs.String())
	}
}

type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// ports are the stack's, with the message core, the instance ids and the
// provider's profile in memory.
type ports struct {
	*messaging.Env
	mu       sync.Mutex
	sent     []messages.Message
	inbound  map[string]time.Time
	instance map[string]string // channel → instance
	profile  chatapi.Profile
}

func (p *ports) ChatSender() chatapi.Sender       { return p }
func (p *ports) ChatWindow() chatapi.Window       { return p }
func (p *ports) ChatInstances() chatapi.Instances { return p }
func (p *ports) ChatProfiles() chatapi.Profiles   { return p }

func (p *ports) Enqueue(_ context.Context, m messages.Message, _ string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, m)
	return "msg_e2e" + strings.Repeat("x", len(p.sent)), nil
}

func (p *ports) LastInbound(_ context.Context, _, _, phone string) (time.Time, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inbound[phone], nil
}

func (p *ports) InstanceOf(_ context.Context, _, channelID string) (string, error) {
	return p.instance[channelID], nil
}

func (p *ports) GetProfile(context.Context, string, string) (chatapi.Profile, error) {
	return p.profile, nil
}

func (p *ports) SetProfile(_ context.Context, _, _ string, u chatapi.Profile) (chatapi.Profile, error) {
	if u.Address != "" {
		p.profile.Address = u.Address
	}
	if u.Description != "" {
		p.profile.Description = u.Description
	}
	return p.profile, nil
}

// TestSeed002Gateway: the seed's own requests, verbatim, through the local
// gateway (the real authorizer with ?token=, the middleware, the proxy
// conversion) with the message core, instance ids and the provider in
// memory: each is answered as chat-api did.
func TestSeed002Gateway(t *testing.T) {
	s := stacktest.New(t)
	a := s.NewTenant("Acme", "whatsapp")
	b := s.NewTenant("Other", "whatsapp")
	newSeedTemplate(t, s.Deps, a.ID, a.ChannelID, templates.StatusApproved)
	p := &ports{Env: messaging.Of(s.Deps), inbound: map[string]time.Time{}, instance: map[string]string{a.ChannelID: "777", b.ChannelID: "778"}}
	builders := map[string]func(chatapi.Ports) http.Handler{
		"chatapi-send-template": chatapi.ChatapiSendTemplate, "chatapi-instance-send-template": chatapi.ChatapiInstanceSendTemplate,
		"chatapi-message": chatapi.ChatapiMessage, "chatapi-instance-webhook": chatapi.ChatapiInstanceWebhook,
		"chatapi-instance-me-get": chatapi.ChatapiInstanceMeGet, "chatapi-instance-me-set": chatapi.ChatapiInstanceMeSet,
		"chatapi-instance-message": chatapi.ChatapiInstanceMessage, "chatapi-webhook": chatapi.ChatapiWebhook,
	}
	cfg := gateway.Config{Handlers: map[string]gateway.APIHandler{}, Authorizer: authorizer.Handler(s.Deps.Tenancy()), Now: s.Deps.Now}
	for fn, build := range builders {
		r, ok := routes.ByFunction(fn)
		if !ok {
			t.Fatalf("no route %s", fn)
		}
		cfg.Routes = append(cfg.Routes, r)
		cfg.Handlers[fn] = lambdaapp.Proxy(httpapi.Wrap(r, s.Deps.Limiter(), s.Deps.Now, build(p)))
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	c, err := contract.Default()
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) stacktest.Response {
		t.Helper()
		s.URL = srv.URL // stacktest's client, on this gateway
		var bodyAny any
		if body != "" {
			bodyAny = body
		}
		r := s.Do(method, path, "", bodyAny)
		if err := c.Check(method, strings.SplitN(path, "?", 2)[0], r.Status, r.Header, r.Body); err != nil {
			t.Errorf("OpenAPI contract: %v", err)
		}
		return r
	}
	q := "?token=" + a.Token
	stackURL := s.URL

	// The seed's sendTemplate, on both of its URLs.
	for i, path := range []string{"/instance777/sendTemplate" + q, "/sendTemplate" + q} {
		r := do("POST", path, seedSendTemplate)
		if r.Status != 200 || get(r.JSON, "sent") != true || get(r.JSON, "id") != "msg_e2e"+strings.Repeat("x", i+1) ||
			get(r.JSON, "message") != "Queued for sending to 79995253422@c.us" || r.Header.Get("X-RateLimit-Limit") != "100" {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	if m := p.sent[0]; m.Type != messages.TypeTemplate || m.To != "+79995253422" || m.Template.Name != "template_name" || m.ChannelID != a.ChannelID {
		t.Fatalf("queued %+v", m)
	}
	// Another instance's token, or another channel's template.
	wantError(t, do("POST", "/instance778/sendTemplate"+q, seedSendTemplate), 403, "This token does not belong to instance 778.")
	wantError(t, do("POST", "/instance777/sendTemplate?token="+b.Token, seedSendTemplate), 403, "This token does not belong to instance 777.")
	wantError(t, do("POST", "/instance778/sendTemplate?token="+b.Token, seedSendTemplate), 404, `Template "template_name" in language "en" not found on this channel.`)

	// The seed's message: refused outside the window, sent inside it.
	wantError(t, do("POST", "/message"+q, seedMessage), 422,
		"The 24-hour customer service window with 79995253422 is closed: the contact has not written to this channel. "+
			"A free-form message can be sent only within 24 hours of the contact's last message; send an approved template (POST /sendTemplate) to start the conversation.")
	p.inbound["+79995253422"] = s.Clock.Now().Add(-time.Hour)
	if r := do("POST", "/message"+q, seedMessage); r.Status != 200 || get(r.JSON, "sent") != true {
		t.Fatalf("message: %d %s", r.Status, r.Body)
	}
	if m := p.sent[len(p.sent)-1]; m.Type != messages.TypeText || m.Text.Body != "Hello, Andrew!" {
		t.Fatalf("queued %+v", m)
	}
	// The same message on the instance's URL; another instance's is refused.
	if r := do("POST", "/instance777/message"+q, seedMessage); r.Status != 200 || get(r.JSON, "sent") != true {
		t.Fatalf("instance message: %d %s", r.Status, r.Body)
	}
	if m := p.sent[len(p.sent)-1]; m.Type != messages.TypeText || m.Text.Body != "Hello, Andrew!" || m.ChannelID != a.ChannelID {
		t.Fatalf("queued %+v", m)
	}
	wantError(t, do("POST", "/instance778/message"+q, seedMessage), 403, "This token does not belong to instance 778.")

	// The seed's profile body.
	r := do("POST", "/instance777/me"+q, seedProfile)
	if r.Status != 200 || get(r.JSON, "set") != true || get(r.JSON, "profile.address") != "79995253422" || get(r.JSON, "profile.description") != "Best Company" {
		t.Fatalf("me: %d %s", r.Status, r.Body)
	}
	if r := do("GET", "/instance777/me"+q, ""); r.Status != 200 || get(r.JSON, "description") != "Best Company" {
		t.Fatalf("get me: %d %s", r.Status, r.Body)
	}
	wantError(t, do("POST", "/instance777/me"+q, `{"vertical":"SHOES"}`), 400, `vertical: must be one of `+strings.Join(chatapi.Verticals, ", ")+`, not "SHOES".`)

	// The webhook: a connection of the channel, listed with the others
	// (on the whole stack's gateway), moved, refused by the SSRF guard,
	// removed.
	r = do("POST", "/instance777/webhook"+q, `{"webhookUrl":"http://127.0.0.1:9/my_webhook_url"}`)
	if r.Status != 200 || get(r.JSON, "set") != true || !strings.HasPrefix(get(r.JSON, "secret").(string), "whsec_") {
		t.Fatalf("webhook: %d %s", r.Status, r.Body)
	}
	conn := get(r.JSON, "connection_id").(string)
	onStack := func(method, path string) stacktest.Response {
		t.Helper()
		s.URL = stackURL
		return s.Do(method, path, "Bearer "+a.Token, nil)
	}
	r = onStack("GET", "/v1/connections/"+conn)
	if r.Status != 200 || get(r.JSON, "data.source") != "chatapi" || get(r.JSON, "data.url") != "http://127.0.0.1:9/my_webhook_url" ||
		get(r.JSON, "data.triggers").([]any)[0] != "message" {
		t.Fatalf("connection: %d %s", r.Status, r.Body)
	}
	if r := onStack("GET", "/v1/connections"); r.Status != 200 || len(get(r.JSON, "data").([]any)) != 1 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	r = do("POST", "/instance777/webhook"+q, `{"webhookUrl":"http://127.0.0.1:9/moved"}`)
	if r.Status != 200 || get(r.JSON, "connection_id") != conn || get(r.JSON, "secret") != nil {
		t.Fatalf("move: %d %s", r.Status, r.Body)
	}
	wantError(t, do("POST", "/instance777/webhook"+q, `{"webhookUrl":"http://10.0.0.1/x"}`), 422, "webhookUrl: 10.0.0.1 is a private address (RFC 1918).")
	if r := do("POST", "/instance777/webhook"+q, `{"webhookUrl":""}`); r.Status != 200 {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	wantError(t, onStack("GET", "/v1/connections/"+conn), 404, `Connection "`+conn+`" not found.`)

	// The webhook without the instance in the path: the same connection.
	r = do("POST", "/webhook"+q, `{"webhookUrl":"http://127.0.0.1:9/plain"}`)
	if r.Status != 200 || get(r.JSON, "set") != true || !strings.HasPrefix(get(r.JSON, "secret").(string), "whsec_") {
		t.Fatalf("plain webhook: %d %s", r.Status, r.Body)
	}
	conn = get(r.JSON, "connection_id").(string)
	if r := onStack("GET", "/v1/connections/"+conn); r.Status != 200 || get(r.JSON, "data.url") != "http://127.0.0.1:9/plain" {
		t.Fatalf("connection: %d %s", r.Status, r.Body)
	}
	if r := do("POST", "/instance777/webhook"+q, `{"webhookUrl":"http://127.0.0.1:9/moved-again"}`); r.Status != 200 || get(r.JSON, "connection_id") != conn {
		t.Fatalf("move: %d %s", r.Status, r.Body)
	}
}
