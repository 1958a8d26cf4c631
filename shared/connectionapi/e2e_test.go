package connectionapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/webhook"
)

var get = stacktest.Path

// receiver is a webhook target that records what it gets and answers with
// the statuses it is given, in order (then 200).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	statuses []int
	arrived  chan struct{}
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses, arrived: make(chan struct{}, 1000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), b})
		status := 200
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"ok":%v}`, status < 300)
		r.arrived <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

// wait blocks until n requests arrived in all, or fails after timeout.
func (r *receiver) wait(t *testing.T, n int, timeout time.Duration) []received {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		if len(r.got) >= n {
			out := append([]received(nil), r.got...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatalf("%d requests arrived, want %d", len(r.got), n)
		}
	}
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func mustStatus(t *testing.T, r stacktest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
}

func connect(t *testing.T, s *stacktest.Stack, token, url string, triggers, fields []string) (id, secret string) {
	t.Helper()
	r := s.Do("POST", "/v1/connections", "Bearer "+token, map[string]any{"name": "CRM", "url": url, "triggers": triggers, "fields": fields})
	mustStatus(t, r, 201)
	id, _ = get(r.JSON, "data.id").(string)
	secret, _ = get(r.JSON, "data.secret").(string)
	if id == "" || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("create connection: %s", r.Body)
	}
	return id, secret
}

// TestSeed000 is the connector end to end: a contact write reaches the
// target through the stream, the router, the queue and the dispatcher, in
// the seed's payload shape, signed.
func TestSeed000(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Shop", "messenger")
	auth := "Bearer " + tn.Token
	mustStatus(t, s.Do("POST", "/v1/contact_fields", auth, `{"name":"Size","type":"text"}`), 201)
	rcv := newReceiver(t)
	fields := []string{"psid", "first_name", "last_name", "subscribed_at", "email", "labels", "page_id", "page_name", "phone_number", "user_location", "Size"}
	connID, secret := connect(t, s, tn.Token, rcv.URL+"/test.php", []string{"email"}, fields)
	s.Pipeline()

	r := s.Do("POST", "/v1/contact", auth, map[string]any{"custom_fields": []map[string]any{
		{"name": "firstName", "value": "Test"}, {"name": "lastName", "value": "User"},
		{"name": "email", "value": "testuser@gmail.com"}, {"name": "Size", "value": "Medium"}}})
	mustStatus(t, r, 200)
	contactID := get(r.JSON, "data.id").(string)
	mustStatus(t, s.Do("POST", "/v1/contact/"+contactID+"/tags", auth, `{"tags":["Demo","Demo Label 1"]}`), 200)

	got := rcv.wait(t, 1, 20*time.Second)[0]
	// What PHP's json_decode(file_get_contents("php://input"), true) sees.
	var payload map[string]any
	if err := json.Unmarshal(got.body, &payload); err != nil {
		t.Fatalf("payload is not JSON: %s", got.body)
	}
	if len(payload) != len(fields) {
		t.Fatalf("payload must hold exactly the chosen fields: %s", got.body)
	}
	want := map[string]string{"psid": contactID, "first_name": "Test", "last_name": "User", "email": "testuser@gmail.com",
		"page_id": tn.ChannelID, "Size": "Medium", "user_location": "", "phone_number": ""}
	for k, v := range want {
		if payload[k] != v {
			t.Errorf("payload[%s] = %v, want %q (%s)", k, payload[k], v, got.body)
		}
	}
	if sub, _ := payload["subscribed_at"].(string); len(sub) != 19 || sub[10] != ' ' {
		t.Errorf("subscribed_at %q, want YYYY-MM-DD HH:MM:SS", sub)
	}
	if got.header.Get("Content-Type") != "application/json" || !strings.Contains(got.header.Get("User-Agent"), "ChatBackend") {
		t.Errorf("headers %v", got.header)
	}
	if err := webhook.Verify(secret, got.header.Get("webhook-id"), got.header.Get("webhook-timestamp"), got.header.Get("webhook-signature"), got.body, s.Clock.Now(), 5*time.Minute); err != nil {
		t.Fatalf("signature does not verify: %v (%v)", err, got.header)
	}

	// Tags and a name change collect no trigger field: nothing more is sent.
	mustStatus(t, s.Do("PUT", "/v1/contact/"+contactID, auth, map[string]any{"custom_fields": []map[string]any{{"name": "firstName", "value": "Tess"}}}), 200)
	time.Sleep(1500 * time.Millisecond)
	if n := rcv.count(); n != 1 {
		t.Fatalf("%d deliveries, want 1: only a newly collected trigger field fires", n)
	}

	// The activity report: the attempt, newest first, with what was sent.
	r = s.Do("GET", "/v1/connections/"+connID+"/activity", auth, nil)
	mustStatus(t, r, 200)
	acts := r.JSON["data"].([]any)
	if len(acts) != 1 || get(acts[0], "http_code") != 200.0 || get(acts[0], "outcome") != "success" ||
		get(acts[0], "request_body") != string(got.body) || get(acts[0], "webhook_id") != got.header.Get("webhook-id") {
		t.Fatalf("activity: %s", r.Body)
	}
	if get(r.JSON, "connection.url") != rcv.URL+"/test.php" {
		t.Fatalf("activity shows the main settings: %s", r.Body)
	}
	// The headers it keeps are exactly those the receiver got, and the
	// signature among them verifies with the connection's secret.
	sent := map[string]string{}
	if h, ok := get(acts[0], "request_headers").(map[string]any); ok {
		for k, v := range h {
			sent[k], _ = v.(string)
		}
	}
	wantH := map[string]string{}
	for k, v := range got.header {
		wantH[k] = strings.Join(v, ", ")
	}
	if !reflect.DeepEqual(sent, wantH) {
		t.Fatalf("activity's request_headers %v, the receiver got %v", sent, wantH)
	}
	if err := webhook.Verify(secret, sent["Webhook-Id"], sent["Webhook-Timestamp"], sent["Webhook-Signature"], []byte(get(acts[0], "request_body").(string)), s.Clock.Now(), 5*time.Minute); err != nil {
		t.Fatalf("the recorded signature does not verify: %v (%v)", err, sent)
	}
}

func TestConnectionsAPI(t *testing.T) {
	s := stacktest.New(t)
	a := s.NewTenant("A", "messenger")
	b := s.NewTenant("B", "messenger")
	rcv := newReceiver(t)
	id, _ := connect(t, s, a.Token, rcv.URL, []string{"email", "phone"}, nil)
	auth := "Bearer " + a.Token

	if r := s.Do("GET", "/v1/connections", auth, nil); len(r.JSON["data"].([]any)) != 1 || strings.Contains(string(r.Body), "whsec_") {
		t.Fatalf("list (never the secret): %s", r.Body)
	}
	r := s.Do("PUT", "/v1/connections/"+id, auth, map[string]any{"name": "Renamed", "triggers": []string{"postback"}})
	mustStatus(t, r, 200)
	if get(r.JSON, "data.name") != "Renamed" || len(get(r.JSON, "data.triggers").([]any)) != 1 {
		t.Fatalf("update: %s", r.Body)
	}
	// Another tenant's token: 404.
	mustStatus(t, s.Do("GET", "/v1/connections/"+id, "Bearer "+b.Token, nil), 404)
	mustStatus(t, s.Do("DELETE", "/v1/connections/"+id, "Bearer "+b.Token, nil), 404)

	bad := []struct {
		body     map[string]any
		status   int
		contains string
	}{
		{map[string]any{"name": "x", "url": "http://10.0.0.5/hook", "triggers": []string{"email"}}, 422, "10.0.0.5"},
		{map[string]any{"name": "x", "url": "http://169.254.169.254/latest/meta-data", "triggers": []string{"email"}}, 422, "169.254.169.254"},
		{map[string]any{"name": "x", "url": "http://[::ffff:10.1.2.3]/", "triggers": []string{"email"}}, 422, "url"},
		{map[string]any{"name": "x", "url": "http://2130706433x/", "triggers": []string{"email"}}, 422, "url"},
		{map[string]any{"name": "x", "url": "ftp://example.com/", "triggers": []string{"email"}}, 422, "url"},
		{map[string]any{"name": "x", "url": rcv.URL, "triggers": []string{"sms"}}, 400, "triggers[0]"},
		{map[string]any{"name": "x", "url": rcv.URL, "triggers": []string{}}, 400, "triggers"},
		{map[string]any{"name": "x", "url": rcv.URL, "triggers": []string{"email"}, "fields": []string{"shoe"}}, 400, "fields[0]"},
		{map[string]any{"url": rcv.URL, "triggers": []string{"email"}}, 400, "required"},
	}
	for _, c := range bad {
		r := s.Do("POST", "/v1/connections", auth, c.body)
		if r.Status != c.status || r.JSON["status"] != "error" || !strings.Contains(fmt.Sprint(r.JSON["message"]), c.contains) {
			t.Errorf("%v: %d %s, want %d %q", c.body["url"], r.Status, r.Body, c.status, c.contains)
		}
	}
	if r := s.Do("GET", "/v1/connections", auth, nil); len(r.JSON["data"].([]any)) != 1 {
		t.Fatalf("refused creations wrote something: %s", r.Body)
	}

	// Rotation: both secrets sign for 24 h.
	r = s.Do("POST", "/v1/connections/"+id+"/secret", auth, nil)
	mustStatus(t, r, 200)
	newSecret := get(r.JSON, "data.secret").(string)
	r = s.Do("POST", "/v1/connections/"+id+"/test", auth, nil)
	mustStatus(t, r, 200)
	if get(r.JSON, "data.outcome") != "success" || get(r.JSON, "data.http_code") != 200.0 {
		t.Fatalf("test send: %s", r.Body)
	}
	got := rcv.wait(t, 1, 5*time.Second)[0]
	if sigs := strings.Fields(got.header.Get("webhook-signature")); len(sigs) != 2 {
		t.Fatalf("after rotation both secrets sign: %q", got.header.Get("webhook-signature"))
	}
	if err := webhook.Verify(newSecret, got.header.Get("webhook-id"), got.header.Get("webhook-timestamp"), got.header.Get("webhook-signature"), got.body, s.Clock.Now(), 5*time.Minute); err != nil {
		t.Fatalf("new secret: %v", err)
	}

	mustStatus(t, s.Do("DELETE", "/v1/connections/"+id, auth, nil), 200)
	mustStatus(t, s.Do("GET", "/v1/connections/"+id, auth, nil), 404)
}

// TestRetryGoneAndDead: a 500 is retried with the same webhook-id; a 410
// switches the connection off and keeps the delivery as dead, which can be
// redriven once the connection is back on.
func TestRetryGoneAndDead(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Shop", "messenger")
	auth := "Bearer " + tn.Token
	rcv := newReceiver(t, 500, 410)
	id, _ := connect(t, s, tn.Token, rcv.URL, []string{"phone"}, nil)
	s.Pipeline()

	r := s.Do("POST", "/v1/events", auth, map[string]any{"psid": "2251324188330310", "field": "phone", "value": "+370 628 282846"})
	mustStatus(t, r, 200)
	got := rcv.wait(t, 2, 30*time.Second)
	if got[0].header.Get("webhook-id") != got[1].header.Get("webhook-id") || string(got[0].body) != string(got[1].body) {
		t.Fatal("a retry must repeat the webhook-id and body")
	}
	// The 410's effects (connection off, delivery dead, attempt logged) are
	// written after the target answered: wait for all three, generously,
	// since a loaded machine may take seconds.
	var dead, acts []any
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = s.Do("GET", "/v1/connections/"+id, auth, nil)
		dead, _ = s.Do("GET", "/v1/deliveries/dead", auth, nil).JSON["data"].([]any)
		acts, _ = s.Do("GET", "/v1/connections/"+id+"/activity", auth, nil).JSON["data"].([]any)
		if (get(r.JSON, "data.enabled") == false && len(dead) > 0 && len(acts) > 1) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if get(r.JSON, "data.enabled") != false || !strings.Contains(fmt.Sprint(get(r.JSON, "data.disabled_reason")), "410") {
		t.Fatalf("410 must switch the connection off: %s", r.Body)
	}
	if len(dead) != 1 || get(dead[0], "id") != got[0].header.Get("webhook-id") {
		t.Fatalf("dead deliveries: %v", dead)
	}
	if len(acts) != 2 || get(acts[0], "http_code") != 410.0 || get(acts[1], "http_code") != 500.0 || get(acts[0], "attempt") != 2.0 {
		t.Fatalf("activity: %v", acts)
	}

	mustStatus(t, s.Do("PUT", "/v1/connections/"+id, auth, map[string]any{"enabled": true}), 200)
	mustStatus(t, s.Do("POST", "/v1/deliveries/dead/"+get(dead[0], "id").(string)+"/redrive", auth, nil), 202)
	got = rcv.wait(t, 3, 20*time.Second)
	if got[2].header.Get("webhook-id") != got[0].header.Get("webhook-id") {
		t.Fatal("a redriven delivery keeps its webhook-id")
	}
	if r := s.Do("GET", "/v1/deliveries/dead", auth, nil); len(r.JSON["data"].([]any)) != 0 {
		t.Fatalf("redriven delivery still dead: %s", r.Body)
	}
}

// TestReplayAndDeadPages: a delivery is replayed however many attempts came
// after it (same webhook-id and body, a fresh signature), and the dead
// deliveries are listed a page at a time.
func TestReplayAndDeadPages(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Shop", "messenger")
	auth := "Bearer " + tn.Token
	rcv := newReceiver(t)
	id, secret := connect(t, s, tn.Token, rcv.URL, []string{"email"}, nil)
	s.Pipeline()

	mustStatus(t, s.Do("POST", "/v1/events", auth, map[string]any{"psid": "2251324188330310", "field": "email", "value": "a@example.com"}), 200)
	first := rcv.wait(t, 1, 30*time.Second)[0]
	wid := first.header.Get("webhook-id")

	// 120 later attempts of other deliveries: the first is no longer among
	// the connection's recent attempts.
	store := s.Deps.Connections()
	base := s.Clock.Now().Add(time.Minute).UnixMilli()
	for i := range 120 {
		a := connections.Attempt{Time: base + int64(i), WebhookID: fmt.Sprintf("msg_later%03d", i), Attempt: 1,
			Outcome: connections.OutcomeHTTP, HTTPCode: 200, Trigger: connections.TriggerEmail, RequestBody: "{}"}
		if err := store.AddAttempt(t.Context(), tn.ID, id, a); err != nil {
			t.Fatal(err)
		}
	}
	r := s.Do("POST", "/v1/connections/"+id+"/activity/"+wid+"/replay", auth, nil)
	mustStatus(t, r, 202)
	if get(r.JSON, "data.webhook_id") != wid {
		t.Fatalf("replay answer: %s", r.Body)
	}
	again := rcv.wait(t, 2, 30*time.Second)[1]
	if again.header.Get("webhook-id") != wid || string(again.body) != string(first.body) {
		t.Fatalf("replay sent %q %s, want %q %s", again.header.Get("webhook-id"), again.body, wid, first.body)
	}
	if err := webhook.Verify(secret, wid, again.header.Get("webhook-timestamp"), again.header.Get("webhook-signature"), again.body, s.Clock.Now(), 5*time.Minute); err != nil {
		t.Fatalf("replayed signature: %v", err)
	}
	r = s.Do("POST", "/v1/connections/"+id+"/activity/msg_never/replay", auth, nil)
	if r.Status != 404 || r.JSON["status"] != "error" || !strings.Contains(fmt.Sprint(r.JSON["message"]), "msg_never") {
		t.Fatalf("unknown delivery: %d %s", r.Status, r.Body)
	}
	other := s.NewTenant("Other", "messenger")
	mustStatus(t, s.Do("POST", "/v1/connections/"+id+"/activity/"+wid+"/replay", "Bearer "+other.Token, nil), 404)

	// Dead deliveries, a page at a time.
	for i := range 5 {
		d := connections.Dead{Delivery: connections.Delivery{ID: fmt.Sprintf("msg_dead%d", i), TenantID: tn.ID, ConnectionID: id,
			Trigger: connections.TriggerEmail, Payload: []byte("{}")}, DiedAt: 1_700_000_000 + int64(i),
			LastAttempt: connections.Attempt{Time: 1_700_000_000_000, WebhookID: fmt.Sprintf("msg_dead%d", i), Attempt: 8,
				Outcome: connections.OutcomeHTTP, HTTPCode: 500, Trigger: connections.TriggerEmail, RequestBody: "{}", Final: true}}
		if err := store.AddDead(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	path := "/v1/deliveries/dead?limit=2"
	for pages := 0; path != ""; pages++ {
		if pages == 5 {
			t.Fatalf("more pages than expected: %v", ids)
		}
		r := s.Do("GET", path, auth, nil)
		mustStatus(t, r, 200)
		for _, d := range r.JSON["data"].([]any) {
			ids = append(ids, get(d, "id").(string))
		}
		path = ""
		if next, ok := get(r.JSON, "links.next").(string); ok {
			u, err := url.Parse(next)
			if err != nil || u.Query().Get("limit") != "2" {
				t.Fatalf("links.next = %q", next)
			}
			path = u.RequestURI()
		} else if get(r.JSON, "links.next") != nil {
			t.Fatalf("links.next: %s", r.Body)
		}
	}
	if got := strings.Join(ids, ","); got != "msg_dead4,msg_dead3,msg_dead2,msg_dead1,msg_dead0" {
		t.Errorf("dead pages = %s", got)
	}
	if r := s.Do("GET", "/v1/deliveries/dead", "Bearer "+other.Token, nil); len(r.JSON["data"].([]any)) != 0 {
		t.Errorf("another tenant sees dead deliveries: %s", r.Body)
	}
	for q, word := range map[string]string{"limit=0": "limit", "limit=101": "limit", "limit=two": "limit", "cursor=not-a-cursor": "cursor"} {
		r := s.Do("GET", "/v1/deliveries/dead?"+q, auth, nil)
		if r.Status != 400 || r.JSON["status"] != "error" || !strings.Contains(fmt.Sprint(r.JSON["message"]), word) {
			t.Errorf("?%s: %d %s, want 400 naming %s", q, r.Status, r.Body, word)
		}
	}
}

// TestEventsAndZapier: what the bot collects fires the same triggers, and
// Zapier's REST hooks subscribe and unsubscribe.
func TestEventsAndZapier(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Shop", "messenger")
	auth := "Bearer " + tn.Token
	rcv := newReceiver(t)

	r := s.Do("POST", "/v1/hooks", auth, map[string]any{"target_url": rcv.URL + "/zap", "event": "postback"})
	mustStatus(t, r, 201)
	hookID, _ := r.JSON["id"].(string)
	if hookID == "" {
		t.Fatalf("subscribe: %s", r.Body)
	}
	r = s.Do("GET", "/v1/hooks/sample?event=postback", auth, nil)
	var samples []map[string]any
	if r.Status != 200 || json.Unmarshal(r.Body, &samples) != nil || len(samples) != 1 || samples[0]["postbackid"] == nil {
		t.Fatalf("sample: %s", r.Body)
	}
	if r := s.Do("GET", "/v1/me", auth, nil); r.Status != 200 {
		t.Fatalf("Zapier's auth test: %s", r.Body)
	}
	s.Pipeline()

	mustStatus(t, s.Do("POST", "/v1/events", auth, map[string]any{"psid": "12765756", "postback_id": "GET_STARTED"}), 200)
	got := rcv.wait(t, 1, 20*time.Second)[0]
	var p map[string]any
	_ = json.Unmarshal(got.body, &p)
	if p["postbackid"] != "GET_STARTED" || p["psid"] != "12765756" {
		t.Fatalf("postback payload: %s", got.body)
	}
	// The same postback again is a new event: it fires again.
	mustStatus(t, s.Do("POST", "/v1/events", auth, map[string]any{"psid": "12765756", "postback_id": "GET_STARTED"}), 200)
	rcv.wait(t, 2, 20*time.Second)

	for _, bad := range []map[string]any{{"postback_id": "x"}, {"psid": "1"}, {"psid": "1", "location": map[string]any{"lat": 91, "long": 0}}, {"psid": "1", "field": "shoe", "value": "9"}} {
		if r := s.Do("POST", "/v1/events", auth, bad); r.Status != 400 {
			t.Errorf("%v: %d %s", bad, r.Status, r.Body)
		}
	}

	mustStatus(t, s.Do("DELETE", "/v1/hooks/"+hookID, auth, nil), 200)
	mustStatus(t, s.Do("DELETE", "/v1/hooks/"+hookID, auth, nil), 404)
}

// TestPausedState: a connection whose circuit breaker is open is answered
// "paused", with why and when the next probe is due, by GET, the list and
// the activity report; a change by its owner (PUT) closes the breaker.
func TestPausedState(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Shop", "messenger")
	auth := "Bearer " + tn.Token
	rcv := newReceiver(t)
	id, _ := connect(t, s, tn.Token, rcv.URL+"/hook", []string{"email"}, nil)
	r := s.Do("GET", "/v1/connections/"+id, auth, nil)
	mustStatus(t, r, 200)
	if get(r.JSON, "data.state") != "active" || get(r.JSON, "data.paused_reason") != nil {
		t.Fatalf("a new connection: %s", r.Body)
	}
	store := s.Deps.Connections()
	at := time.Now().Truncate(time.Second)
	for range connections.BreakerThreshold {
		if _, err := store.BreakerFailed(t.Context(), tn.ID, id, at); err != nil {
			t.Fatal(err)
		}
	}
	since := at.UTC().Format(time.RFC3339)
	next := at.Add(connections.ProbeFirst).UTC().Format(time.RFC3339)
	check := func(what string, v any, body []byte) {
		t.Helper()
		if get(v, "state") != "paused" || get(v, "paused_reason") != "endpoint failing since "+since || get(v, "next_probe_at") != next || get(v, "enabled") != true {
			t.Errorf("%s: want paused since %s, next probe %s: %s", what, since, next, body)
		}
	}
	r = s.Do("GET", "/v1/connections/"+id, auth, nil)
	check("GET", r.JSON["data"], r.Body)
	r = s.Do("GET", "/v1/connections", auth, nil)
	if list, _ := r.JSON["data"].([]any); len(list) != 1 {
		t.Fatalf("list: %s", r.Body)
	} else {
		check("list", list[0], r.Body)
	}
	r = s.Do("GET", "/v1/connections/"+id+"/activity", auth, nil)
	check("activity", r.JSON["connection"], r.Body)

	r = s.Do("PUT", "/v1/connections/"+id, auth, map[string]any{"url": rcv.URL + "/new-hook"})
	mustStatus(t, r, 200)
	if get(r.JSON, "data.state") != "active" {
		t.Fatalf("PUT answer: %s", r.Body)
	}
	r = s.Do("GET", "/v1/connections/"+id, auth, nil)
	if get(r.JSON, "data.state") != "active" || get(r.JSON, "data.next_probe_at") != nil {
		t.Fatalf("after PUT: %s", r.Body)
	}
	if b, err := store.Breaker(t.Context(), tn.ID, id); err != nil || b.Open() || b.Failures != 0 {
		t.Fatalf("breaker after PUT: %+v %v", b, err)
	}
	mustStatus(t, s.Do("PUT", "/v1/connections/"+id, auth, map[string]any{"enabled": false}), 200)
	if r = s.Do("GET", "/v1/connections/"+id, auth, nil); get(r.JSON, "data.state") != "disabled" {
		t.Fatalf("switched off: %s", r.Body)
	}
}

// TestActivityStats: the activity report's 24 hourly buckets count the
// attempts made (successes, failures, their durations) in the hour they
// were made, and only the connection's own.
func TestActivityStats(t *testing.T) {
	s := stacktest.New(t)
	a := s.NewTenant("A", "messenger")
	b := s.NewTenant("B", "messenger")
	rcv := newReceiver(t, 200, 500, 200, 503)
	idA, _ := connect(t, s, a.Token, rcv.URL+"/a", []string{"email"}, []string{"psid", "email"})
	idB, _ := connect(t, s, b.Token, rcv.URL+"/b", []string{"email"}, []string{"psid", "email"})
	// Four test sends on A's connection: 200, 500, 200, 503.
	for range 4 {
		mustStatus(t, s.Do("POST", "/v1/connections/"+idA+"/test", "Bearer "+a.Token, nil), 200)
	}
	stats := func(id, token string) []any {
		t.Helper()
		r := s.Do("GET", "/v1/connections/"+id+"/activity", "Bearer "+token, nil)
		mustStatus(t, r, 200)
		st, _ := r.JSON["stats"].([]any)
		if len(st) != connections.StatsHours {
			t.Fatalf("stats: %d buckets, want %d: %s", len(st), connections.StatsHours, r.Body)
		}
		return st
	}
	hour := float64(s.Clock.Now().Unix() / 3600 * 3600)
	st := stats(idA, a.Token)
	last := st[len(st)-1]
	if get(last, "hour") != hour || get(last, "successes") != 2.0 || get(last, "failures") != 2.0 {
		t.Fatalf("the current hour of A's connection: %v, want 2 successes and 2 failures at %v", last, hour)
	}
	acts := s.Do("GET", "/v1/connections/"+idA+"/activity", "Bearer "+a.Token, nil).JSON["data"].([]any)
	var sum, most float64
	for _, x := range acts {
		d := get(x, "duration_ms").(float64)
		sum += d
		most = max(most, d)
	}
	if get(last, "duration_sum_ms") != sum || get(last, "duration_max_ms") != most {
		t.Fatalf("durations: %v, want sum %v and max %v of %v", last, sum, most, acts)
	}
	for i, x := range st[:len(st)-1] {
		if get(x, "hour") != hour-float64(3600*(len(st)-1-i)) || get(x, "successes") != 0.0 || get(x, "failures") != 0.0 {
			t.Fatalf("bucket %d: %v", i, x)
		}
	}
	// B's connection saw none of them.
	for _, x := range stats(idB, b.Token) {
		if get(x, "successes") != 0.0 || get(x, "failures") != 0.0 {
			t.Fatalf("B's stats count A's attempts: %v", x)
		}
	}
	// An hour later the same attempts are in the next-to-last bucket.
	s.Clock.Add(time.Hour)
	st = stats(idA, a.Token)
	if prev := st[len(st)-2]; get(prev, "hour") != hour || get(prev, "successes") != 2.0 || get(st[len(st)-1], "successes") != 0.0 {
		t.Fatalf("an hour later: %v", st[len(st)-2:])
	}
}
