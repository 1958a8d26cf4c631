package messageapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/sender"
	"github.com/startmsg/chatbackend/shared/sender/providertest"
	"github.com/startmsg/chatbackend/shared/templates"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

// pipeline is a stack whose sender calls a test provider over HTTP.
func pipeline(t *testing.T) (*stacktest.Stack, *providertest.Server, stacktest.Tenant) {
	t.Helper()
	s, prov, ten := withProvider(t)
	s.Pipeline()
	return s, prov, ten
}

// withProvider is a stack whose sender (not started) calls a test provider
// over HTTP, and a tenant whose WhatsApp channel has the tests' template.
func withProvider(t *testing.T) (*stacktest.Stack, *providertest.Server, stacktest.Tenant) {
	t.Helper()
	return withProviderOpts(t, stacktest.Options{})
}

// withProviderOpts is withProvider on a stack started with o.
func withProviderOpts(t *testing.T, o stacktest.Options) (*stacktest.Stack, *providertest.Server, stacktest.Tenant) {
	t.Helper()
	s := stacktest.NewWith(t, o)
	prov := providertest.New(t)
	messaging.Override(s.Deps, messaging.Overrides{
		Providers:   map[string]sender.Provider{"whatsapp": providertest.Client{}},
		Credentials: sender.StaticCredentials{AccessToken: "test-access-token", AccountID: "1234567890", BaseURL: prov.URL},
	})
	ten := s.NewTenant("Acme", "whatsapp")
	// The channel's registry holds the approved template the tests send.
	reg := messaging.Of(s.Deps).TemplateRegistry()
	reg.Submitter = templates.LocalOnly{}
	for _, lang := range []string{"en", "en_US"} {
		name, cat := "order_update", "UTILITY"
		comps := []templates.Component{{Type: "BODY", Text: "Hello {{1}}, your order shipped."}}
		if _, err := reg.Create(t.Context(), ten.ID, ten.ChannelID, templates.Input{Name: &name, Language: &lang, Category: &cat, Components: &comps}); err != nil {
			t.Fatal(err)
		}
		if err := reg.SetStatus(t.Context(), ten.ID, ten.ChannelID, name, lang, templates.StatusApproved, ""); err != nil {
			t.Fatal(err)
		}
	}
	return s, prov, ten
}

func bearer(tok string) string { return "Bearer " + tok }

var template = map[string]any{"to": "+923244077087", "type": "template",
	"template": map[string]any{"name": "order_update", "language": "en_US", "params": []string{"Ana"}}}

