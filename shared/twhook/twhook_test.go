package twhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	tclient "github.com/twilio/twilio-go/client"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/twhook"
	"github.com/startmsg/chatbackend/shared/twilio"
)

const (
	token = "0123456789abcdef0123456789abcdef"
	sid   = "AC00000000000000000000000000000042"
)

// The signature is Twilio's: the same as twilio-go's RequestValidator
// (and the sandbox's signer, shared/twilio) computes, for URLs with and
// without a query and a port, and for any parameters.
func TestSignatureMatchesTwilios(t *testing.T) {
	v := tclient.NewRequestValidator(token)
	for _, u := range []string{
		"https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1/webhooks/twilio/ten_1/ch_1",
		"https://example.com/v1/webhooks/twilio/ten_1/ch_1?x=1&a=b%20c",
		"https://example.com:443/cb",
		"http://127.0.0.1:4460/v1/webhooks/twilio/ten_1/ch_1",
	} {
		f := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}, "To": {"+923001234567"}, "Body": {"a & b = ü"}}
		flat := map[string]string{}
		for k, vs := range f {
			flat[k] = vs[0]
		}
		sig := twhook.Sign(token, u, f)
		if sig != twilio.Sign(token, u, f) {
			t.Errorf("%s: differs from shared/twilio's signer", u)
		}
		if !v.Validate(u, flat, sig) {
			t.Errorf("%s: twilio-go does not validate our signature", u)
		}
		if !twhook.Valid(token, []string{u}, f, sig) {
			t.Errorf("%s: our signature is not valid", u)
		}
	}
}

// Twilio's validators take the URL with and without its default port;
// so does ours. Any change of URL, parameter or token fails.
func TestSignatureRefusals(t *testing.T) {
	f := url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}}
	u := "https://example.com/v1/webhooks/twilio/ten_1/ch_1"
	sig := twhook.Sign(token, u, f)
	if !twhook.Valid(token, []string{"https://example.com:443/v1/webhooks/twilio/ten_1/ch_1"}, f, sig) {
		t.Error("the URL with :443 is the same URL")
	}
	if !twhook.Valid(token, []string{u}, f, twhook.Sign(token, "https://example.com:443/v1/webhooks/twilio/ten_1/ch_1", f)) {
		t.Error("a signature over the URL with :443 is valid")
	}
	other := url.Values{"CallSid": {"CA1"}, "CallStatus": {"failed"}}
	for name, ok := range map[string]bool{
		"wrong token":          twhook.Valid("ffffffffffffffffffffffffffffffff", []string{u}, f, sig),
		"changed parameter":    twhook.Valid(token, []string{u}, other, sig),
		"other channel":        twhook.Valid(token, []string{"https://example.com/v1/webhooks/twilio/ten_1/ch_2"}, f, sig),
		"http, not https":      twhook.Valid(token, []string{"http://example.com/v1/webhooks/twilio/ten_1/ch_1"}, f, sig),
		"other port":           twhook.Valid(token, []string{"https://example.com:8443/v1/webhooks/twilio/ten_1/ch_1"}, f, sig),
		"no signature":         twhook.Valid(token, []string{u}, f, ""),
		"no token":             twhook.Valid("", []string{u}, f, sig),
		"signature mangled":    twhook.Valid(token, []string{u}, f, strings.ToUpper(sig)),
		"added parameter":      twhook.Valid(token, []string{u}, url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}, "X": {""}}, sig),
		"query not in the URL": twhook.Valid(token, []string{u}, f, twhook.Sign(token, u+"?a=1", f)),
	} {
		if ok {
			t.Errorf("%s: valid", name)
		}
	}
}

