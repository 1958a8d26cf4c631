package pollers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/queue"
	"github.com/startmsg/chatbackend/shared/router"
)

// tenantDeliveries are n deliveries of tenant, as the router queues them.
func tenantDeliveries(tenant string, n int) []connections.Delivery {
	ds := make([]connections.Delivery, n)
	for i := range ds {
		ds[i] = connections.Delivery{ID: fmt.Sprintf("msg_%s_%d", tenant, i), TenantID: tenant, ConnectionID: "conn_1",
			Trigger: connections.TriggerEmail, Payload: []byte(`{}`)}
	}
	return ds
}

// The emulator (fauxqs 2.4.1) takes MessageGroupId on a standard queue, as
// SQS does since fair queues: the router's SendMessageBatch and a single
// SendMessage with the group are accepted and their messages delivered.
// It keeps no group for them (it schedules no fair queue), which is why
// the local pollers read the tenant from the body (GroupOfBody).
func TestEmulatorAcceptsMessageGroupOnStandardQueue(t *testing.T) {
	e := emulators.ForTest(t)
	if err := router.Enqueue(t.Context(), e.SQS, e.Queues.DeliveriesURL, append(tenantDeliveries("ten_a", 2), tenantDeliveries("ten_b", 1)...)); err != nil {
		t.Fatalf("SendMessageBatch with MessageGroupId: %v", err)
	}
	if _, err := e.SQS.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(e.Queues.DeliveriesURL),
		MessageBody: aws.String(`{"id":"msg_x","tenant_id":"ten_c"}`), MessageGroupId: queue.GroupID("ten_c")}); err != nil {
		t.Fatalf("SendMessage with MessageGroupId: %v", err)
	}
	got := map[string]bool{}
	for len(got) < 4 {
		out, err := e.SQS.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.Queues.DeliveriesURL),
			MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			t.Fatalf("received %d of 4 messages", len(got))
		}
		for _, m := range out.Messages {
			g := aws.ToString(queue.GroupOfBody(aws.ToString(m.Body)))
			got[g+"/"+aws.ToString(m.MessageId)] = true
			t.Logf("received a message of %s; MessageGroupId attribute %q", g, m.Attributes["MessageGroupId"])
		}
	}
}

// bodyGroup is make run's GroupOf: the attribute, else the body's tenant.
func bodyGroup(m types.Message) string {
	if g := m.Attributes["MessageGroupId"]; g != "" {
		return g
	}
	return aws.ToString(queue.GroupOfBody(aws.ToString(m.Body)))
}

// Two tenants: A's 30 deliveries, queued first, go to a receiver that
// hangs; B's 4 are queued after them. Fair pollers do not let A hold every
// worker: B's deliveries are handled while A's hang. Once A's receiver
// answers, every A delivery is handled exactly once and no message was
// received twice (sending a message back spends none of its receives).
func TestFairPollerTwoTenants(t *testing.T) {
	e := emulators.ForTest(t)
	if err := router.Enqueue(t.Context(), e.SQS, e.Queues.DeliveriesURL, tenantDeliveries("ten_a", 30)); err != nil {
		t.Fatal(err)
	}
	if err := router.Enqueue(t.Context(), e.SQS, e.Queues.DeliveriesURL, tenantDeliveries("ten_b", 4)); err != nil {
		t.Fatal(err)
	}
	hang := make(chan struct{})
	var once sync.Once
	unhang := func() { once.Do(func() { close(hang) }) }
	t.Cleanup(unhang)
	bDone := make(chan string, 10)
	var mu sync.Mutex
	handled := map[string]int{}
	var receivedTwice []string
	h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var hung bool
		for _, m := range ev.Records {
			var d connections.Delivery
			if err := json.Unmarshal([]byte(m.Body), &d); err != nil {
				return events.SQSEventResponse{}, err
			}
			mu.Lock()
			handled[d.ID]++
			if m.Attributes["ApproximateReceiveCount"] != "1" {
				receivedTwice = append(receivedTwice, d.ID+" ("+m.Attributes["ApproximateReceiveCount"]+")")
			}
			mu.Unlock()
			if d.TenantID == "ten_b" {
				bDone <- d.ID
			} else {
				hung = true
			}
		}
		if hung {
			select {
			case <-hang:
			case <-ctx.Done():
			}
		}
		return events.SQSEventResponse{}, nil
	}
	p := sqsPoller(t, e, h)
	p.Concurrency, p.BatchSize, p.Fair, p.GroupOf = 3, 2, true, bodyGroup
	stop := run(t, p.Run)
	for range 4 {
		receive(t, bDone, "tenant B's deliveries while tenant A's receiver hangs")
	}
	unhang()
	waitDrained(t, e)
	stop()
	mu.Lock()
	defer mu.Unlock()
	for _, d := range append(tenantDeliveries("ten_a", 30), tenantDeliveries("ten_b", 4)...) {
		if handled[d.ID] != 1 {
			t.Errorf("%s handled %d times, want once", d.ID, handled[d.ID])
		}
	}
	if len(receivedTwice) > 0 {
		t.Errorf("messages received more than once: %v", receivedTwice)
	}
}

