package actionapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

const (
	twSID   = "AC00000000000000000000000000000042"
	twToken = "0123456789abcdef0123456789abcdef"
	twFrom  = "+15005550006"
)

// phoneTenant is a tenant with an sms channel (NewTenant's) and a voice
// channel, both with Twilio credentials set through the admin API.
type phoneTenant struct {
	stacktest.Tenant
	VoiceID, VoiceToken string
}

// twilioStack is a stack whose sender calls the provider sandbox's Twilio
// API, and a tenant with an sms and a voice channel pointed at it.
func twilioStack(t *testing.T) (*stacktest.Stack, *sandbox.Sandbox, phoneTenant) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{TwilioAccounts: map[string]string{twSID: twToken}, StatusDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { sb.Close(); srv.Close() })
	t.Setenv(messaging.EnvTwilioBaseURL, srv.URL)
	s := stacktest.New(t)
	pt := phoneTenant{Tenant: s.NewTenant("Acme", "sms")}
	r := s.Admin("POST", "/admin/tenants/"+pt.ID+"/channels", map[string]any{"kind": "voice", "name": "Acme calls", "default_country": "PK"})
	if r.Status != http.StatusCreated {
		t.Fatalf("voice channel: %d %s", r.Status, r.Body)
	}
	pt.VoiceID = stacktest.Path(r.JSON, "data.id").(string)
	r = s.Admin("POST", "/admin/tenants/"+pt.ID+"/channels/"+pt.VoiceID+"/tokens", map[string]any{"name": "test"})
	if r.Status != http.StatusCreated {
		t.Fatalf("voice token: %d %s", r.Status, r.Body)
	}
	pt.VoiceToken = stacktest.Path(r.JSON, "data.token").(string)
	for _, ch := range []string{pt.ChannelID, pt.VoiceID} {
		setTwilio(t, s, pt.ID, ch)
	}
	return s, sb, pt
}

func setTwilio(t *testing.T, s *stacktest.Stack, tenantID, channelID string) {
	t.Helper()
	r := s.Admin("PUT", "/admin/tenants/"+tenantID+"/channels/"+channelID+"/twilio",
		map[string]any{"account_sid": twSID, "auth_token": twToken, "from": twFrom})
	if r.Status != http.StatusOK || stacktest.Path(r.JSON, "data.twilio.configured") != true {
		t.Fatalf("set twilio on %s: %d %s", channelID, r.Status, r.Body)
	}
}

