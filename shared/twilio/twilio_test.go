package twilio_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	tclient "github.com/twilio/twilio-go/client"

	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/shared/twilio"
)

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "0123456789abcdef0123456789abcdef"
)

// callbacks is a status callback receiver that checks each call's
// signature with Twilio's own validator.
type callbacks struct {
	mu    sync.Mutex
	got   []url.Values
	bad   int
	base  string
	token string
}

func (c *callbacks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	flat := map[string]string{}
	for k, v := range r.PostForm {
		flat[k] = v[0]
	}
	v := tclient.NewRequestValidator(c.token)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !v.Validate(c.base+r.URL.RequestURI(), flat, r.Header.Get("X-Twilio-Signature")) {
		c.bad++
		w.WriteHeader(http.StatusForbidden)
		return
	}
	c.got = append(c.got, r.PostForm)
}

func (c *callbacks) statuses(key string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, f := range c.got {
		if v := f.Get(key); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func setup(t *testing.T) (*sandbox.Sandbox, twilio.Credentials, *callbacks, string) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{TwilioAccounts: map[string]string{sid: token}, StatusDelay: time.Millisecond,
		WebhookRetries: []time.Duration{}})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(sb)
	cb := &callbacks{token: token}
	hook := httptest.NewServer(cb)
	cb.base = hook.URL
	t.Cleanup(func() { sb.Close(); api.Close(); hook.Close() })
	return sb, twilio.Credentials{AccountSID: sid, AuthToken: token, From: "+15005550006", BaseURL: api.URL}, cb, hook.URL + "/v1/webhooks/twilio/ten_x/ch_x"
}

func TestSMSAndCallThroughTheSandbox(t *testing.T) {
	sb, cr, cb, hook := setup(t)
	c := &twilio.Client{}
	ctx := context.Background()
	sent, err := c.SMS(ctx, cr, "+923001234567", "Hello & welcome", hook)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sent.SID, "SM") || len(sent.SID) != 34 || sent.Status != "queued" {
		t.Fatalf("sent = %+v", sent)
	}
	call, err := c.Call(ctx, cr, "+923001234567", twilio.SayTwiML("Your code is <1234> & \"more\""), hook)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(call.SID, "CA") {
		t.Fatalf("call = %+v", call)
	}
	sb.Wait()
	recs := sb.TwilioRecords()
	if len(recs) != 2 || recs[0].Body != "Hello & welcome" || recs[0].From != "+15005550006" || recs[0].Status != "delivered" {
		t.Fatalf("records = %+v", recs)
	}
	if recs[1].TwiML != "<Response><Say>Your code is &lt;1234&gt; &amp; &quot;more&quot;</Say></Response>" || recs[1].Status != "completed" {
		t.Fatalf("call record = %+v", recs[1])
	}
	if cb.bad != 0 {
		t.Fatalf("%d callbacks failed Twilio's signature check", cb.bad)
	}
	if got := strings.Join(cb.statuses("MessageStatus"), ","); got != "sent,delivered" {
		t.Fatalf("message statuses = %q", got)
	}
	if got := strings.Join(cb.statuses("CallStatus"), ","); got != "initiated,ringing,in-progress,completed" {
		t.Fatalf("call statuses = %q", got)
	}
}

func TestRefusals(t *testing.T) {
	sb, cr, _, _ := setup(t)
	sb.TwilioLandline("+442071234567", true)
	c := &twilio.Client{}
	ctx := context.Background()
	wrong := cr
	wrong.AuthToken = strings.Repeat("f", 32)
	for _, tc := range []struct {
		name      string
		send      func() error
		status    int
		code      string
		retryable bool
	}{
		{"bad token", func() error { _, err := c.SMS(ctx, wrong, "+923001234567", "x", ""); return err }, 401, "20003", false},
		{"invalid to", func() error { _, err := c.SMS(ctx, cr, "+0123", "x", ""); return err }, 400, "21211", false},
		{"empty body", func() error { _, err := c.SMS(ctx, cr, "+923001234567", " ", ""); return err }, 400, "21602", false},
		{"long body", func() error {
			_, err := c.SMS(ctx, cr, "+923001234567", strings.Repeat("a", twilio.MaxSMSChars+1), "")
			return err
		}, 400, "21617", false},
		{"landline", func() error { _, err := c.SMS(ctx, cr, "+442071234567", "x", ""); return err }, 400, "21614", false},
		{"long twiml", func() error {
			_, err := c.Call(ctx, cr, "+923001234567", twilio.SayTwiML(strings.Repeat("a", twilio.MaxTwiMLChars)), "")
			return err
		}, 400, "21219", false},
	} {
		err := tc.send()
		var te *twilio.Error
		if !errors.As(err, &te) || te.HTTPStatus != tc.status || te.ProviderCode() != tc.code || te.Retryable() != tc.retryable || te.Message == "" {
			t.Errorf("%s: err = %#v", tc.name, err)
		}
	}
	if n := len(sb.TwilioRecords()); n != 0 {
		t.Fatalf("%d refused requests recorded", n)
	}
}

