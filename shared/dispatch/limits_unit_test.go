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

// TestKnowHostKeepsTheLaterState: states of a host's breaker reported out
// of order (a batch's attempts note their results concurrently) leave the
// latest known: an earlier count does not hide the breaker's opening, a
// failed probe's doubled interval replaces the opening, a new opening
// replaces an old one, and a close forgets the host.
func TestKnowHostKeepsTheLaterState(t *testing.T) {
	// A store is needed for host breakers to be on; none is called here.
	var none struct{ connections.HostBreakerStore }
	l := &Limits{Hosts: none}
	counted3 := connections.HostBreaker{Failures: 3}
	opened := connections.HostBreaker{Failures: 5, OpenSince: 1000, NextProbe: 31000, Interval: 30000}
	probeFailed := connections.HostBreaker{Failures: 6, OpenSince: 1000, NextProbe: 91000, Interval: 60000}
	reopened := connections.HostBreaker{Failures: 5, OpenSince: 500000, NextProbe: 530000, Interval: 30000}
	known := func() connections.HostBreaker { return l.hosts[hostStateKey("t", "h:443")] }
	for _, step := range []struct {
		name string
		h    connections.HostBreaker
		want connections.HostBreaker
	}{
		{"opened", opened, opened},
		{"an earlier count, late", counted3, opened},
		{"a failed probe", probeFailed, probeFailed},
		{"the opening, late", opened, probeFailed},
		{"opened again later", reopened, reopened},
	} {
		l.knowHost("t", "h:443", step.h)
		if got := known(); got.Failures != step.want.Failures || got.OpenSince != step.want.OpenSince || got.Interval != step.want.Interval {
			t.Fatalf("after %s: %+v, want %+v", step.name, got, step.want)
		}
	}
	if conn := (connections.Connection{TenantID: "t", URL: "https://h/x"}); !l.onKnownHost(conn, connections.Breaker{Failures: 1}).HostOpen() {
		t.Fatal("a connection of the open host is not taken as parked")
	}
	l.knowHost("t", "h:443", connections.HostBreaker{})
	if l.hostKnownFailing("t", "h:443") {
		t.Fatal("a closed host is still known failing")
	}
}