// API Gateway hands the query over as a map: its order is lost. The URL
// Twilio signed is among the candidates, whichever order the edge gives.
func TestCallbackURLsWithAQuery(t *testing.T) {
	base := "https://example.com/prod/v1/webhooks/twilio/ten_1/ch_1"
	if got := twhook.CallbackURLs(base, ""); len(got) != 1 || got[0] != base {
		t.Fatalf("no query: %v", got)
	}
	signed := base + "?z=1&a=2&m=3&m=4"
	for _, given := range []string{"z=1&a=2&m=3&m=4", "a=2&m=3&m=4&z=1", "m=3&m=4&z=1&a=2"} {
		urls := twhook.CallbackURLs(base, given)
		found := false
		for _, u := range urls {
			found = found || u == signed
		}
		if !found {
			t.Errorf("given %s: %v lacks %s", given, urls, signed)
		}
		f := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"sent"}}
		if !twhook.Valid(token, urls, f, twhook.Sign(token, signed, f)) {
			t.Errorf("given %s: not valid", given)
		}
	}
	// Five names and more: as given and sorted only.
	if n := len(twhook.CallbackURLs(base, "e=1&d=1&c=1&b=1&a=1")); n != 2 {
		t.Errorf("five names: %d candidates, want 2", n)
	}
}

// Twilio's statuses in ours.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		form   url.Values
		kind   tenancy.ChannelKind
		status messages.Status
		code   string
		says   string
	}{
		{url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"queued"}}, tenancy.SMS, messages.StatusSent, "", ""},
		{url.Values{"SmsSid": {"SM1"}, "SmsStatus": {"sending"}}, tenancy.SMS, messages.StatusSent, "", ""},
		{url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"sent"}}, tenancy.SMS, messages.StatusSent, "", ""},
		{url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}}, tenancy.SMS, messages.StatusDelivered, "", ""},
		{url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"read"}}, tenancy.SMS, messages.StatusRead, "", ""},
		{url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}}, tenancy.SMS, messages.StatusFailed, "30003", "Unreachable destination handset"},
		{url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"failed"}, "ErrorCode": {"30008"}, "ErrorMessage": {"Unknown error"}}, tenancy.SMS, messages.StatusFailed, "30008", "Unknown error"},
		{url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"failed"}}, tenancy.SMS, messages.StatusFailed, "failed", "failed"},
		{url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"receiving"}}, tenancy.SMS, "", "", ""},
		{url.Values{"CallSid": {"CA1"}, "CallStatus": {"initiated"}}, tenancy.Voice, messages.StatusSent, "", ""},
		{url.Values{"CallSid": {"CA1"}, "CallStatus": {"ringing"}}, tenancy.Voice, messages.StatusSent, "", ""},
		{url.Values{"CallSid": {"CA1"}, "CallStatus": {"in-progress"}}, tenancy.Voice, messages.StatusSent, "", ""},
		{url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}}, tenancy.Voice, messages.StatusCompleted, "", ""},
		{url.Values{"CallSid": {"CA1"}, "CallStatus": {"busy"}}, tenancy.Voice, messages.StatusFailed, "busy", "busy"},
		{url.Values{"CallSid": {"CA1"}, "CallStatus": {"no-answer"}}, tenancy.Voice, messages.StatusFailed, "no-answer", "Nobody answered"},
		{url.Values{"CallSid": {"CA1"}, "CallStatus": {"canceled"}}, tenancy.Voice, messages.StatusFailed, "canceled", "canceled"},
		{url.Values{"CallSid": {"CA1"}, "CallStatus": {"failed"}, "ErrorCode": {"13224"}}, tenancy.Voice, messages.StatusFailed, "13224", "could not place"},
	} {
		u, ok := twhook.Parse(tc.form)
		if !ok || u.Kind != tc.kind || u.Status != tc.status {
			t.Errorf("%v: %+v %v", tc.form, u, ok)
			continue
		}
		if tc.code == "" {
			if u.Failure != nil {
				t.Errorf("%v: failure %+v", tc.form, u.Failure)
			}
			continue
		}
		if u.Failure == nil || u.Failure.Code != tc.code || !strings.Contains(u.Failure.Message, tc.says) {
			t.Errorf("%v: failure %+v, want %s saying %q", tc.form, u.Failure, tc.code, tc.says)
		}
	}
	if _, ok := twhook.Parse(url.Values{"AccountSid": {sid}}); ok {
		t.Error("a form without a SID and status parsed")
	}
	at := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	if u, _ := twhook.Parse(url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}, "Timestamp": {at.Format(time.RFC1123Z)}}); !u.At.Equal(at) {
		t.Errorf("call time %v", u.At)
	}
}

