package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/infra/bench/connector"
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

// B's figure starts at its API call: the update's start, not when its
// delivery was queued; refused updates and missing deliveries make the
// phase unfit for the ratio.
func TestNoisySettleFromUpdate(t *testing.T) {
	sink := &connector.Sink{Key: connector.JSONField("email")}
	t0 := time.Now()
	sink.Now = func() time.Time { return t0.Add(800 * time.Millisecond) }
	calls := []noisyCall{}
	for i := range minNoisySamples {
		email := fmt.Sprintf("b%d@noisy.example", i)
		calls = append(calls, noisyCall{email: email, start: t0, end: t0.Add(100 * time.Millisecond), status: http.StatusOK})
		sink.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/hook",
			strings.NewReader(fmt.Sprintf(`{"email":%q}`, email))))
	}
	// Each stage of B's deliveries, A's left out.
	st := newBStages("ten_b")
	var bodies []string
	for i, c := range append(slices.Clone(calls), noisyCall{email: "a1@bench.example"}) {
		tenant := "ten_b"
		if i == len(calls) {
			tenant = "ten_a"
		}
		b, _ := json.Marshal(connections.Delivery{ID: fmt.Sprint("msg_", i), TenantID: tenant, Payload: []byte(fmt.Sprintf(`{"email":%q}`, c.email))})
		bodies = append(bodies, string(b))
	}
	st.sent(bodies, t0.Add(300*time.Millisecond))
	ev := events.SQSEvent{}
	for _, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{Body: b})
	}
	_, _ = st.handler(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	})(context.Background(), ev)
	if len(st.queued) != minNoisySamples || len(st.dispatched) != minNoisySamples {
		t.Fatalf("%d queued, %d dispatched noted; want B's %d only", len(st.queued), len(st.dispatched), minNoisySamples)
	}
	p := settle(context.Background(), sink, st, calls, 0)
	if p.Accepted != minNoisySamples || p.Arrived != minNoisySamples || p.Latency.P95MS != 800 || p.API.P95MS != 100 || p.ToQueue.P95MS != 200 {
		t.Fatalf("phase %+v: want every update delivered 800 ms after its API call started", p)
	}
	twice := p
	twice.Latency.P95MS = 1200
	// The baseline is the better alone phase, whichever it is.
	for _, alone := range [][]noisyPhase{{p, twice}, {twice, p}} {
		if r, why := p95Ratio(alone, twice); r != 1.5 || why != "" {
			t.Fatalf("ratio %v (%q), want 1.5", r, why)
		}
	}
	short := p
	short.Accepted, short.Updates, short.Arrived = minNoisySamples-1, minNoisySamples-1, minNoisySamples-1
	if _, why := p95Ratio([]noisyPhase{p, short}, p); !strings.Contains(why, "too few samples") {
		t.Fatalf("few samples not flagged: %q", why)
	}
	refused := append(slices.Clone(calls), noisyCall{email: "x@noisy.example", status: http.StatusTooManyRequests})
	pr := settle(context.Background(), sink, nil, refused, 0)
	if _, why := p95Ratio([]noisyPhase{p}, pr); !strings.Contains(why, "refused") || pr.Non2xx[429] != 1 {
		t.Fatalf("refused update not flagged: %q %+v", why, pr)
	}
}

// TestMedianRound: the round reported is the one whose ratio to the
// ceiling loops around it is the median, whatever the order.
func TestMedianRound(t *testing.T) {
	r := func(per float64) throughputRun { return throughputRun{PerSec: per} }
	ceils := []throughputRun{r(1000), r(3000), r(1000), r(1000)}
	runs := []throughputRun{r(1000), r(900), r(700)} // ratios 0.5, 0.45, 0.7
	if m := medianRound(runs, ceils); m != 0 {
		t.Errorf("median round %d (ratios %.2f %.2f %.2f), want 0", m, roundRatio(runs, ceils, 0), roundRatio(runs, ceils, 1), roundRatio(runs, ceils, 2))
	}
	if m := medianRound(runs[:1], ceils[:2]); m != 0 {
		t.Errorf("one round: %d", m)
	}
}

// issuedRate is the rate the calls were started at, whatever their answers
// took.
func TestIssuedRate(t *testing.T) {
	t0 := time.Now()
	var calls []noisyCall
	for i := range 11 {
		calls = append(calls, noisyCall{start: t0.Add(time.Duration(i) * 100 * time.Millisecond), end: t0.Add(time.Minute)})
	}
	if r := issuedRate(calls); r < 9.99 || r > 10.01 {
		t.Fatalf("issuedRate = %v, want 10/s", r)
	}
	if r := issuedRate(calls[:1]); r != 0 {
		t.Fatalf("one call: %v, want 0", r)
	}
}