// admit is fairness.admit as a worker makes it when no other is released
// while it holds a lone group's batch.
func admit(f *fairness, groups []string) (keep, back []int) {
	keep, back, _, hold, _ := f.admit(groups, false)
	if hold {
		keep, back, _, _, _ = f.admit(groups, true)
	}
	return keep, back
}

// release releases a busy worker whose batch held exactly the groups of
// groups.
func release(f *fairness, groups []string) {
	var want []string
	for _, g := range groups {
		if !slices.Contains(want, g) {
			want = append(want, g)
		}
	}
	f.mu.Lock()
	var found *ticket
	for t := range f.tickets {
		if slices.Equal(slices.Sorted(slices.Values(t.groups)), slices.Sorted(slices.Values(want))) {
			found = t
			break
		}
	}
	f.mu.Unlock()
	if found == nil {
		panic(fmt.Sprintf("no worker holds %v", want))
	}
	f.release(found)
}

// The share, in workers: a group alone is never sent back while a worker
// frees up; with others active, a group holding its even share of the
// workers or more is sent back only when taking it would leave no worker
// free to receive, however few messages its batches hold.
func TestFairShare(t *testing.T) {
	f := newFairness(4, 10, 1<<62)
	clock := time.Now()
	f.now = func() time.Time { return clock }
	// a alone: three workers take a batch of one message of a each.
	for w := range 3 {
		if keep, back := admit(f, []string{"a"}); len(keep) != 1 || len(back) != 0 {
			t.Fatalf("a alone, worker %d: keep %v back %v; want kept", w+1, keep, back)
		}
	}
	// The last free worker holds a's batch while the others are busy; when
	// one is released it is handled, never sent back.
	keep, back, _, hold, freed := f.admit([]string{"a", "a"}, false)
	if !hold || keep != nil || back != nil {
		t.Fatalf("a alone at the last free worker: keep %v back %v hold %t; want held", keep, back, hold)
	}
	release(f, []string{"a"})
	select {
	case <-freed:
	default:
		t.Fatal("a worker's release did not wake the holding one")
	}
	if keep, back, _, hold, _ = f.admit([]string{"a", "a"}, false); len(keep) != 2 || back != nil || hold {
		t.Fatalf("a alone once a worker was released: keep %v back %v hold %t", keep, back, hold)
	}
	// Every other worker still busy after the hold: back, to receive again.
	if keep, back := admit(f, []string{"a"}); len(keep) != 0 || len(back) != 1 {
		t.Fatalf("a alone, the others still busy after the hold: keep %v back %v; want sent back", keep, back)
	}
	// b is seen: shares are 2 workers each; a holds 3 (with 4 messages in
	// all), its batches have run fairHold, and taking its message would
	// leave no worker free: a's goes back, b's are kept.
	clock = clock.Add(fairHold)
	if keep, back := admit(f, []string{"b", "a", "b"}); fmt.Sprint(keep, back) != "[0 2] [1]" {
		t.Fatalf("mixed batch: keep %v back %v", keep, back)
	}
	release(f, []string{"b", "b"})
	release(f, []string{"a"})
	release(f, []string{"a", "a"}) // a holds 1 worker; b is still active
	// Under its share, and over it while another worker stays free: kept.
	if keep, back := admit(f, []string{"a", "a", "a"}); len(keep) != 3 || len(back) != 0 {
		t.Fatalf("a on 1 worker, share 2, three free: keep %v back %v", keep, back)
	}
	if keep, back := admit(f, []string{"a"}); len(keep) != 1 || len(back) != 0 {
		t.Fatalf("a at its share, one worker still free after: keep %v back %v", keep, back)
	}
	// The last free worker: a's message goes back, b's is kept.
	if keep, back := admit(f, []string{"a", "b"}); fmt.Sprint(keep, back) != "[1] [0]" {
		t.Fatalf("last worker: keep %v back %v", keep, back)
	}
	// One worker: a single group takes it.
	g := newFairness(1, 10, 1<<62)
	if keep, _ := admit(g, make([]string, 10)); len(keep) != 10 {
		t.Fatalf("one worker: kept %d of 10", len(keep))
	}
}

