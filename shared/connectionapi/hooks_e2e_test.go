package connectionapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

// TestZapierHooksRecentAndGone: what Zapier's app relies on, through the
// emulators. Subscribing answers 201 with the hook's id and takes the two
// message triggers too (a connection's own API does not); the perform list
// answers a sample until the channel has a real item, then the trigger's
// recent real items, newest first; a hooked trigger's payload reaches the
// hook; a 410 from the hook switches it off (Zapier's unsubscribe).
func TestZapierHooksRecentAndGone(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Shop", "messenger")
	auth := "Bearer " + tn.Token
	rcv := newReceiver(t, 200, 410)

	for _, ev := range []string{"message_received", "message_status"} {
		r := s.Do("POST", "/v1/hooks", auth, map[string]any{"target_url": rcv.URL + "/" + ev, "event": ev})
		mustStatus(t, r, 201)
		mustStatus(t, s.Do("DELETE", "/v1/hooks/"+fmt.Sprint(r.JSON["id"]), auth, nil), 200)
	}
	if r := s.Do("POST", "/v1/connections", auth, map[string]any{"name": "x", "url": rcv.URL, "triggers": []string{"message_received"}}); r.Status != 400 {
		t.Errorf("a connection with a hook-only trigger: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/hooks", auth, map[string]any{"target_url": rcv.URL, "event": "nothing"}); r.Status != 400 ||
		!strings.Contains(string(r.Body), "message_status") {
		t.Errorf("unknown event: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/hooks/sample?event=nothing", auth, nil); r.Status != 400 {
		t.Errorf("unknown event's list: %d %s", r.Status, r.Body)
	}

	list := func(ev string) []map[string]string {
		t.Helper()
		r := s.Do("GET", "/v1/hooks/sample?event="+ev, auth, nil)
		var out []map[string]string
		if r.Status != 200 || json.Unmarshal(r.Body, &out) != nil || len(out) == 0 {
			t.Fatalf("list %s: %d %s", ev, r.Status, r.Body)
		}
		return out
	}
	if got := list("email"); len(got) != 1 || got[0]["psid"] != "12765756" {
		t.Fatalf("before any item, the sample: %v", got)
	}
	if got := list("message_received"); len(got) != 1 || got[0]["event"] != "message_received" || got[0]["id"] == "" {
		t.Fatalf("message sample: %v", got)
	}

	r := s.Do("POST", "/v1/hooks", auth, map[string]any{"target_url": rcv.URL + "/zap", "event": "email"})
	mustStatus(t, r, 201)
	hookID, _ := r.JSON["id"].(string)
	if hookID == "" || stacktest.Path(r.JSON, "data.id") != hookID {
		t.Fatalf("subscribe: %s", r.Body)
	}
	s.Pipeline()

	r = s.Do("POST", "/v1/contact", auth, map[string]any{"custom_fields": []map[string]any{
		{"name": "firstName", "value": "Ana"}, {"name": "email", "value": "ana@example.com"}}})
	mustStatus(t, r, 200)
	first := get(r.JSON, "data.id").(string)
	got := rcv.wait(t, 1, 20*time.Second)[0]
	var p map[string]string
	if err := json.Unmarshal(got.body, &p); err != nil || p["psid"] != first || p["email"] != "ana@example.com" || p["first_name"] != "Ana" {
		t.Fatalf("hook payload: %s", got.body)
	}
	items := list("email")
	if len(items) != 1 || items[0]["psid"] != first || items[0]["email"] != "ana@example.com" {
		t.Fatalf("recent items after a real one: %v", items)
	}
	if items[0]["page_id"] != tn.ChannelID {
		t.Errorf("recent item's page_id %q, want %q", items[0]["page_id"], tn.ChannelID)
	}
	// Another trigger's list is still its sample.
	if got := list("phone"); got[0]["psid"] != "12765756" {
		t.Errorf("phone list: %v", got)
	}

	// The next delivery is answered 410: the hook is switched off.
	mustStatus(t, s.Do("PUT", "/v1/contact/"+first, auth, map[string]any{"custom_fields": []map[string]any{
		{"name": "email", "value": "ana@example.org"}}}), 200)
	rcv.wait(t, 2, 20*time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for {
		r = s.Do("GET", "/v1/connections/"+hookID, auth, nil)
		if get(r.JSON, "data.enabled") == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a 410 must switch the hook off: %s", r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mustStatus(t, s.Do("DELETE", "/v1/hooks/"+hookID, auth, nil), 200)

	// A deleted contact's recent items are not shown (its fields go with it).
	if got := list("email"); len(got) != 1 || got[0]["psid"] != first {
		t.Fatalf("recent items before the delete: %v", got)
	}
	mustStatus(t, s.Do("DELETE", "/v1/contact/"+first, auth, nil), 200)
	if got := list("email"); len(got) != 1 || got[0]["psid"] != "12765756" {
		t.Fatalf("a deleted contact's recent item is shown: %v", got)
	}
}
