package connectionapi_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/connections"
)

// TestPausedByHost: the connections its open host breaker parks are
// answered "paused" with a host-wide reason and the host's next probe, by
// GET, the list and the activity report; a connection of the tenant on
// another host is not; an owner's change that moves a connection to
// another host lets it go, its siblings stay paused.
func TestPausedByHost(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Shop", "messenger")
	auth := "Bearer " + tn.Token
	rcv, other := newReceiver(t), newReceiver(t)
	a, _ := connect(t, s, tn.Token, rcv.URL+"/a", []string{"email"}, nil)
	b, _ := connect(t, s, tn.Token, rcv.URL+"/b", []string{"email"}, nil)
	c, _ := connect(t, s, tn.Token, other.URL+"/c", []string{"email"}, nil)
	u, _ := url.Parse(rcv.URL)
	host := u.Host
	store := s.Deps.Connections()
	at := time.Now().Truncate(time.Second)
	opened := false
	for i := range connections.BreakerThreshold {
		id := []string{a, b}[i%2]
		_, o, err := store.HostFailed(t.Context(), tn.ID, host, id, at)
		if err != nil {
			t.Fatal(err)
		}
		opened = opened || o
	}
	if !opened {
		t.Fatal("five failures over two connections did not open the host's breaker")
	}
	if err := store.ParkOnHost(t.Context(), tn.ID, host, []string{a, b}, at); err != nil {
		t.Fatal(err)
	}
	since := at.UTC().Format(time.RFC3339)
	next := at.Add(connections.ProbeFirst).UTC().Format(time.RFC3339)
	check := func(what string, v any, body []byte) {
		t.Helper()
		reason, _ := get(v, "paused_reason").(string)
		if get(v, "state") != "paused" || !strings.HasPrefix(reason, "endpoint failing since "+since+" (host-wide: "+host) || get(v, "next_probe_at") != next {
			t.Errorf("%s: want paused host-wide since %s, next probe %s: %s", what, since, next, body)
		}
	}
	for _, id := range []string{a, b} {
		r := s.Do("GET", "/v1/connections/"+id, auth, nil)
		check("GET "+id, r.JSON["data"], r.Body)
		r = s.Do("GET", "/v1/connections/"+id+"/activity", auth, nil)
		check("activity "+id, r.JSON["connection"], r.Body)
	}
	r := s.Do("GET", "/v1/connections", auth, nil)
	list, _ := r.JSON["data"].([]any)
	if len(list) != 3 {
		t.Fatalf("list: %s", r.Body)
	}
	for _, v := range list {
		switch get(v, "id") {
		case a, b:
			check("list", v, r.Body)
		case c:
			if get(v, "state") != "active" {
				t.Errorf("the connection on another host: %s", r.Body)
			}
		}
	}

	// b moves to the other host: its own breaker and its host mark go.
	mustStatus(t, s.Do("PUT", "/v1/connections/"+b, auth, map[string]any{"url": other.URL + "/b"}), 200)
	if r := s.Do("GET", "/v1/connections/"+b, auth, nil); get(r.JSON, "data.state") != "active" {
		t.Errorf("moved to another host: %s", r.Body)
	}
	r = s.Do("GET", "/v1/connections/"+a, auth, nil)
	check("GET "+a+" after its sibling moved", r.JSON["data"], r.Body)

	// The host's breaker closes: a is active again.
	if err := store.CloseHost(t.Context(), tn.ID, host); err != nil {
		t.Fatal(err)
	}
	if r := s.Do("GET", "/v1/connections/"+a, auth, nil); get(r.JSON, "data.state") != "active" || get(r.JSON, "data.next_probe_at") != nil {
		t.Errorf("after the host's breaker closed: %s", r.Body)
	}
}
