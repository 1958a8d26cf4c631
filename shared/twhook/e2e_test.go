package twhook_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/twhook"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

const (
	twFrom = "+15005550006"
	// undeliverable is the number the sandbox fails: its SMS end
	// undelivered (30003), its calls busy.
	undeliverable = "+923009999999"
)

// twilioStack is the whole stack on the emulators, its sender calling the
// provider sandbox's Twilio API with the channels' own credentials and
// asking for status callbacks at the stack's own twilio-status route; an
// SMS tenant and a voice tenant with Twilio credentials.
func twilioStack(t *testing.T) (*stacktest.Stack, *sandbox.Sandbox, stacktest.Tenant, stacktest.Tenant) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{TwilioAccounts: map[string]string{sid: token}, StatusDelay: time.Millisecond,
		WebhookRetries: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { sb.Close(); srv.Close() })
	sb.SetUndeliverable(strings.TrimPrefix(undeliverable, "+"), true)
	t.Setenv(messaging.EnvTwilioBaseURL, srv.URL)
	s := stacktest.New(t)
	t.Setenv(appenv.TwilioStatusCallbackURL, s.URL+"/v1/webhooks/twilio")
	sms, voice := s.NewTenant("Acme", "sms"), s.NewTenant("Beta", "voice")
	for _, ten := range []stacktest.Tenant{sms, voice} {
		svc := &tenancy.Service{Store: s.Deps.Tenancy(), Now: time.Now}
		if _, err := svc.SetTwilio(t.Context(), s.Deps.Tenancy(), ten.ID, ten.ChannelID,
			tenancy.TwilioInput{AccountSID: sid, AuthToken: token, From: twFrom}); err != nil {
			t.Fatal(err)
		}
	}
	s.Pipeline()
	return s, sb, sms, voice
}

func bearer(tok string) string { return "Bearer " + tok }