// At the last free worker, a group at its share is sent back only when one
// of its batches in hand has run fairHold (it is slow and would keep the
// worker); a group whose batches are quick takes it.
func TestFairShareLastWorkerSlowGroup(t *testing.T) {
	f := newFairness(4, 10, 1<<62)
	clock := time.Now()
	f.now = func() time.Time { return clock }
	if keep, _ := admit(f, []string{"a"}); len(keep) != 1 {
		t.Fatal("a not kept")
	}
	for w := range 2 {
		if keep, _ := admit(f, []string{"b"}); len(keep) != 1 {
			t.Fatalf("b, worker %d: not kept", w+2)
		}
	}
	// b at its share of 2, its batches quick, the last free worker: kept.
	if keep, back := admit(f, []string{"b"}); len(keep) != 1 || len(back) != 0 {
		t.Fatalf("b quick at the last worker: keep %v back %v; want kept", keep, back)
	}
	release(f, []string{"b"})
	clock = clock.Add(fairHold)
	// Now b's batches in hand have run fairHold and a holds fewer workers
	// than its share: b goes back, a is kept.
	if keep, back := admit(f, []string{"b", "a"}); fmt.Sprint(keep, back) != "[1] [0]" {
		t.Fatalf("b slow at the last worker: keep %v back %v; want b back, a kept", keep, back)
	}
	// A batch of a and b that hangs makes both slow. With a at its share
	// too, nobody has a claim on the last free worker: b is kept.
	g := newFairness(4, 10, 1<<62)
	g.now = func() time.Time { return clock }
	for _, batch := range [][]string{{"a", "b"}, {"a"}, {"b"}} {
		if keep, _ := admit(g, batch); len(keep) != len(batch) {
			t.Fatalf("%v not kept", batch)
		}
	}
	clock = clock.Add(fairHold)
	if keep, back := admit(g, []string{"b"}); len(keep) != 1 || len(back) != 0 {
		t.Fatalf("b slow at the last worker, a at its share: keep %v back %v; want kept", keep, back)
	}
}

// sendBacks counts the poller's "sent back" records (the messages sent
// back) and passes every record on to next.
type sendBacks struct {
	slog.Handler
	n *atomic.Int64
}

func (h sendBacks) Enabled(context.Context, slog.Level) bool { return true }

func (h sendBacks) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "sqs poller: sent back over fair share" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "messages" {
				h.n.Add(a.Value.Int64())
			}
			return true
		})
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