func send(t *testing.T, s *stacktest.Stack, tok string, body any) string {
	t.Helper()
	r := s.Do("POST", "/v1/messages", bearer(tok), body)
	if r.Status != http.StatusAccepted || stacktest.Path(r.JSON, "data.status") != "queued" {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	return stacktest.Path(r.JSON, "data.id").(string)
}

// waitStatus polls GET /v1/messages/{id} until the message has status st.
func waitStatus(t *testing.T, s *stacktest.Stack, tok, id string, st messages.Status) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last stacktest.Response
	for time.Now().Before(deadline) {
		last = s.Do("GET", "/v1/messages/"+id, bearer(tok), nil)
		if last.Status == http.StatusOK && stacktest.Path(last.JSON, "data.status") == string(st) {
			return last.JSON["data"].(map[string]any)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("message %s never reached %s: %d %s", id, st, last.Status, last.Body)
	return nil
}

// A message the API accepted goes stream → router → outbox → sender →
// provider, once, and ends sent with the provider's id.
func TestSentThroughThePipeline(t *testing.T) {
	s, prov, ten := pipeline(t)
	id := send(t, s, ten.Token, template)
	m := waitStatus(t, s, ten.Token, id, messages.StatusSent)
	got := prov.Requests()
	if len(got) != 1 {
		t.Fatalf("provider got %d requests, want 1: %+v", len(got), got)
	}
	if m["provider_message_id"] != got[0].ID || m["attempts"] != float64(1) || m["sent_at"] == nil {
		t.Fatalf("message %v, provider answered %s", m, got[0].ID)
	}
	if got[0].Auth != "Bearer test-access-token" || got[0].Account != "/1234567890/messages" || got[0].Body["to"] != "+923244077087" {
		t.Fatalf("provider request %+v", got[0])
	}
	// The provider's status callbacks find the message by its id, and never
	// move it back.
	store := s.Deps.Messages()
	ctx := context.Background()
	if _, changed, err := store.UpdateStatusByProviderID(ctx, "whatsapp", got[0].ID, messages.StatusRead, s.Clock.Now(), nil); err != nil || !changed {
		t.Fatalf("read: %v %v", changed, err)
	}
	if mm, changed, err := store.UpdateStatusByProviderID(ctx, "whatsapp", got[0].ID, messages.StatusDelivered, s.Clock.Now(), nil); err != nil || changed || mm.Status != messages.StatusRead {
		t.Fatalf("a late delivered moved read back: %v %v %+v", changed, err, mm)
	}
	// Nothing is sent again.
	time.Sleep(1500 * time.Millisecond)
	if n := len(prov.Requests()); n != 1 {
		t.Fatalf("provider got %d requests", n)
	}
}

// A 500 (and a 429) is retried after the provider's Retry-After; the
// message is sent once, with the attempts really made.
func TestRetriedThenSentOnce(t *testing.T) {
	s, prov, ten := pipeline(t)
	prov.Script(providertest.Answer{Status: 500, Code: 131000, Message: "Something went wrong", RetryAfter: 1},
		providertest.Answer{Status: 429, Code: 130429, Message: "Rate limit hit", RetryAfter: 1})
	id := send(t, s, ten.Token, template)
	m := waitStatus(t, s, ten.Token, id, messages.StatusSent)
	got := prov.Requests()
	if len(got) != 3 || got[2].ID == "" || m["provider_message_id"] != got[2].ID {
		t.Fatalf("provider got %+v; message %v", got, m)
	}
	if m["attempts"] != float64(3) || m["last_error"] != nil {
		t.Fatalf("message %v: want 3 attempts and no last_error", m)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := len(prov.Requests()); n != 3 {
		t.Fatalf("provider got %d requests after the message was sent", n)
	}
}

// A 4xx fails the message with the provider's code and text, at once.
func TestRefusedFailsWithTheProvidersError(t *testing.T) {
	s, prov, ten := pipeline(t)
	prov.Script(providertest.Answer{Status: 404, Code: 132001, Message: "Template name does not exist in the translation"})
	id := send(t, s, ten.Token, template)
	m := waitStatus(t, s, ten.Token, id, messages.StatusFailed)
	if stacktest.Path(m, "error.code") != "132001" || !strings.Contains(stacktest.Path(m, "error.message").(string), "Template name") ||
		m["failed_at"] == nil || m["attempts"] != float64(1) {
		t.Fatalf("message %v", m)
	}
	if n := len(prov.Requests()); n != 1 {
		t.Fatalf("provider got %d requests", n)
	}
}

// The same Idempotency-Key answers the same message, sent once.
func TestIdempotencyKey(t *testing.T) {
	s, prov, ten := pipeline(t)
	post := func() stacktest.Response {
		req, _ := http.NewRequest("POST", s.URL+"/v1/messages", strings.NewReader(mustJSON(template)))
		req.Header.Set("Authorization", bearer(ten.Token))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "order-1042")
		return s.Send(req)
	}
	a, b := post(), post()
	if a.Status != 202 || b.Status != 202 || stacktest.Path(a.JSON, "data.id") != stacktest.Path(b.JSON, "data.id") {
		t.Fatalf("%d %s / %d %s", a.Status, a.Body, b.Status, b.Body)
	}
	waitStatus(t, s, ten.Token, stacktest.Path(a.JSON, "data.id").(string), messages.StatusSent)
	time.Sleep(time.Second)
	if n := len(prov.Requests()); n != 1 {
		t.Fatalf("provider got %d requests", n)
	}
}

// Copies of an outbox message (a retried stream batch queues it again)
// send it once: the sender's claim and the recorded outcome.
func TestDuplicateTasksSendOnce(t *testing.T) {
	s, prov, ten := pipeline(t)
	prov.Script(providertest.Answer{Delay: 700 * time.Millisecond})
	id := send(t, s, ten.Token, template)
	body := mustJSON(sender.Task{TenantID: ten.ID, MessageID: id})
	queueCopy := func() {
		if _, err := s.Env.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(s.Env.Queues.OutboxURL), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		queueCopy() // while the first is at the provider
	}
	waitStatus(t, s, ten.Token, id, messages.StatusSent)
	queueCopy() // after it was sent
	time.Sleep(2500 * time.Millisecond)
	if n := len(prov.Requests()); n != 1 {
		t.Fatalf("provider got %d requests for one message", n)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// A status callback that comes before the sender's sent write (the
// provider answered, its webhook was quicker than our write) is kept, and
// the sent write applies it: the message ends at the callback's status.
func TestStatusBeforeSentWrite(t *testing.T) {
	s, prov, ten := withProvider(t)
	id := send(t, s, ten.Token, template)
	// The test provider's first wamid; the callbacks come first, read
	// before delivered.
	wamid := "wamid.TEST000001"
	wa := messaging.Of(s.Deps).WhatsAppMessages()
	for _, st := range []messages.Status{messages.StatusRead, messages.StatusDelivered} {
		if err := wa.ApplyStatus(t.Context(), ten.ID, ten.ChannelID, wamid, st, s.Clock.Now(), nil); err != nil {
			t.Fatalf("early %s: %v", st, err)
		}
	}
	s.Pipeline()
	m := waitStatus(t, s, ten.Token, id, messages.StatusRead)
	if got := prov.Requests(); len(got) != 1 || got[0].ID != wamid || m["provider_message_id"] != wamid || m["sent_at"] == nil {
		t.Fatalf("message %v, provider requests %+v", m, got)
	}
	// Later callbacks find the message and still never move it back.
	if err := wa.ApplyStatus(t.Context(), ten.ID, ten.ChannelID, wamid, messages.StatusDelivered, s.Clock.Now(), nil); err != nil {
		t.Fatal(err)
	}
	r := s.Do("GET", "/v1/messages/"+id, bearer(ten.Token), nil)
	if stacktest.Path(r.JSON, "data.status") != "read" {
		t.Fatalf("after a late delivered: %s", r.Body)
	}
}