func send(t *testing.T, s *stacktest.Stack, tok, to, text string) string {
	t.Helper()
	r := s.Do("POST", "/v1/messages", bearer(tok), map[string]any{"to": to, "type": "text", "text": map[string]any{"body": text}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	return stacktest.Path(r.JSON, "data.id").(string)
}

// waitStatus polls GET /v1/messages/{id} until the message has status st.
func waitStatus(t *testing.T, s *stacktest.Stack, tok, id string, st messages.Status) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last stacktest.Response
	for time.Now().Before(deadline) {
		// 300 ms apart: within the channel token's 100 calls a minute.
		r := s.Do("GET", "/v1/messages/"+id, bearer(tok), nil)
		if r.Status != http.StatusTooManyRequests {
			last = r
		}
		if r.Status == http.StatusOK && stacktest.Path(r.JSON, "data.status") == string(st) {
			return r.JSON["data"].(map[string]any)
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("message %s never reached %s: %d %s", id, st, last.Status, last.Body)
	return nil
}

// twilioCallsDone waits until the sandbox posted every status of every
// record (its last status set and its callbacks logged), and returns the
// callbacks' log.
func twilioCallsDone(t *testing.T, sb *sandbox.Sandbox, callbacks int) []sandbox.WebhookCall {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var tw []sandbox.WebhookCall
		for _, c := range sb.Calls() {
			if strings.HasPrefix(c.Kind, "twilio:") {
				tw = append(tw, c)
			}
		}
		if len(tw) >= callbacks {
			return tw
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the sandbox posted fewer than %d Twilio callbacks: %+v", callbacks, sb.Calls())
	return nil
}

// POST /v1/messages on an SMS channel and a voice channel → outbox →
// sender → Twilio (the sandbox) → signed status callbacks to the stack's
// twilio-status route → GET /v1/messages/{id}: the SMS delivered, the call
// completed; to the sandbox's undeliverable number the SMS fails with
// Twilio's 30003 and the call with busy. Every callback is answered 200 at
// its first attempt (none retried), whichever came before the sender's
// sent write.
func TestStatusCallbacksEndToEnd(t *testing.T) {
	s, sb, sms, voice := twilioStack(t)
	smsID := send(t, s, sms.Token, "+923001234567", "Your code is 1234")
	callID := send(t, s, voice.Token, "+923001234567", "Your code is 1 2 3 4")
	badSMS := send(t, s, sms.Token, undeliverable, "Your code is 5678")
	badCall := send(t, s, voice.Token, undeliverable, "Your code is 5 6 7 8")

	m := waitStatus(t, s, sms.Token, smsID, messages.StatusDelivered)
	if m["delivered_at"] == nil || m["sent_at"] == nil || !strings.HasPrefix(m["provider_message_id"].(string), "SM") {
		t.Errorf("sms %v", m)
	}
	c := waitStatus(t, s, voice.Token, callID, messages.StatusCompleted)
	if c["completed_at"] == nil || !strings.HasPrefix(c["provider_message_id"].(string), "CA") {
		t.Errorf("call %v", c)
	}
	f := waitStatus(t, s, sms.Token, badSMS, messages.StatusFailed)
	if stacktest.Path(f, "error.code") != "30003" || !strings.Contains(stacktest.Path(f, "error.message").(string), "Unreachable") {
		t.Errorf("undelivered sms %v", f)
	}
	b := waitStatus(t, s, voice.Token, badCall, messages.StatusFailed)
	if stacktest.Path(b, "error.code") != "busy" {
		t.Errorf("busy call %v", b)
	}
	// sms: sent, delivered; call: initiated, ringing, in-progress,
	// completed; failing sms: sent, undelivered; failing call:
	// initiated, ringing, busy.
	for _, call := range twilioCallsDone(t, sb, 2+4+2+3) {
		if call.Status != http.StatusOK || call.Attempt != 1 {
			t.Errorf("callback %+v: want 200 at the first attempt", call)
		}
	}
	// Nothing moved back once the late ones came.
	time.Sleep(300 * time.Millisecond)
	waitStatus(t, s, sms.Token, smsID, messages.StatusDelivered)
	waitStatus(t, s, voice.Token, callID, messages.StatusCompleted)
}

// A callback that is not signed with the channel's auth token, or is
// signed for another URL, is answered 403 in the envelope and changes
// nothing; a signed replay of an old status ("sent" after "delivered")
// is answered 200 and changes nothing.
func TestForgedAndReplayedCallbacks(t *testing.T) {
	s, _, sms, _ := twilioStack(t)
	id := send(t, s, sms.Token, "+923001234567", "hello")
	m := waitStatus(t, s, sms.Token, id, messages.StatusDelivered)
	smsSID := m["provider_message_id"].(string)
	hook := s.URL + "/v1/webhooks/twilio/" + sms.ID + "/" + sms.ChannelID
	post := func(signedURL, tok string, f url.Values) stacktest.Response {
		req, _ := http.NewRequest("POST", hook, strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", twhook.Sign(tok, signedURL, f))
		return s.Send(req)
	}
	failed := url.Values{"MessageSid": {smsSID}, "MessageStatus": {"failed"}, "ErrorCode": {"30008"}, "AccountSid": {sid}}
	for name, r := range map[string]stacktest.Response{
		"wrong token":   post(hook, "ffffffffffffffffffffffffffffffff", failed),
		"other URL":     post(hook+"x", token, failed),
		"other channel": post(s.URL+"/v1/webhooks/twilio/"+sms.ID+"/ch_other", token, failed),
	} {
		if r.Status != http.StatusForbidden || stacktest.Path(r.JSON, "status") != "error" || !strings.Contains(string(r.Body), "X-Twilio-Signature") {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := post(hook, token, url.Values{"MessageSid": {smsSID}, "MessageStatus": {"sent"}, "AccountSid": {sid}}); r.Status != http.StatusOK {
		t.Fatalf("replay: %d %s", r.Status, r.Body)
	}
	got := waitStatus(t, s, sms.Token, id, messages.StatusDelivered)
	if got["failed_at"] != nil || got["error"] != nil || got["delivered_at"] != m["delivered_at"] {
		t.Fatalf("after forged and replayed callbacks: %v, was %v", got, m)
	}
}