// fakes: the channel's credentials and a message store that keeps each
// message's status on the ladder (messages.Message.Stamp), as the
// DynamoDB store's conditional writes do.
type ports struct {
	creds map[string]tenancy.TwilioCredentials
	mu    sync.Mutex
	msgs  map[string]*messages.Message // by SID
	calls int
}

func (p *ports) TwilioLookup() twhook.Lookup         { return p }
func (p *ports) TwilioMessages() twhook.MessageStore { return p }
func (p *ports) Clock() func() time.Time {
	return func() time.Time { return time.UnixMilli(1_800_000_000_000) }
}
func (p *ports) TwilioCredentials(_ context.Context, ten, ch string) (tenancy.TwilioCredentials, error) {
	c, ok := p.creds[ten+"/"+ch]
	if !ok {
		return c, apperr.NotFound("Twilio credentials", ch)
	}
	return c, nil
}
func (p *ports) ApplyProviderStatus(_ context.Context, kind, ten, ch, providerID string, st messages.Status, at time.Time, f *messages.Failure) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	m, ok := p.msgs[providerID]
	if !ok || m.ChannelID != ch || m.TenantID != ten || m.ChannelKind != kind {
		return apperr.NotFound("Message", providerID)
	}
	m.Stamp(st, at, f)
	return nil
}

func newHandler(t *testing.T) (*ports, http.Handler) {
	p := &ports{creds: map[string]tenancy.TwilioCredentials{"ten_1/ch_1": {AccountSID: sid, AuthToken: tenancy.Secret(token)}},
		msgs: map[string]*messages.Message{
			"SM1": {ID: "msg_1", TenantID: "ten_1", ChannelID: "ch_1", ChannelKind: "sms", Status: messages.StatusSent},
			"CA1": {ID: "msg_2", TenantID: "ten_1", ChannelID: "ch_1", ChannelKind: "voice", Status: messages.StatusSent},
		}}
	return p, twhook.TwilioStatus(p)
}

const hookURL = "https://api.example.com/prod/v1/webhooks/twilio/ten_1/ch_1"

// post posts form to the handler as API Gateway would hand it over, signed
// over signedURL with tok ("" : no signature).
func post(t *testing.T, h http.Handler, tenantID, channelID, signedURL, tok string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/v1/webhooks/twilio/"+tenantID+"/"+channelID, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if tok != "" {
		req.Header.Set("X-Twilio-Signature", twhook.Sign(tok, signedURL, form))
	}
	pu, _ := url.Parse(hookURL)
	pu.Path = strings.Replace(pu.Path, "ten_1/ch_1", tenantID+"/"+channelID, 1)
	ctx := httpapi.WithPathParams(req.Context(), map[string]string{"tenantId": tenantID, "channelId": channelID})
	ctx = httpapi.WithPublicURL(ctx, pu)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(ctx))
	return rec
}

func envelope(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	return v
}

