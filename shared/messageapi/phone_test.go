package messageapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

const (
	twSID   = "AC00000000000000000000000000000042"
	twToken = "0123456789abcdef0123456789abcdef"
	twFrom  = "+15005550006"
)

// twilioStack is a stack whose sender calls the provider sandbox's Twilio
// API with the channels' own credentials (read from the table), and a
// tenant with an SMS channel and another with a voice channel, both with
// Twilio credentials.
func twilioStack(t *testing.T) (*stacktest.Stack, *sandbox.Sandbox, stacktest.Tenant, stacktest.Tenant) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{TwilioAccounts: map[string]string{twSID: twToken}, StatusDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { sb.Close(); srv.Close() })
	t.Setenv(messaging.EnvTwilioBaseURL, srv.URL)
	s := stacktest.New(t)
	sms, voice := s.NewTenant("Acme", "sms"), s.NewTenant("Beta", "voice")
	for _, ten := range []stacktest.Tenant{sms, voice} {
		svc := &tenancy.Service{Store: s.Deps.Tenancy(), Now: time.Now}
		if _, err := svc.SetTwilio(t.Context(), s.Deps.Tenancy(), ten.ID, ten.ChannelID,
			tenancy.TwilioInput{AccountSID: twSID, AuthToken: twToken, From: twFrom}); err != nil {
			t.Fatal(err)
		}
	}
	return s, sb, sms, voice
}

// An SMS and a call accepted by POST /v1/messages go stream → router →
// outbox → sender → Twilio (the sandbox), once each, and end sent with
// Twilio's SID; the call says the text, escaped.
func TestSMSAndCallThroughThePipeline(t *testing.T) {
	s, sb, sms, voice := twilioStack(t)
	s.Pipeline()
	smsID := send(t, s, sms.Token, map[string]any{"to": "+923001234567", "type": "text", "text": map[string]any{"body": "Your code is 1234"}})
	callID := send(t, s, voice.Token, map[string]any{"to": "03001234567", "type": "text", "text": map[string]any{"body": "Press <1> & wait"}})
	m := waitStatus(t, s, sms.Token, smsID, messages.StatusSent)
	c := waitStatus(t, s, voice.Token, callID, messages.StatusSent)
	recs := sb.TwilioRecords()
	if len(recs) != 2 {
		t.Fatalf("sandbox got %d requests, want 2: %+v", len(recs), recs)
	}
	byKind := map[string]sandbox.TwilioRecord{}
	for _, r := range recs {
		byKind[r.Kind] = r
	}
	if r := byKind["sms"]; r.Body != "Your code is 1234" || r.To != "+923001234567" || r.From != twFrom || m["provider_message_id"] != r.SID {
		t.Fatalf("sms %+v, message %v", r, m)
	}
	if r := byKind["call"]; r.TwiML != "<Response><Say>Press &lt;1&gt; &amp; wait</Say></Response>" || r.To != "+923001234567" || c["provider_message_id"] != r.SID {
		t.Fatalf("call %+v, message %v", r, c)
	}
	if !strings.HasPrefix(m["provider_message_id"].(string), "SM") || !strings.HasPrefix(c["provider_message_id"].(string), "CA") {
		t.Fatalf("SIDs %v %v", m["provider_message_id"], c["provider_message_id"])
	}
	// Nothing is sent again.
	time.Sleep(1500 * time.Millisecond)
	if n := len(sb.TwilioRecords()); n != 2 {
		t.Fatalf("sandbox got %d requests after a while, want 2", n)
	}
}

// Bad input on SMS and voice channels: a 4xx in the envelope, nothing
// stored or sent.
func TestSMSAndCallRefusals(t *testing.T) {
	s, sb, sms, voice := twilioStack(t)
	for _, tc := range []struct {
		name   string
		tok    string
		body   map[string]any
		status int
		says   string
	}{
		{"invalid number", sms.Token, map[string]any{"to": "12", "type": "text", "text": map[string]any{"body": "hi"}}, 400, "not a valid phone number"},
		{"fixed line", sms.Token, map[string]any{"to": "+442071234567", "type": "text", "text": map[string]any{"body": "hi"}}, 422, "fixed-line"},
		{"empty text", sms.Token, map[string]any{"to": "+923001234567", "type": "text", "text": map[string]any{"body": "  "}}, 400, "empty"},
		{"sms over 1600", sms.Token, map[string]any{"to": "+923001234567", "type": "text", "text": map[string]any{"body": strings.Repeat("a", 1601)}}, 400, "at most 1600"},
		{"twiml over 4000", voice.Token, map[string]any{"to": "+923001234567", "type": "text", "text": map[string]any{"body": strings.Repeat("&", 900)}}, 400, "at most 4000"},
		{"template on sms", sms.Token, template, 400, "must be text"},
	} {
		r := s.Do("POST", "/v1/messages", bearer(tc.tok), tc.body)
		if r.Status != tc.status || stacktest.Path(r.JSON, "status") != "error" || !strings.Contains(string(r.Body), tc.says) {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
		}
	}
	// A landline gets its call.
	r := s.Do("POST", "/v1/messages", bearer(voice.Token), map[string]any{"to": "+442071234567", "type": "text", "text": map[string]any{"body": "hi"}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("call to a landline: %d %s", r.Status, r.Body)
	}
	s.Pipeline()
	waitStatus(t, s, voice.Token, stacktest.Path(r.JSON, "data.id").(string), messages.StatusSent)
	if n := len(sb.TwilioRecords()); n != 1 {
		t.Fatalf("sandbox got %d requests, want the one call", n)
	}
}