// waitMessage polls GET /v1/messages/{id} with auth until the message is
// sent.
func waitMessage(t *testing.T, s *stacktest.Stack, auth, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last stacktest.Response
	for time.Now().Before(deadline) {
		last = s.Do("GET", "/v1/messages/"+id, auth, nil)
		if last.Status == http.StatusOK && get(last.JSON, "data.status") == "sent" {
			return last.JSON["data"].(map[string]any)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("message %s never sent: %d %s", id, last.Status, last.Body)
	return nil
}

// messageItems counts the tenant's stored messages (a Scan: test only).
func messageItems(t *testing.T, s *stacktest.Stack, tenantID string) int {
	t.Helper()
	out, err := s.Env.DDB.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(s.Env.Table),
		FilterExpression:          aws.String("begins_with(PK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "MSG#" + tenantID + "#"}}})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Items)
}

// Seed 003's "Send SMS" and "Send call", as the document sends them: each
// is queued on the tenant's sms or voice channel, answered with its
// message id, goes stream → router → outbox → sender → Twilio (the
// sandbox) once, and is read back with the account secret.
func TestActionSMSAndCallThroughThePipeline(t *testing.T) {
	s, sb, pt := twilioStack(t)
	s.Pipeline()
	res := results(t, actions(s, pt.Secret, `[{"number":"+526643596440","text":"Hello, your package ","type":"SMS"},
		{"number":"+526643596440","text":"Hello, your package ","type":"CALL"},
		{"number":"923001234567","text":"Press <1> & say \"yes\"","type":"call"}]`), 3)
	wantCh := []string{pt.ChannelID, pt.VoiceID, pt.VoiceID}
	wantType := []string{"SMS", "CALL", "CALL"}
	ids := make([]string, 3)
	for i, r := range res {
		id, _ := r["idMessage"].(string)
		if r["status"] != "success" || r["type"] != wantType[i] || !strings.HasPrefix(id, "msg_") || r["messageStatus"] != "queued" || r["idChannel"] != wantCh[i] {
			t.Fatalf("item %d: %v", i, r)
		}
		ids[i] = id
	}
	// The account secret reads them, bare or as a Bearer.
	sms := waitMessage(t, s, pt.Secret, ids[0])
	call := waitMessage(t, s, "Bearer "+pt.Secret, ids[1])
	escaped := waitMessage(t, s, pt.Secret, ids[2])
	recs := sb.TwilioRecords()
	if len(recs) != 3 {
		t.Fatalf("sandbox got %d requests, want 3: %+v", len(recs), recs)
	}
	bySID := map[string]sandbox.TwilioRecord{}
	for _, r := range recs {
		bySID[r.SID] = r
	}
	if r := bySID[sms["provider_message_id"].(string)]; r.Kind != "sms" || r.Body != "Hello, your package " || r.To != "+526643596440" || r.From != twFrom {
		t.Fatalf("sms: %+v, message %v", r, sms)
	}
	if r := bySID[call["provider_message_id"].(string)]; r.Kind != "call" || r.TwiML != "<Response><Say>Hello, your package </Say></Response>" || r.To != "+526643596440" {
		t.Fatalf("call: %+v, message %v", r, call)
	}
	if r := bySID[escaped["provider_message_id"].(string)]; r.Kind != "call" || r.To != "+923001234567" ||
		r.TwiML != "<Response><Say>Press &lt;1&gt; &amp; say &quot;yes&quot;</Say></Response>" {
		t.Fatalf("escaped call: %+v, message %v", r, escaped)
	}
	if sms["channel_id"] != pt.ChannelID || call["channel_id"] != pt.VoiceID || get(sms, "text.body") != "Hello, your package " || sms["to"] != "+526643596440" {
		t.Fatalf("messages as read: %v / %v", sms, call)
	}
	// Each channel's token reads its channel's message, not the other's.
	if r := s.Do("GET", "/v1/messages/"+ids[0], "Bearer "+pt.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("sms channel token on its SMS: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/messages/"+ids[1], "Bearer "+pt.Token, nil); r.Status != http.StatusNotFound {
		t.Fatalf("sms channel token on the voice channel's call: %d %s", r.Status, r.Body)
	}
	// Nothing is sent again.
	time.Sleep(1500 * time.Millisecond)
	if n := len(sb.TwilioRecords()); n != 3 {
		t.Fatalf("sandbox got %d requests after a while, want 3", n)
	}
}

// GET /v1/messages/{id} with the account secret reads only its own
// tenant's messages; another tenant's secret, a rotated one and a channel
// token of another channel are refused without saying whether the
// message exists.
func TestMessageGetWithAccountSecret(t *testing.T) {
	s, _, pt := twilioStack(t)
	res := results(t, actions(s, pt.Secret, `[{"number":"+923001234567","text":"hi","type":"SMS"}]`), 1)
	id, _ := res[0]["idMessage"].(string)
	if id == "" {
		t.Fatalf("SMS: %v", res)
	}
	if r := s.Do("GET", "/v1/messages/"+id, pt.Secret, nil); r.Status != http.StatusOK || get(r.JSON, "data.status") != "queued" || get(r.JSON, "data.id") != id {
		t.Fatalf("own secret: %d %s", r.Status, r.Body)
	}
	other := s.NewTenant("Other", "sms")
	unknown := "msg_" + strings.Repeat("0", 16)
	for name, c := range map[string]struct {
		auth   string
		status int
	}{
		"another tenant's secret":        {other.Secret, http.StatusNotFound},
		"another tenant's channel token": {"Bearer " + other.Token, http.StatusNotFound},
		"the voice channel's token":      {"Bearer " + pt.VoiceToken, http.StatusNotFound},
		"a secret that never was":        {"sk_" + strings.Repeat("a", 43), http.StatusUnauthorized},
		"no credential":                  {"", http.StatusUnauthorized},
	} {
		r := s.Do("GET", "/v1/messages/"+id, c.auth, nil)
		u := s.Do("GET", "/v1/messages/"+unknown, c.auth, nil)
		if r.Status != c.status || get(r.JSON, "status") != "error" || strings.Contains(string(r.Body), "hi") {
			t.Errorf("%s: %d %s, want %d", name, r.Status, r.Body, c.status)
		}
		// The answer is the one an unknown message gets, but for the id.
		if u.Status != r.Status || strings.ReplaceAll(string(r.Body), id, unknown) != string(u.Body) {
			t.Errorf("%s: %s differs from an unknown message's %s", name, r.Body, u.Body)
		}
	}
	// A rotated secret stops at once (the rotation flushes the
	// authorizer's cache); the new one reads the message.
	r := s.Admin("POST", "/admin/tenants/"+pt.ID+"/secret", nil)
	fresh, _ := get(r.JSON, "data.account_secret").(string)
	if r.Status != http.StatusOK || fresh == "" {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/messages/"+id, pt.Secret, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("rotated secret: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/messages/"+id, fresh, nil); r.Status != http.StatusOK {
		t.Fatalf("new secret: %d %s", r.Status, r.Body)
	}
}

// Bad input on SMS and CALL: a per-item error that names the problem,
// nothing stored, nothing queued or sent; the good items of the same
// batch go out.
func TestActionSMSAndCallRefusals(t *testing.T) {
	s, sb, pt := twilioStack(t)
	s.Pipeline()
	items := []struct{ body, says string }{
		{`{"type":"SMS","number":"12","text":"hi"}`, `number: "12" is not a valid phone number`},
		{`{"type":"CALL","number":"03244077087","text":"hi"}`, "not a valid phone number"},
		{`{"type":"SMS","text":"hi"}`, "number: is required"},
		{`{"type":"SMS","number":"+442071234567","text":"hi"}`, "fixed-line"},
		{`{"type":"SMS","number":"+923001234567","text":""}`, "text: is empty"},
		{`{"type":"CALL","number":"+923001234567"}`, "text: is required"},
		{`{"type":"SMS","number":"+923001234567","text":["hi"]}`, "text: must be a string"},
		{`{"type":"SMS","number":"+923001234567","text":"` + strings.Repeat("é", 1601) + `"}`, "is 1601 characters long; an SMS takes at most 1600"},
		{`{"type":"CALL","number":"+923001234567","text":"` + strings.Repeat("<", 1000) + `"}`, "at most 4000"},
		{`{"type":"SMS","number":"+923001234567","text":"hi","Colour":"red"}`, "Colour"},
		// A landline gets its call.
		{`{"type":"CALL","number":"+442071234567","text":"hi"}`, ""},
	}
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.body
	}
	res := results(t, actions(s, pt.Secret, "["+strings.Join(parts, ",")+"]"), len(items))
	for i, it := range items {
		if it.says == "" {
			if res[i]["status"] != "success" {
				t.Fatalf("item %d: %v", i, res[i])
			}
			continue
		}
		if res[i]["status"] != "error" || !strings.Contains(fmt.Sprint(res[i]["message"]), it.says) || res[i]["idMessage"] != nil {
			t.Errorf("item %d: %v, want an error %q", i, res[i], it.says)
		}
	}
	if n := messageItems(t, s, pt.ID); n != 1 {
		t.Fatalf("%d messages stored, want the landline's call only", n)
	}
	waitMessage(t, s, pt.Secret, res[len(items)-1]["idMessage"].(string))
	time.Sleep(time.Second)
	if recs := sb.TwilioRecords(); len(recs) != 1 || recs[0].To != "+442071234567" || sb.Stats().Requests != 1 {
		t.Fatalf("sandbox: %+v, %+v", recs, sb.Stats())
	}

	// A tenant without a voice channel, and one whose sms channel has no
	// credentials: a per-item error that says which, nothing stored.
	bare := s.NewTenant("Bare", "sms")
	res = results(t, actions(s, bare.Secret, `[{"number":"+923001234567","text":"hi","type":"CALL"},{"number":"+923001234567","text":"hi","type":"SMS"}]`), 2)
	if res[0]["status"] != "error" || !strings.Contains(fmt.Sprint(res[0]["message"]), "no voice channel") {
		t.Fatalf("no voice channel: %v", res[0])
	}
	if res[1]["status"] != "error" || !strings.Contains(fmt.Sprint(res[1]["message"]), bare.ChannelID+" has no Twilio credentials") {
		t.Fatalf("sms channel without credentials: %v", res[1])
	}
	if n := messageItems(t, s, bare.ID); n != 0 {
		t.Fatalf("%d messages stored for refused actions", n)
	}
}

// With several sms channels, the oldest with credentials sends.
func TestActionSMSChannelChoice(t *testing.T) {
	s, _, pt := twilioStack(t)
	// created_at is in seconds: the newer channels are a minute younger.
	s.Clock.Add(time.Minute)
	var newer []string
	for i := range 2 {
		r := s.Admin("POST", "/admin/tenants/"+pt.ID+"/channels", map[string]any{"kind": "sms", "name": fmt.Sprint("Acme sms ", i), "default_country": "PK"})
		if r.Status != http.StatusCreated {
			t.Fatalf("channel: %d %s", r.Status, r.Body)
		}
		newer = append(newer, stacktest.Path(r.JSON, "data.id").(string))
	}
	setTwilio(t, s, pt.ID, newer[1])
	res := results(t, actions(s, pt.Secret, `[{"number":"+923001234567","text":"hi","type":"SMS"}]`), 1)
	if res[0]["idChannel"] != pt.ChannelID {
		t.Fatalf("sent on %v, want the oldest sms channel %s", res[0]["idChannel"], pt.ChannelID)
	}
}

// The same Idempotency-Key and body queue their SMS once: the replay
// answers the same message id.
func TestActionSMSIdempotent(t *testing.T) {
	s, _, pt := twilioStack(t)
	send := func() stacktest.Response {
		req, _ := http.NewRequest("POST", s.URL+"/v1/actions", strings.NewReader(`[{"number":"+923001234567","text":"once","type":"SMS"}]`))
		req.Header.Set("Authorization", pt.Secret)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "sms-1")
		return s.Send(req)
	}
	first, again := send(), send()
	if first.Status != 200 || string(first.Body) != string(again.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s / %s %v", first.Status, first.Body, again.Body, again.Header)
	}
	if n := messageItems(t, s, pt.ID); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}