// A signed callback moves its message forward; a status that is no step
// forward (a replay of an old status, one out of order) changes nothing
// and is still answered 200, so Twilio does not retry it.
func TestHandlerMovesForwardOnly(t *testing.T) {
	p, h := newHandler(t)
	for _, st := range []string{"sent", "delivered", "sent", "queued", "delivered"} {
		f := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {st}, "AccountSid": {sid}}
		if rec := post(t, h, "ten_1", "ch_1", hookURL, token, f); rec.Code != 200 || envelope(t, rec)["status"] != "success" {
			t.Fatalf("%s: %d %s", st, rec.Code, rec.Body)
		}
	}
	if m := p.msgs["SM1"]; m.Status != messages.StatusDelivered || m.DeliveredAt == 0 {
		t.Fatalf("message %+v, want delivered", m)
	}
	// The call: ringing after completed is late, and stays completed.
	for _, st := range []string{"initiated", "completed", "ringing"} {
		if rec := post(t, h, "ten_1", "ch_1", hookURL, token, url.Values{"CallSid": {"CA1"}, "CallStatus": {st}}); rec.Code != 200 {
			t.Fatalf("%s: %d %s", st, rec.Code, rec.Body)
		}
	}
	if m := p.msgs["CA1"]; m.Status != messages.StatusCompleted {
		t.Fatalf("call %+v, want completed", m)
	}
	// undelivered after delivered: failed outranks (Twilio's own order
	// never does this; the ladder holds).
	post(t, h, "ten_1", "ch_1", hookURL, token, url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}})
	if m := p.msgs["SM1"]; m.Status != messages.StatusFailed || m.Failure == nil || m.Failure.Code != "30003" {
		t.Fatalf("message %+v, want failed with 30003", m)
	}
	// A status of a SID the channel did not send: 200, nothing moves.
	if rec := post(t, h, "ten_1", "ch_1", hookURL, token, url.Values{"MessageSid": {"SM9"}, "MessageStatus": {"delivered"}}); rec.Code != 200 {
		t.Fatalf("unknown SID: %d %s", rec.Code, rec.Body)
	}
	// A status we do not know: 200, nothing asked of the store.
	before := p.calls
	if rec := post(t, h, "ten_1", "ch_1", hookURL, token, url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"receiving"}}); rec.Code != 200 || p.calls != before {
		t.Fatalf("unknown status: %d %s, %d store calls", rec.Code, rec.Body, p.calls-before)
	}
}

// A wrong or missing signature, another channel's token, an unknown
// channel: 403 in the envelope, nothing written. Bad bodies: 400.
func TestHandlerRefusals(t *testing.T) {
	p, h := newHandler(t)
	f := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}}
	for name, rec := range map[string]*httptest.ResponseRecorder{
		"wrong token":      post(t, h, "ten_1", "ch_1", hookURL, "ffffffffffffffffffffffffffffffff", f),
		"no signature":     post(t, h, "ten_1", "ch_1", hookURL, "", f),
		"signed other URL": post(t, h, "ten_1", "ch_1", strings.Replace(hookURL, "ch_1", "ch_2", 1), token, f),
		"channel unknown":  post(t, h, "ten_1", "ch_2", strings.Replace(hookURL, "ch_1", "ch_2", 1), token, f),
		"signed over http": post(t, h, "ten_1", "ch_1", strings.Replace(hookURL, "https", "http", 1), token, f),
		"signed w/o stage": post(t, h, "ten_1", "ch_1", strings.Replace(hookURL, "/prod", "", 1), token, f),
	} {
		v := envelope(t, rec)
		if rec.Code != 403 || v["status"] != "error" || !strings.Contains(v["message"].(string), "X-Twilio-Signature") {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
	}
	if p.calls != 0 || p.msgs["SM1"].Status != messages.StatusSent {
		t.Fatalf("a refused callback was applied: %d calls, %+v", p.calls, p.msgs["SM1"])
	}
	// Signed, but naming no message or call.
	if rec := post(t, h, "ten_1", "ch_1", hookURL, token, url.Values{"AccountSid": {sid}}); rec.Code != 400 || envelope(t, rec)["status"] != "error" {
		t.Errorf("no SID: %d %s", rec.Code, rec.Body)
	}
	// JSON instead of a form.
	req := httptest.NewRequest("POST", "/v1/webhooks/twilio/ten_1/ch_1", strings.NewReader(`{"MessageSid":"SM1"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 400 || envelope(t, rec)["status"] != "error" {
		t.Errorf("JSON body: %d %s", rec.Code, rec.Body)
	}
}
