package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

func TestMain(m *testing.M) { emulators.Main(m) }

// envelopeError asserts an error answer in the API's envelope.
func envelopeError(t *testing.T, r stacktest.Response, status int, message string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if r.JSON["status"] != "error" || !strings.Contains(r.JSON["message"].(string), message) {
		t.Fatalf("body %s, want error containing %q", r.Body, message)
	}
	if d, ok := r.JSON["data"].([]any); !ok || len(d) != 0 {
		t.Fatalf("data must be []: %s", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestAdminTenantsChannelsTokens(t *testing.T) {
	s := stacktest.New(t)
	r := s.Admin("POST", "/admin/tenants", map[string]any{"name": "Acme"})
	if r.Status != http.StatusCreated {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	tid := stacktest.Path(r.JSON, "data.tenant.id").(string)
	secret := stacktest.Path(r.JSON, "data.account_secret").(string)
	if !strings.HasPrefix(secret, "sk_") || strings.Contains(string(s.Admin("GET", "/admin/tenants/"+tid, nil).Body), secret) {
		t.Fatal("account secret must be shown once and never again")
	}

	for _, kind := range []string{"messenger", "whatsapp", "viber", "sms", "voice"} {
		r = s.Admin("POST", "/admin/tenants/"+tid+"/channels", map[string]any{"kind": kind, "name": "Main " + kind, "default_country": "US"})
		if r.Status != http.StatusCreated || stacktest.Path(r.JSON, "data.kind") != kind {
			t.Fatalf("create %s channel: %d %s", kind, r.Status, r.Body)
		}
	}
	r = s.Admin("GET", "/admin/tenants/"+tid+"/channels", nil)
	chans := r.JSON["data"].([]any)
	if len(chans) != 5 {
		t.Fatalf("want 5 channels: %s", r.Body)
	}
	cid := chans[0].(map[string]any)["id"].(string)

	r = s.Admin("POST", "/admin/tenants/"+tid+"/channels/"+cid+"/tokens", map[string]any{"name": "zapier"})
	tok := stacktest.Path(r.JSON, "data.token").(string)
	tokID := stacktest.Path(r.JSON, "data.id").(string)
	if r.Status != http.StatusCreated || !strings.HasPrefix(tok, "ct_") {
		t.Fatalf("create token: %d %s", r.Status, r.Body)
	}
	r = s.Admin("GET", "/admin/tenants/"+tid+"/channels/"+cid+"/tokens", nil)
	if strings.Contains(string(r.Body), tok) || !strings.Contains(string(r.Body), tok[len(tok)-4:]) {
		t.Fatalf("token list must be masked: %s", r.Body)
	}

	if r := s.Do("GET", "/v1/me", "Bearer "+tok, nil); r.Status != http.StatusOK || stacktest.Path(r.JSON, "data.channel.id") != cid || stacktest.Path(r.JSON, "data.tenant.id") != tid {
		t.Fatalf("me: %d %s", r.Status, r.Body)
	}
	if r := s.Admin("DELETE", "/admin/tenants/"+tid+"/channels/"+cid+"/tokens/"+tokID, nil); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	envelopeError(t, s.Do("GET", "/v1/me", "Bearer "+tok, nil), 401, "API Token is invalid.")
	envelopeError(t, s.Admin("DELETE", "/admin/tenants/"+tid+"/channels/"+cid+"/tokens/"+tokID, nil), 404, "not found")

	// Rotating the account secret retires the old one.
	r = s.Admin("POST", "/admin/tenants/"+tid+"/secret", nil)
	if r.Status != http.StatusOK || stacktest.Path(r.JSON, "data.account_secret") == secret {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
}

func TestAdminBadInputWritesNothing(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Acme", "sms")
	base := "/admin/tenants/" + tn.ID + "/channels"
	cases := []struct {
		name, body, ctype string
		status            int
		message           string
	}{
		{"malformed JSON", `{"kind":"sms",`, "application/json", 400, "Malformed JSON"},
		{"unknown field", `{"kind":"sms","name":"x","colour":"red"}`, "application/json", 400, `Unknown field "colour"`},
		{"wrong type", `{"kind":5,"name":"x"}`, "application/json", 400, `Field "kind" must be a string`},
		{"bad kind", `{"kind":"fax","name":"x"}`, "application/json", 400, `kind: must be one of`},
		{"missing name", `{"kind":"sms"}`, "application/json", 400, `name: is required`},
		{"bad country", `{"kind":"sms","name":"x","default_country":"Pakistan"}`, "application/json", 400, `default_country: must be`},
		{"unknown region", `{"kind":"sms","name":"x","default_country":"ZZ"}`, "application/json", 400, `default_country: must be an ISO 3166-1 alpha-2 region code`},
		{"no country", `{"kind":"sms","name":"x"}`, "application/json", 400, `default_country: must be`},
		{"empty country", `{"kind":"sms","name":"x","default_country":""}`, "application/json", 400, `default_country: must be`},
		{"wrong content type", `kind=sms`, "application/x-www-form-urlencoded", 400, "Content-Type must be application/json"},
		{"empty body", ``, "application/json", 400, "empty"},
		{"too large", `{"name":"` + strings.Repeat("a", 300<<10) + `"}`, "application/json", 413, "too large"},
		{"trailing data", `{"kind":"sms","name":"x"} {}`, "application/json", 400, "unexpected data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", s.URL+base, strings.NewReader(c.body))
			req.Header.Set("Content-Type", c.ctype)
			req.Header.Set("Authorization", "Bearer "+stacktest.AdminKey)
			envelopeError(t, s.Send(req), c.status, c.message)
		})
	}
	if r := s.Admin("GET", base, nil); len(r.JSON["data"].([]any)) != 1 {
		t.Fatalf("bad input wrote a channel: %s", r.Body)
	}
	envelopeError(t, s.Admin("POST", "/admin/tenants/ten_nope/channels", map[string]any{"kind": "sms", "name": "x", "default_country": "US"}), 404, "not found")
	envelopeError(t, s.Admin("POST", "/admin/tenants/"+tn.ID+"/channels/ch_nope/tokens", nil), 404, "not found")
}

func TestAuthAndIsolation(t *testing.T) {
	s := stacktest.New(t)
	a := s.NewTenant("A", "messenger")
	b := s.NewTenant("B", "viber")

	if r := s.Do("GET", "/v1/me", "Bearer "+a.Token, nil); stacktest.Path(r.JSON, "data.tenant.id") != a.ID {
		t.Fatalf("A's token: %s", r.Body)
	}
	if r := s.Do("GET", "/v1/me", "Bearer "+b.Token, nil); stacktest.Path(r.JSON, "data.tenant.id") != b.ID || stacktest.Path(r.JSON, "data.channel.kind") != "viber" {
		t.Fatalf("B's token: %s", r.Body)
	}
	envelopeError(t, s.Do("GET", "/v1/me", "", nil), 401, "API Token is invalid.")
	envelopeError(t, s.Do("GET", "/v1/me", "Bearer ct_not_a_real_token_at_all_000000", nil), 401, "API Token is invalid.")
	envelopeError(t, s.Do("GET", "/v1/me", "Bearer "+a.Token+"x", nil), 401, "API Token is invalid.")

	// Credentials of the wrong kind.
	envelopeError(t, s.Do("GET", "/v1/me", "Bearer "+a.Secret, nil), 403, "channel API token")
	envelopeError(t, s.Do("GET", "/admin/tenants/"+a.ID, "Bearer "+a.Token, nil), 403, "Forbidden")
	envelopeError(t, s.Do("GET", "/admin/tenants/"+a.ID, "Bearer "+a.Secret, nil), 403, "Forbidden")
	envelopeError(t, s.Do("POST", "/admin/tenants", "Bearer wrong-admin-key", map[string]any{"name": "x"}), 403, "Forbidden")

	// Routing answers.
	envelopeError(t, s.Do("GET", "/v1/nothing-here", "Bearer "+a.Token, nil), 404, "Not found.")
	envelopeError(t, s.Do("DELETE", "/v1/me", "Bearer "+a.Token, nil), 405, "405 Method Not Allowed.")

	// A base path mapping (/api, as the seed's URLs have) and a trailing slash.
	if r := s.Do("GET", "/api/v1/me/", "Bearer "+a.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("/api prefix: %d %s", r.Status, r.Body)
	}
}

func TestRateLimit(t *testing.T) {
	s := stacktest.New(t)
	a := s.NewTenant("A", "whatsapp")
	b := s.NewTenant("B", "sms")
	for i := 1; i <= 100; i++ {
		r := s.Do("GET", "/v1/me", "Bearer "+a.Token, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("call %d: %d %s", i, r.Status, r.Body)
		}
		if r.Header.Get("X-RateLimit-Limit") != "100" || r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(100-i) || r.Header.Get("X-RateLimit-Reset") == "" {
			t.Fatalf("call %d headers: %v", i, r.Header)
		}
	}
	r := s.Do("GET", "/v1/me", "Bearer "+a.Token, nil)
	envelopeError(t, r, 429, "Too many requests")
	if r.JSON["message"] != "Too many requests" || r.Header.Get("Retry-After") == "" || r.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("429 answer: %v %s", r.Header, r.Body)
	}
	// Another tenant's token has its own budget.
	if r := s.Do("GET", "/v1/me", "Bearer "+b.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("other token: %d", r.Status)
	}
	// The next minute starts afresh.
	s.Clock.Add(time.Minute)
	if r := s.Do("GET", "/v1/me", "Bearer "+a.Token, nil); r.Status != http.StatusOK || r.Header.Get("X-RateLimit-Remaining") != "99" {
		t.Fatalf("next minute: %d %v", r.Status, r.Header)
	}
}

func TestOpenAPIServed(t *testing.T) {
	s := stacktest.New(t)
	r := s.Do("GET", "/openapi.json", "", nil)
	paths, _ := r.JSON["paths"].(map[string]any)
	if r.Status != http.StatusOK || r.JSON["openapi"] != "3.1.0" || paths["/v1/me"] == nil {
		t.Fatalf("%d %.200s", r.Status, r.Body)
	}
}

func TestAdminDLQRedrive(t *testing.T) {
	s := stacktest.New(t)
	ctx := context.Background()
	for i := range 3 {
		body := fmt.Sprintf(`{"id":"msg_%d"}`, i)
		if _, err := s.Env.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &s.Env.Queues.DLQURL, MessageBody: &body}); err != nil {
			t.Fatal(err)
		}
	}
	r := s.Admin("GET", "/admin/dlq", nil)
	if r.Status != 200 || stacktest.Path(r.JSON, "data.messages") != 3.0 {
		t.Fatalf("stats: %d %s", r.Status, r.Body)
	}
	r = s.Admin("POST", "/admin/dlq/redrive", nil)
	if r.Status != 200 || stacktest.Path(r.JSON, "data.moved") != 3.0 {
		t.Fatalf("redrive: %d %s", r.Status, r.Body)
	}
	out, err := s.Env.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &s.Env.Queues.DeliveriesURL, MaxNumberOfMessages: 10})
	if err != nil || len(out.Messages) != 3 {
		t.Fatalf("deliveries queue: %+v %v", out, err)
	}
	if r := s.Admin("GET", "/admin/dlq", nil); stacktest.Path(r.JSON, "data.messages") != 0.0 {
		t.Fatalf("DLQ not empty: %s", r.Body)
	}
	envelopeError(t, s.Do("POST", "/admin/dlq/redrive", "Bearer "+s.NewTenant("A", "sms").Token, nil), 403, "Forbidden")
}
