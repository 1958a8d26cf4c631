package pollers

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
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
	waitEmpty(t, e)
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

// The share: evenly among the active groups, never the whole capacity.
func TestFairShare(t *testing.T) {
	f := newFairness(4, 5, 1<<62) // capacity 20, reserve 5
	keep, back := f.admit([]string{"a", "a", "a", "a", "a"})
	if len(keep) != 5 || len(back) != 0 {
		t.Fatalf("first batch of a: keep %v back %v", keep, back)
	}
	f.admit([]string{"a", "a", "a", "a", "a"})
	f.admit([]string{"a", "a", "a", "a", "a"})
	// a holds 15 of 20: alone, it may not take the last batch.
	if keep, back = f.admit([]string{"a", "a"}); len(keep) != 0 || len(back) != 2 {
		t.Fatalf("a over capacity-reserve: keep %v back %v", keep, back)
	}
	// b is seen: shares are 10 each; b's messages are kept, a's sent back.
	if keep, back = f.admit([]string{"b", "a", "b"}); fmt.Sprint(keep, back) != "[0 2] [1]" {
		t.Fatalf("mixed batch: keep %v back %v", keep, back)
	}
	f.release([]string{"a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a"}) // a holds 3
	if keep, _ = f.admit([]string{"a", "a", "a", "a", "a", "a", "a", "a"}); len(keep) != 7 {
		t.Fatalf("a under its share of 10 with 3 in flight: kept %d, want 7", len(keep))
	}
	// One worker: no reserve, a single group takes the whole capacity.
	g := newFairness(1, 10, 1<<62)
	if keep, _ = g.admit(make([]string, 10)); len(keep) != 10 {
		t.Fatalf("one worker: kept %d of 10", len(keep))
	}
}

// A worker that keeps sending whole batches back while one group is alone
// waits longer each time (up to fairPauseMax); once another group is
// active, it scans at fairPause again.
func TestFairPauseGrowsWhileAlone(t *testing.T) {
	f := newFairness(4, 10, 1<<62)
	for range 3 {
		f.admit(make([]string, 10)) // group "" holds 30 of 40: its share
	}
	streak := 0
	var waits []time.Duration
	for range 7 {
		if keep, back := f.admit(make([]string, 10)); len(keep) != 0 || len(back) != 10 {
			t.Fatalf("over the share: keep %v back %v", keep, back)
		}
		waits = append(waits, f.pause(&streak))
	}
	want := []time.Duration{fairPause, 2 * fairPause, 4 * fairPause, 8 * fairPause, 16 * fairPause, fairPauseMax, fairPauseMax}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("waits alone %v, want %v", waits, want)
	}
	f.admit([]string{"b"})
	if w := f.pause(&streak); w != fairPause || streak != 0 {
		t.Fatalf("with another group active: %s (streak %d), want %s", w, streak, fairPause)
	}
}
