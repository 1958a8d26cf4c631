package dispatch

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/delivery"
)

// TestInFlightCap: attempts to one connection in one process stop at the
// cap; the rest of the batch is parked (no attempt spent) after a short
// wait for a slot, and at once when the connection is already failing.
func TestInFlightCap(t *testing.T) {
	conn := connections.Connection{ID: "conn_1", TenantID: "ten_1", URL: "https://example.com/hook", Enabled: true,
		Secrets: []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
	release := make(chan struct{})
	var inFlight, most atomic.Int64
	s := senderFunc(func() delivery.Result {
		n := inFlight.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
		return delivery.Result{Outcome: connections.OutcomeSuccess, Status: 200}
	})
	q := &fakeQueue{}
	d := New(newStore(conn), s, q, "q")
	d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	d.Limits = NewLimits(nil, connections.DeliveryLimits{InFlightPerConnection: 3})
	done := make(chan events.SQSEventResponse)
	go func() {
		resp, _ := d.Handle(t.Context(), tenTasks(t, conn))
		done <- resp
	}()
	// The seven over the cap wait for a slot, then are parked; the three
	// in flight hold theirs until released.
	waitUntil(t, 10*time.Second, "three attempts in flight", func() bool { return inFlight.Load() == 3 })
	time.Sleep(4 * slotWait) // the others give up waiting for a slot
	close(release)
	<-done
	if most.Load() != 3 {
		t.Errorf("at most %d attempts in flight, want 3", most.Load())
	}
	// Parked in place: hidden, not queued again, no attempt spent.
	if len(q.sent) != 0 || len(q.vis) != 7 {
		t.Errorf("%d queued again, %d hidden; want 7 hidden", len(q.sent), len(q.vis))
	}
	for _, v := range q.vis {
		if v < int32(delivery.AttemptTimeout/time.Second) {
			t.Errorf("parked for %d s, want at least an attempt's time limit", v)
		}
	}
}

func tenTasks(t *testing.T, c connections.Connection) events.SQSEvent {
	var ev events.SQSEvent
	for i := range 10 {
		ev.Records = append(ev.Records, message(t, connections.Task{Delivery: connections.Delivery{ID: "msg_f" + string(rune('a'+i)),
			TenantID: c.TenantID, ConnectionID: c.ID, Payload: []byte(`{}`)}}, 1))
	}
	return ev
}

// waitUntil polls cond every 10 ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %s for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