func TestRetryableAnswersAndDeadline(t *testing.T) {
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hang") != "" || r.Header.Get("X-Hang") != "" {
			<-r.Context().Done()
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		if status == 0 {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}`)
	}))
	defer srv.Close()
	cr := twilio.Credentials{AccountSID: sid, AuthToken: token, From: "+15005550006", BaseURL: srv.URL}
	c := &twilio.Client{}
	status = http.StatusTooManyRequests
	_, err := c.SMS(context.Background(), cr, "+923001234567", "x", "")
	var te *twilio.Error
	if !errors.As(err, &te) || !te.Retryable() || te.ProviderCode() != "20429" {
		t.Fatalf("429: %#v", err)
	}
	// The call's context ends a hanging request (the library alone would
	// wait for its own client timeout).
	status = 0
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.SMS(ctx, cr, "+923001234567", "x", "")
	if !errors.As(err, &te) || !te.Retryable() || te.ProviderCode() != "timeout" {
		t.Fatalf("hang: %#v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("the deadline did not end the call (took %v)", time.Since(start))
	}
}

func TestSayTwiMLEscapes(t *testing.T) {
	got := twilio.SayTwiML(`a<b>&"c"'d` + "\x01")
	want := `<Response><Say>a&lt;b&gt;&amp;&quot;c&quot;&apos;d </Say></Response>`
	if got != want {
		t.Fatalf("SayTwiML = %q, want %q", got, want)
	}
	if inj := twilio.SayTwiML("</Say><Dial>+15551234567</Dial><Say>"); strings.Contains(inj, "<Dial>") {
		t.Fatalf("markup passed through: %s", inj)
	}
}

// TestSignMatchesTwilio: our signer agrees with Twilio's validator, and a
// change to the URL, a parameter or the token breaks it.
func TestSignMatchesTwilio(t *testing.T) {
	u := "https://api.example.com/v1/webhooks/twilio/ten_1/ch_1"
	p := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}, "To": {"+923001234567"}, "AccountSid": {sid}}
	sig := twilio.Sign(token, u, p)
	flat := map[string]string{}
	for k, v := range p {
		flat[k] = v[0]
	}
	v := tclient.NewRequestValidator(token)
	if !v.Validate(u, flat, sig) || !twilio.Valid(token, u, p, sig) {
		t.Fatal("Twilio's validator refuses our signature")
	}
	// The known vector of twilio-go's own validator test: this URL and
	// these parameters signed with auth token 12345.
	ex := url.Values{"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"}, "Caller": {"+14158675309"},
		"From": {"+14158675309"}, "ReasonConferenceEnded": {"test"}, "Reason": {"Participant"}}
	if got := twilio.Sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", ex); got != "vOEb5UThFn24KEfnOFLQY2AE5FY=" {
		t.Fatalf("signature of Twilio's example = %s", got)
	}
	p2 := url.Values{}
	for k, vs := range p {
		p2[k] = vs
	}
	p2.Set("MessageStatus", "failed")
	for _, bad := range []bool{
		twilio.Valid(token, u+"x", p, sig),
		twilio.Valid(token, u, p2, sig),
		twilio.Valid(strings.Repeat("1", 32), u, p, sig),
		twilio.Valid(token, u, p, ""),
	} {
		if bad {
			t.Fatal("a changed request passed")
		}
	}
}
