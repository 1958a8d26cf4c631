package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/whatsapp"
)

const (
	appSecret = "sandbox-test-app-secret"
	token     = "EAAGsandboxTOKEN123"
	pnid      = "106540352242922"
	waba      = "102290129340398"
	contact   = "923001234567"
)

// receiver is a webhook endpoint that checks signatures and keeps what
// it received.
type receiver struct {
	mu       sync.Mutex
	payloads []whatsapp.WebhookPayload
	badSigs  int
	failNext int // answer 500 to this many calls first
	got      chan struct{}
}

func newReceiver() *receiver { return &receiver{got: make(chan struct{}, 1000)} }

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !whatsapp.VerifySignature(appSecret, r.Header.Get(whatsapp.SignatureHeader), body) {
		rc.badSigs++
		w.WriteHeader(403)
		return
	}
	if rc.failNext > 0 {
		rc.failNext--
		w.WriteHeader(500)
		return
	}
	var p whatsapp.WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		w.WriteHeader(400)
		return
	}
	rc.payloads = append(rc.payloads, p)
	w.WriteHeader(200)
	rc.got <- struct{}{}
}

// statuses returns the statuses received for a wamid, in order.
func (rc *receiver) statuses(wamid string) []whatsapp.Status {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []whatsapp.Status
	for _, p := range rc.payloads {
		for _, e := range p.Entry {
			for _, c := range e.Changes {
				if c.Field != "messages" {
					continue
				}
				var v whatsapp.MessagesValue
				_ = json.Unmarshal(c.Value, &v)
				for _, s := range v.Statuses {
					if s.ID == wamid {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

func (rc *receiver) waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-rc.got:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatal("timed out waiting for webhooks")
		}
	}
}

type fixture struct {
	sb     *sandbox.Server
	rc     *receiver
	client *whatsapp.Client
	cred   whatsapp.Credentials
}

func start(t *testing.T, opt sandbox.Options) *fixture {
	t.Helper()
	rc := newReceiver()
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	opt.AppSecret = appSecret
	opt.WebhookURL = hook.URL + "/v1/webhooks/whatsapp"
	if opt.Tokens == nil {
		opt.Tokens = []string{token}
	}
	if opt.StatusDelay == 0 {
		opt.StatusDelay = time.Millisecond
	}
	if opt.WebhookRetries == nil {
		opt.WebhookRetries = []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}
	}
	opt.Templates = append(opt.Templates, sandbox.Template{Name: "order_update", Language: "en", Category: "UTILITY",
		Components: []whatsapp.TemplateDefComponent{{Type: "BODY", Text: "Hi {{1}}, order {{2}} is on its way."}}})
	sb, err := sandbox.Listen("127.0.0.1:0", opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	c, err := whatsapp.New(whatsapp.Config{BaseURL: sb.URL, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{sb: sb, rc: rc, client: c, cred: whatsapp.Credentials{AccessToken: token, PhoneNumberID: pnid, WABAID: waba}}
}

func textMsg(id, body string) messages.Message {
	return messages.Message{ID: id, Type: messages.TypeText, To: "+" + contact, Text: &messages.Text{Body: body}}
}

func TestSendEveryKindAndStatusWebhooks(t *testing.T) {
	f := start(t, sandbox.Options{})
	ctx := context.Background()
	f.sb.OpenWindow(contact, time.Now())
	msgs := []messages.Message{
		textMsg("msg_text1", "Hello there https://example.com"),
		{ID: "msg_tpl1", Type: messages.TypeTemplate, To: "+" + contact, Template: &messages.Template{Name: "order_update", Language: "en", Params: []string{"Ali", "42"}}},
		{ID: "msg_img1", Type: messages.TypeMedia, To: "+" + contact, Media: &messages.Media{Kind: messages.MediaImage, Link: "https://example.com/a.jpg", Caption: "look"}},
		{ID: "msg_doc1", Type: messages.TypeMedia, To: "+" + contact, Media: &messages.Media{Kind: messages.MediaDocument, Link: "https://example.com/a.pdf", Caption: "invoice", Filename: "a.pdf"}},
		{ID: "msg_aud1", Type: messages.TypeMedia, To: "+" + contact, Media: &messages.Media{Kind: messages.MediaAudio, Link: "https://example.com/a.ogg"}},
		{ID: "msg_vid1", Type: messages.TypeMedia, To: "+" + contact, Media: &messages.Media{Kind: messages.MediaVideo, Link: "http://example.com/a.mp4", Caption: "clip"}},
	}
	for _, m := range msgs {
		sent, err := f.client.Send(ctx, f.cred, m)
		if err != nil {
			t.Fatalf("%s: %v", m.ID, err)
		}
		if !strings.HasPrefix(sent.WAMID, "wamid.") || sent.WaID != contact {
			t.Fatalf("%s: sent %+v", m.ID, sent)
		}
		f.rc.waitFor(t, func() bool { return len(f.rc.statuses(sent.WAMID)) == 3 })
		sts := f.rc.statuses(sent.WAMID)
		for i, want := range []string{"sent", "delivered", "read"} {
			if sts[i].Status != want || sts[i].RecipientID != contact || sts[i].BizOpaqueCallbackData != m.ID {
				t.Fatalf("%s: status %d = %+v, want %s for %s", m.ID, i, sts[i], want, m.ID)
			}
		}
	}
	recs := f.sb.Messages()
	if len(recs) != len(msgs) {
		t.Fatalf("the sandbox kept %d messages, want %d", len(recs), len(msgs))
	}
	wantTypes := []string{"text", "template", "image", "document", "audio", "video"}
	for i, r := range recs {
		if r.Type != wantTypes[i] || r.PhoneNumberID != pnid || r.Status != "read" {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	if f.rc.badSigs != 0 {
		t.Fatalf("%d webhook calls with a bad signature", f.rc.badSigs)
	}
}

func TestErrorClasses(t *testing.T) {
	f := start(t, sandbox.Options{})
	ctx := context.Background()
	cases := []struct {
		name      string
		cred      whatsapp.Credentials
		msg       messages.Message
		code      int
		status    int
		retryable bool
	}{
		{"outside the window", f.cred, textMsg("m1", "hi"), 131047, 400, false},
		{"unknown template", f.cred, messages.Message{ID: "m2", Type: messages.TypeTemplate, To: contact, Template: &messages.Template{Name: "nope", Language: "en"}}, 132001, 404, false},
		{"known template, other language", f.cred, messages.Message{ID: "m3", Type: messages.TypeTemplate, To: contact, Template: &messages.Template{Name: "order_update", Language: "de", Params: []string{"a", "b"}}}, 132001, 404, false},
		{"parameter count", f.cred, messages.Message{ID: "m4", Type: messages.TypeTemplate, To: contact, Template: &messages.Template{Name: "order_update", Language: "en", Params: []string{"a"}}}, 132000, 400, false},
		{"bad token", whatsapp.Credentials{AccessToken: "EAAGwrongtoken", PhoneNumberID: pnid}, textMsg("m5", "hi"), 190, 401, false},
	}
	for _, c := range cases {
		_, err := f.client.Send(ctx, c.cred, c.msg)
		e, ok := whatsapp.AsError(err)
		if !ok {
			t.Fatalf("%s: %v, want a *whatsapp.Error", c.name, err)
		}
		if e.Code != c.code || e.HTTPStatus != c.status || e.Retryable() != c.retryable || whatsapp.IsRetryable(err) != c.retryable {
			t.Fatalf("%s: %+v, want code %d, HTTP %d, retryable %v", c.name, e, c.code, c.status, c.retryable)
		}
		if e.Message == "" || e.FBTraceID == "" || e.Type != "OAuthException" {
			t.Fatalf("%s: the error object was not read whole: %+v", c.name, e)
		}
		if fl := e.Failure(); fl.Code != fmt.Sprint(c.code) || fl.Message == "" {
			t.Fatalf("%s: failure %+v", c.name, fl)
		}
	}
	// 131047's details say why.
	_, err := f.client.Send(ctx, f.cred, textMsg("m6", "hi"))
	if e, _ := whatsapp.AsError(err); !strings.Contains(e.Details, "24 hours") {
		t.Fatalf("131047 details: %q", e.Details)
	}
	// Malformed input the client would not send: code 100.
	_, err = f.client.SendRequest(ctx, f.cred, whatsapp.SendRequest{MessagingProduct: "whatsapp", To: contact, Type: "text", Text: &whatsapp.TextObject{Body: ""}})
	if e, ok := whatsapp.AsError(err); !ok || e.Code != 100 || e.HTTPStatus != 400 || e.Retryable() {
		t.Fatalf("empty text: %v", err)
	}
	_, err = f.client.SendRequest(ctx, f.cred, whatsapp.SendRequest{MessagingProduct: "whatsapp", To: "12ab", Type: "text", Text: &whatsapp.TextObject{Body: "x"}})
	if e, ok := whatsapp.AsError(err); !ok || e.Code != 100 {
		t.Fatalf("bad to: %v", err)
	}
	// Nothing of that was recorded.
	if n := len(f.sb.Messages()); n != 0 {
		t.Fatalf("%d refused messages were recorded", n)
	}
	// Inside the window the same text goes.
	f.sb.OpenWindow(contact, time.Now())
	if _, err := f.client.Send(ctx, f.cred, textMsg("m7", "hi")); err != nil {
		t.Fatal(err)
	}
	// A window 25 hours old is closed.
	f.sb.OpenWindow(contact, time.Now().Add(-25*time.Hour))
	if _, err := f.client.Send(ctx, f.cred, textMsg("m8", "hi")); err == nil {
		t.Fatal("a 25-hour-old window let a text through")
	}
}

func TestRateLimitAndTimeouts(t *testing.T) {
	// One second that does not pass: exactly 2 of 10 sends go.
	now := time.Now()
	f := start(t, sandbox.Options{Faults: sandbox.Faults{RatePerSecond: 2}, Now: func() time.Time { return now }})
	ctx := context.Background()
	f.sb.OpenWindow(contact, now)
	var limited int
	for i := range 10 {
		_, err := f.client.Send(ctx, f.cred, textMsg(fmt.Sprintf("r%d", i), "hi"))
		if e, ok := whatsapp.AsError(err); ok {
			if e.Code != 130429 || e.HTTPStatus != 429 || !e.Retryable() {
				t.Fatalf("over the rate: %+v", e)
			}
			limited++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if limited != 8 {
		t.Fatalf("%d of 10 sends in one second rate-limited at 2/s, want 8", limited)
	}
	// A hang is a client timeout: retryable, and nothing recorded.
	if err := f.sb.SetFaults(sandbox.Faults{HangPct: 100, HangFor: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	before := len(f.sb.Messages())
	short, _ := whatsapp.New(whatsapp.Config{BaseURL: f.sb.URL, Timeout: 100 * time.Millisecond})
	_, err := short.Send(ctx, f.cred, textMsg("hang1", "hi"))
	e, ok := whatsapp.AsError(err)
	if !ok || !e.Retryable() || e.HTTPStatus != 0 || e.Failure().Code != "timeout" {
		t.Fatalf("hang: %v (%+v)", err, e)
	}
	if len(f.sb.Messages()) != before {
		t.Fatal("a hung send was recorded")
	}
	// Faults 429 and 500 carry Meta's error objects.
	_ = f.sb.SetFaults(sandbox.Faults{Fail500Pct: 100})
	_, err = f.client.Send(ctx, f.cred, textMsg("f500", "hi"))
	if e, ok := whatsapp.AsError(err); !ok || e.Code != 131000 || e.HTTPStatus != 500 || !e.Retryable() {
		t.Fatalf("500 fault: %v", err)
	}
	_ = f.sb.SetFaults(sandbox.Faults{Fail429Pct: 100})
	_, err = f.client.Send(ctx, f.cred, textMsg("f429", "hi"))
	if e, ok := whatsapp.AsError(err); !ok || e.Code != 130429 || !e.Retryable() || e.RetryAfter != time.Second {
		t.Fatalf("429 fault: %v %+v", err, e)
	}
}

// The fault shares hold over many sends, and a message retried until it
// goes is recorded once.
func TestFaultInjectionStatistics(t *testing.T) {
	f := start(t, sandbox.Options{Seed: 7, Statuses: []string{"sent"},
		Faults: sandbox.Faults{Fail429Pct: 20, Fail500Pct: 10, HangPct: 5, HangFor: 2 * time.Second}})
	f.sb.OpenWindow(contact, time.Now())
	short, _ := whatsapp.New(whatsapp.Config{BaseURL: f.sb.URL, Timeout: 750 * time.Millisecond})
	const n = 400
	var mu sync.Mutex
	attempts := 0
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for {
				mu.Lock()
				attempts++
				mu.Unlock()
				_, err := short.Send(context.Background(), f.cred, textMsg(fmt.Sprintf("stat%d", i), "hi"))
				if err == nil {
					return
				}
				if !whatsapp.IsRetryable(err) {
					t.Errorf("send %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := f.sb.Stats()
	if st.Accepted != n || st.Duplicates != 0 || len(f.sb.Messages()) != n {
		t.Fatalf("accepted %d, duplicates %d, want %d and 0", st.Accepted, st.Duplicates, n)
	}
	for i := range n {
		if got := f.sb.Sends(fmt.Sprintf("stat%d", i)); got != 1 {
			t.Fatalf("message %d sent %d times", i, got)
		}
	}
	if st.Requests != attempts {
		t.Fatalf("the sandbox counted %d requests, the client made %d", st.Requests, attempts)
	}
	// 35 % of requests fail: ~615 requests for 400 messages. Each share
	// within a wide band of its expectation (binomial, 6 sigma).
	share := func(k int) float64 { return 100 * float64(k) / float64(st.Requests) }
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{{"429", share(st.Faults429), 20}, {"500", share(st.Faults500), 10}, {"hang", share(st.Hangs), 5}} {
		sigma := 100 * sqrt(c.want/100*(1-c.want/100)/float64(st.Requests))
		if d := c.got - c.want; d > 6*sigma || d < -6*sigma {
			t.Errorf("%s: %.1f %% of %d requests, want %v %% ± %.1f", c.name, c.got, st.Requests, c.want, 6*sigma)
		}
	}
}

func sqrt(x float64) float64 {
	z := x
	for range 50 {
		if z == 0 {
			return 0
		}
		z = (z + x/z) / 2
	}
	return z
}

func TestUndeliverableAndAsyncWindow(t *testing.T) {
	f := start(t, sandbox.Options{AsyncWindowErrors: true})
	ctx := context.Background()
	// Outside the window, with async errors: accepted, then failed 131047.
	sent, err := f.client.Send(ctx, f.cred, textMsg("a1", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	f.rc.waitFor(t, func() bool { return len(f.rc.statuses(sent.WAMID)) == 1 })
	st := f.rc.statuses(sent.WAMID)[0]
	if st.Status != "failed" || len(st.Errors) != 1 || st.Errors[0].Code != 131047 {
		t.Fatalf("async window error: %+v", st)
	}
	// An undeliverable number: failed 131026.
	f.sb.OpenWindow("15550009999", time.Now())
	f.sb.SetUndeliverable("15550009999", true)
	sent, err = f.client.Send(ctx, f.cred, messages.Message{ID: "u1", Type: messages.TypeText, To: "+15550009999", Text: &messages.Text{Body: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	f.rc.waitFor(t, func() bool { return len(f.rc.statuses(sent.WAMID)) == 1 })
	st = f.rc.statuses(sent.WAMID)[0]
	if st.Status != "failed" || st.Errors[0].Code != 131026 || st.Errors[0].ErrorData == nil {
		t.Fatalf("undeliverable: %+v", st)
	}
}

func TestWebhookRetriesAndInbound(t *testing.T) {
	f := start(t, sandbox.Options{})
	f.rc.mu.Lock()
	f.rc.failNext = 2
	f.rc.mu.Unlock()
	// The contact writes: the webhook's first call fails, the retries bring it.
	resp, err := http.Post(f.sb.URL+"/_sandbox/inbound", "application/json",
		strings.NewReader(`{"from":"`+contact+`","text":"hi","name":"Ali","phone_number_id":"`+pnid+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		ID            string `json:"id"`
		WebhookStatus int    `json:"webhook_status"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || out.WebhookStatus != 500 || !strings.HasPrefix(out.ID, "wamid.") {
		t.Fatalf("inbound: %d %+v", resp.StatusCode, out)
	}
	f.rc.waitFor(t, func() bool {
		f.rc.mu.Lock()
		defer f.rc.mu.Unlock()
		return len(f.rc.payloads) == 1
	})
	var v whatsapp.MessagesValue
	_ = json.Unmarshal(f.rc.payloads[0].Entry[0].Changes[0].Value, &v)
	if len(v.Messages) != 1 || v.Messages[0].Text.Body != "hi" || v.Messages[0].From != contact || v.Contacts[0].Profile.Name != "Ali" || v.Metadata.PhoneNumberID != pnid {
		t.Fatalf("inbound webhook: %+v", v)
	}
	// It opened the window.
	if _, err := f.client.Send(context.Background(), f.cred, textMsg("w1", "hello back")); err != nil {
		t.Fatal(err)
	}
	var calls []sandbox.WebhookCall
	for deadline := time.Now().Add(5 * time.Second); len(calls) < 3 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		calls = slices.DeleteFunc(f.sb.Calls(), func(c sandbox.WebhookCall) bool { return c.Kind != "message" })
	}
	if len(calls) != 3 || calls[0].Status != 500 || calls[1].Status != 500 || calls[2].Status != 200 || calls[2].Kind != "message" {
		t.Fatalf("calls: %+v", calls[:3])
	}
}

func TestProfileAndTemplates(t *testing.T) {
	f := start(t, sandbox.Options{})
	ctx := context.Background()
	p := whatsapp.Profile{About: "We sell shoes", Address: "1 Main St", Description: "Shoes.", Email: "hi@example.com", Vertical: "RETAIL", Websites: []string{"https://example.com"}}
	if err := f.client.UpdateProfile(ctx, f.cred, p); err != nil {
		t.Fatal(err)
	}
	// An empty field leaves the stored one.
	if err := f.client.UpdateProfile(ctx, f.cred, whatsapp.Profile{About: "New about"}); err != nil {
		t.Fatal(err)
	}
	got, err := f.client.GetProfile(ctx, f.cred)
	if err != nil {
		t.Fatal(err)
	}
	p.About = "New about"
	if fmt.Sprint(got) != fmt.Sprint(p) {
		t.Fatalf("profile %+v, want %+v", got, p)
	}
	// The client checks WhatsApp's limits before sending.
	if err := f.client.UpdateProfile(ctx, f.cred, whatsapp.Profile{Vertical: "SHOES"}); !errors.Is(err, whatsapp.ErrInvalid) {
		t.Fatalf("bad vertical: %v", err)
	}
	// The sandbox checks them too: code 100.
	resp := rawPost(t, f.sb.URL+"/v23.0/"+pnid+"/whatsapp_business_profile", `{"messaging_product":"whatsapp","email":"not-an-email"}`)
	if resp.StatusCode != 400 || !strings.Contains(resp.body, `"code":100`) {
		t.Fatalf("bad email at the sandbox: %d %s", resp.StatusCode, resp.body)
	}

	def := whatsapp.TemplateDef{Name: "welcome_back", Language: "en_US", Category: "MARKETING",
		Components: []whatsapp.TemplateDefComponent{{Type: "BODY", Text: "Welcome back {{1}}!", Example: &whatsapp.TemplateExample{BodyText: [][]string{{"Ali"}}}}}}
	created, err := f.client.CreateTemplate(ctx, f.cred, def)
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Status != "APPROVED" || created.Category != "MARKETING" {
		t.Fatalf("created %+v", created)
	}
	// Its status webhook.
	f.rc.waitFor(t, func() bool {
		f.rc.mu.Lock()
		defer f.rc.mu.Unlock()
		for _, p := range f.rc.payloads {
			if p.Entry[0].Changes[0].Field == "message_template_status_update" {
				var v whatsapp.TemplateStatusValue
				_ = json.Unmarshal(p.Entry[0].Changes[0].Value, &v)
				return v.Event == "APPROVED" && v.MessageTemplateName == "welcome_back" && fmt.Sprint(v.MessageTemplateID) == created.ID && p.Entry[0].ID == waba
			}
		}
		return false
	})
	// Twice is refused.
	if _, err := f.client.CreateTemplate(ctx, f.cred, def); err == nil {
		t.Fatal("the same template was created twice")
	}
	// Listed, by name and by page.
	page, err := f.client.ListTemplates(ctx, f.cred, "welcome_back", "", 0)
	if err != nil || len(page.Templates) != 1 || page.Templates[0].Status != "APPROVED" {
		t.Fatalf("list: %+v %v", page, err)
	}
	for i := range 3 {
		d := def
		d.Name = fmt.Sprintf("promo_%d", i)
		if _, err := f.client.CreateTemplate(ctx, f.cred, d); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	after := ""
	for {
		page, err := f.client.ListTemplates(ctx, f.cred, "", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, t := range page.Templates {
			names = append(names, t.Name)
		}
		if after = page.After; after == "" {
			break
		}
	}
	if strings.Join(names, ",") != "welcome_back,promo_0,promo_1,promo_2" {
		t.Fatalf("listed %v", names)
	}
	// It can be sent at once.
	if _, err := f.client.Send(ctx, f.cred, messages.Message{ID: "t1", Type: messages.TypeTemplate, To: contact, Template: &messages.Template{Name: "welcome_back", Language: "en_US", Params: []string{"Ali"}}}); err != nil {
		t.Fatal(err)
	}
}

type rawResp struct {
	StatusCode int
	body       string
}

func rawPost(t *testing.T, url, body string) rawResp {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResp{resp.StatusCode, string(b)}
}

func TestControlEndpointsAndPage(t *testing.T) {
	f := start(t, sandbox.Options{})
	f.sb.OpenWindow(contact, time.Now())
	if _, err := f.client.Send(context.Background(), f.cred, textMsg("c1", "<b>hello</b>")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(f.sb.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "&lt;b&gt;hello&lt;/b&gt;") || strings.Contains(string(b), "<b>hello") {
		t.Fatal("the page does not show the message, escaped")
	}
	resp, _ = http.Get(f.sb.URL + "/_sandbox/messages?to=" + contact)
	var list struct {
		Count    int              `json:"count"`
		Messages []sandbox.Record `json:"messages"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if list.Count != 1 || list.Messages[0].Opaque != "c1" {
		t.Fatalf("messages: %+v", list)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"PUT", "/_sandbox/faults", `{"fail_429_pct":30,"fail_500_pct":10,"hang_pct":5,"hang_ms":1000}`, 200},
		{"PUT", "/_sandbox/faults", `{"fail_429_pct":90,"fail_500_pct":20}`, 400},
		{"PUT", "/_sandbox/faults", `{"nope":1}`, 400},
		{"POST", "/_sandbox/window", `{"wa_id":"123"}`, 400},
		{"POST", "/_sandbox/window", `{"wa_id":"15551234567","open":false}`, 200},
		{"POST", "/_sandbox/inbound", `{"from":"x"}`, 400},
		{"GET", "/_sandbox/nothing", ``, 404},
	} {
		req, _ := http.NewRequest(c.method, f.sb.URL+c.path, strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("%s %s %s: %d, want %d", c.method, c.path, c.body, resp.StatusCode, c.status)
		}
	}
	if fl := f.sb.CurrentFaults(); fl.Fail429Pct != 30 || fl.HangFor != time.Second {
		t.Fatalf("faults %+v", fl)
	}
}

func TestOptionsFromEnv(t *testing.T) {
	env := map[string]string{
		sandbox.EnvTokens: "a1234567, b1234567", sandbox.EnvFail429: "30", sandbox.EnvFail500: "0.5", sandbox.EnvHang: "5",
		sandbox.EnvHangMS: "1500", sandbox.EnvRate: "80", sandbox.EnvAsyncWindow: "true", sandbox.EnvStatusDelayMS: "5",
		sandbox.EnvTemplates: "template_name:en; order_update:en_US:Hi {{1}}", sandbox.EnvOutOfOrder: "1", sandbox.EnvDuplicate: "true",
	}
	o, err := sandbox.OptionsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Tokens) != 2 || o.Tokens[1] != "b1234567" || o.Faults.Fail429Pct != 30 || o.Faults.Fail500Pct != 0.5 || o.Faults.HangPct != 5 ||
		o.Faults.HangFor != 1500*time.Millisecond || o.Faults.RatePerSecond != 80 || !o.AsyncWindowErrors || o.StatusDelay != 5*time.Millisecond ||
		len(o.Templates) != 2 || o.Templates[1].Components[0].Text != "Hi {{1}}" || o.Templates[0].Name != "template_name" ||
		!o.Faults.OutOfOrderStatuses || !o.Faults.DuplicateWebhooks {
		t.Fatalf("%+v", o)
	}
	if _, err := sandbox.New(o); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{sandbox.EnvFail429: "lots", sandbox.EnvHang: "120", sandbox.EnvAsyncWindow: "maybe", sandbox.EnvTemplates: "justaname"} {
		if _, err := sandbox.OptionsFromEnv(func(key string) string { return map[string]string{k: v}[key] }); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
}

// FuzzSendBody: whatever a client posts, the sandbox answers 200 or a 4xx
// with Meta's error object, never a 5xx (faults are off).
func FuzzSendBody(f *testing.F) {
	f.Add(`{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}}`)
	f.Add(`{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"order_update","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}}`)
	f.Add(`{"messaging_product":"whatsapp","to":"15551234567","type":"image","image":{}}`)
	f.Add(`{"type":"audio","audio":null}`)
	f.Add(`[]`)
	sb, err := sandbox.New(sandbox.Options{Tokens: []string{token}, Templates: []sandbox.Template{{Name: "order_update", Language: "en",
		Components: []whatsapp.TemplateDefComponent{{Type: "BODY", Text: "Hi {{1}} {{2}}"}}}}})
	if err != nil {
		f.Fatal(err)
	}
	sb.OpenWindow("15551234567", time.Now())
	f.Cleanup(sb.Close)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/v23.0/"+pnid+"/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		sb.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%d for %q: %s", w.Code, body, w.Body)
		}
		if w.Code != 200 {
			var e struct {
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error.Code == 0 || e.Error.Message == "" {
				t.Fatalf("%d without an error object: %s", w.Code, w.Body)
			}
		}
	})
}

// Meta may post a message's statuses out of order and a webhook twice:
// the sandbox can do both, for the receivers' tests.
func TestOutOfOrderAndDuplicateStatuses(t *testing.T) {
	f := start(t, sandbox.Options{Faults: sandbox.Faults{OutOfOrderStatuses: true, DuplicateWebhooks: true}})
	f.sb.OpenWindow(contact, time.Now())
	sent, err := f.client.Send(context.Background(), f.cred, textMsg("o1", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	f.rc.waitFor(t, func() bool { return len(f.rc.statuses(sent.WAMID)) == 6 })
	var got []string
	for _, s := range f.rc.statuses(sent.WAMID) {
		got = append(got, s.Status)
	}
	if strings.Join(got, ",") != "read,read,delivered,delivered,sent,sent" {
		t.Fatalf("statuses %v", got)
	}
	f.sb.Wait()
	if r := f.sb.Messages()[0]; r.Status != "read" {
		t.Fatalf("the record shows %s, want the furthest status (read)", r.Status)
	}
}
