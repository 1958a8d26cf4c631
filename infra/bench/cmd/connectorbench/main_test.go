package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/messenger"
)

func TestQuarterRates(t *testing.T) {
	t0 := time.Unix(100, 0)
	var at []time.Time
	// 8 arrivals: the first quarter (2) within 1 s of t0, the last quarter
	// (2) within 1.5 s of the arrival before it.
	for _, ms := range []int{500, 1000, 2000, 3000, 4000, 5000, 6000, 6500} {
		at = append(at, t0.Add(time.Duration(ms)*time.Millisecond))
	}
	first, last := quarterRates(at, t0)
	if first != 2 || last != 2/1.5 {
		t.Fatalf("quarterRates = %v, %v; want 2, 1.33", first, last)
	}
	if f, l := quarterRates(at[:3], t0); f != 0 || l != 0 {
		t.Fatalf("fewer than 4 arrivals: %v, %v; want 0, 0", f, l)
	}
}

func TestDeliveryEmail(t *testing.T) {
	body, _ := json.Marshal(connections.Delivery{ID: "msg_1", Payload: []byte(`{"psid":"1","email":"u1@bench.example"}`)})
	if got := deliveryEmail(string(body)); got != "u1@bench.example" {
		t.Fatalf("deliveryEmail = %q", got)
	}
	if got := deliveryEmail("nope"); got != "" {
		t.Fatalf("deliveryEmail(garbage) = %q", got)
	}
}

func TestSampleDeliveries(t *testing.T) {
	conn := connections.Connection{ID: "c1", TenantID: "t1", ChannelID: "ch1"}
	ds := sampleDeliveries(conn, 3, "x")
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.ID] || d.ConnectionID != "c1" || d.TenantID != "t1" || !json.Valid(d.Payload) {
			t.Fatalf("bad delivery %+v", d)
		}
		seen[d.ID] = true
	}
}

// TestMessengerCall: the benchmark's call is a valid webhook body within
// the API's 256 KB, one postback per subscriber.
func TestMessengerCall(t *testing.T) {
	body := messengerCall("m", 1000)
	if len(body) > 256*1024 {
		t.Fatalf("%d bytes: over the API's 256 KB", len(body))
	}
	var b messenger.Body
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	items := b.Items()
	seen := map[string]bool{}
	for _, it := range items {
		if seen[it.PSID] || it.Collected.PostbackID != "GET_STARTED" {
			t.Fatalf("item %+v: repeated subscriber or not a postback", it)
		}
		seen[it.PSID] = true
	}
	if len(items) != 1000 {
		t.Fatalf("%d items", len(items))
	}
}