// One tenant alone on fair pollers whose handler takes a little while: no
// message is sent back (they were: a fair share kept one batch's worth
// from a lone tenant, and the worker left free sent every batch it
// received back, doubling the queue's traffic).
func TestFairPollerOneTenantSendsNothingBack(t *testing.T) {
	e := emulators.ForTest(t)
	const n = 120
	if err := router.Enqueue(t.Context(), e.SQS, e.Queues.DeliveriesURL, tenantDeliveries("ten_a", n)); err != nil {
		t.Fatal(err)
	}
	var handled, busy, most atomic.Int64
	h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		b := busy.Add(1)
		for m := most.Load(); b > m && !most.CompareAndSwap(m, b); m = most.Load() {
		}
		time.Sleep(50 * time.Millisecond)
		busy.Add(-1)
		handled.Add(int64(len(ev.Records)))
		return events.SQSEventResponse{}, nil
	}
	var back atomic.Int64
	p := sqsPoller(t, e, h)
	p.Concurrency, p.BatchSize, p.Fair, p.GroupOf = 4, 5, true, bodyGroup
	p.Logger = slog.New(sendBacks{Handler: p.Logger.Handler(), n: &back})
	stop := run(t, p.Run)
	waitDrained(t, e)
	stop()
	if handled.Load() != n {
		t.Errorf("handled %d of %d", handled.Load(), n)
	}
	if back.Load() != 0 {
		t.Errorf("%d messages of a lone tenant sent back, want 0", back.Load())
	}
	t.Logf("at most %d batches at once of 4", most.Load())
}

// A tenant whose batches hang, each of a single message, holds every
// worker but one: tenant B's delivery, queued after A's third, is handled
// while A's first two hang. (With shares counted in messages, A's three
// one-message batches were far under a share of 15 and took all three
// workers: B waited for A's handler.)
func TestFairPollerSmallHangingBatches(t *testing.T) {
	e := emulators.ForTest(t)
	hang := make(chan struct{})
	var once sync.Once
	unhang := func() { once.Do(func() { close(hang) }) }
	t.Cleanup(unhang)
	started := make(chan string, 10)
	bDone := make(chan string, 10)
	var mu sync.Mutex
	handled := map[string]int{}
	h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var hung bool
		for _, m := range ev.Records {
			var d connections.Delivery
			if err := json.Unmarshal([]byte(m.Body), &d); err != nil {
				return events.SQSEventResponse{}, err
			}
			mu.Lock()
			handled[d.ID]++
			mu.Unlock()
			if d.TenantID == "ten_b" {
				bDone <- d.ID
			} else {
				started <- d.ID
				hung = true
			}
		}
		if hung {
			select {
			case <-hang:
			case <-ctx.Done():
			}
		}
		return events.SQSEventResponse{}, nil
	}
	p := sqsPoller(t, e, h)
	p.Concurrency, p.BatchSize, p.Fair, p.GroupOf, p.FairWindow = 3, 10, true, bodyGroup, time.Minute
	stop := run(t, p.Run)
	a, b := tenantDeliveries("ten_a", 3), tenantDeliveries("ten_b", 2)
	enqueue := func(d connections.Delivery) {
		if err := router.Enqueue(t.Context(), e.SQS, e.Queues.DeliveriesURL, []connections.Delivery{d}); err != nil {
			t.Fatal(err)
		}
	}
	enqueue(b[0]) // B is seen
	receive(t, bDone, "tenant B's first delivery")
	for _, d := range a[:2] { // A's first two, one batch each, hang
		enqueue(d)
		receive(t, started, "tenant A's delivery "+d.ID)
	}
	time.Sleep(fairHold + 100*time.Millisecond) // they have hung a while
	enqueue(a[2])
	time.Sleep(300 * time.Millisecond)
	enqueue(b[1])
	receive(t, bDone, "tenant B's second delivery while A's batches hang")
	unhang()
	waitDrained(t, e)
	stop()
	mu.Lock()
	defer mu.Unlock()
	for _, d := range append(a, b...) {
		if handled[d.ID] != 1 {
			t.Errorf("%s handled %d times, want once", d.ID, handled[d.ID])
		}
	}
}

// waitDrained waits until the queue holds no messages, visible, in flight
// or delayed (copies sent back are delayed by fairBackDelay).
func waitDrained(t *testing.T, e *emulators.TestEnv) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := e.SQS.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(e.Queues.DeliveriesURL),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
				types.QueueAttributeNameApproximateNumberOfMessagesNotVisible, types.QueueAttributeNameApproximateNumberOfMessagesDelayed},
		})
		if err != nil {
			t.Fatal(err)
		}
		a := out.Attributes
		if a["ApproximateNumberOfMessages"] == "0" && a["ApproximateNumberOfMessagesNotVisible"] == "0" && a["ApproximateNumberOfMessagesDelayed"] == "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained: %v", a)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
