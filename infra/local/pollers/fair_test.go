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

// The scheduler's choice: the group holding the fewest busy workers, the
// oldest first among equals; the last free worker goes to a group already
// holding one only while its batches are quick.
func TestFairQueueTake(t *testing.T) {
	msg := func(id string) types.Message {
		return types.Message{MessageId: aws.String(id), ReceiptHandle: aws.String("r" + id)}
	}
	ids := func(ms []types.Message) (out []string) {
		for _, m := range ms {
			out = append(out, aws.ToString(m.MessageId))
		}
		return out
	}
	q := newFairQueue(2)
	now := time.Now()
	q.push([]string{"a", "a", "a", "a", "a"}, []types.Message{msg("a1"), msg("a2"), msg("a3"), msg("a4"), msg("a5")}, now.Add(time.Minute))
	b1, done1, _ := q.take(2, now)
	if got := ids(b1); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Fatalf("first batch %v, want a1 a2", got)
	}
	// b arrives behind a's backlog and holds no worker: it goes first.
	q.push([]string{"b"}, []types.Message{msg("b1")}, now.Add(time.Minute))
	b2, done2, _ := q.take(2, now)
	if got := ids(b2); !slices.Equal(got, []string{"b1"}) {
		t.Fatalf("second batch %v, want b's b1 ahead of a's backlog", got)
	}
	done2()
	// The last free worker: a holds one worker and none of its batches has
	// ended quickly: it waits.
	b3, _, wake := q.take(2, now)
	if b3 != nil || wake == nil {
		t.Fatalf("the last free worker took %v of a group holding one whose batches are not shown quick", ids(b3))
	}
	// Once a's batch ended within fairHold, a is quick: it takes the last
	// worker too.
	done1()
	b4, done4, _ := q.take(2, time.Now())
	b5, done5, _ := q.take(2, time.Now())
	if got := ids(b4); !slices.Equal(got, []string{"a3", "a4"}) || !slices.Equal(ids(b5), []string{"a5"}) {
		t.Fatalf("a quick group's batches: %v then %v; want a3 a4, then the last worker taking a5", got, ids(b5))
	}
	done4()
	done5()
	if q.size() != 0 {
		t.Fatalf("%d messages left buffered", q.size())
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
	p.Concurrency, p.BatchSize, p.Fair, p.GroupOf = 3, 10, true, bodyGroup
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
// or delayed.
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
