package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// TestUnloggedAttemptsKept: when a batch's activity log write fails, no
// attempt made is lost. The delivered and the dead deliveries are queued
// again as log-only messages (their old messages then done with), the
// retries carry their attempts; once the store is back, the log-only
// messages are logged without anything being sent, and a retry logs the
// attempt it carries with its next one. Each attempt the target saw is
// logged exactly once. Before, the messages were deleted and the
// attempts were never logged.
func TestUnloggedAttemptsKept(t *testing.T) {
	secret := []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}
	store := &batchStore{memStore: newStore(connections.Connection{ID: "a", TenantID: "t", URL: "https://a", Enabled: true, Secrets: secret})}
	var (
		mu   sync.Mutex
		sent []string // webhook IDs, one per request
	)
	// msg_0, msg_3, msg_6, msg_9 succeed; msg_1, msg_4, msg_7 get a 503 (retried);
	// msg_2, msg_5, msg_8 a 400 (dead).
	sender := senderFuncID(func(id string) delivery.Result {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, id)
		n, _ := strconv.Atoi(id[len("msg_"):])
		switch n % 3 {
		case 0:
			return delivery.Result{Outcome: connections.OutcomeSuccess, Status: 200}
		case 1:
			return delivery.Result{Outcome: connections.OutcomeHTTP, Status: 503}
		}
		return delivery.Result{Outcome: connections.OutcomeHTTP, Status: 400}
	})
	q := &fakeQueue{}
	d := &Dispatcher{Store: store, Sender: sender, Queue: q, QueueURL: "q", Now: time.Now, Jitter: func() float64 { return 0 },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	metricsOut = func([]byte) {}
	var ev events.SQSEvent
	for i := range 10 {
		ev.Records = append(ev.Records, message(t, connections.Task{Delivery: connections.Delivery{
			ID: "msg_" + strconv.Itoa(i), TenantID: "t", ConnectionID: "a", Payload: []byte(`{"n":` + strconv.Itoa(i) + `}`)}}, 1))
	}
	store.err = errors.New("ProvisionedThroughputExceededException")
	out, err := d.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.BatchItemFailures) != 0 {
		t.Fatalf("failures %v: every message is done with, its attempt kept in the queue", out.BatchItemFailures)
	}
	if len(sent) != 10 || len(store.dead) != 3 {
		t.Fatalf("%d requests, %d dead; want 10, 3", len(sent), len(store.dead))
	}
	tasks := q.tasks(t)
	if len(tasks) != 10 {
		t.Fatalf("%d messages queued, want 10 (7 log-only, 3 retries)", len(tasks))
	}
	var logOnly, retries []connections.Task
	for i, task := range tasks {
		if len(task.Unlogged) != 1 || task.Unlogged[0].WebhookID != task.ID || task.Unlogged[0].Attempt != 1 {
			t.Fatalf("message %s carries %+v, want its attempt 1", task.ID, task.Unlogged)
		}
		n, _ := strconv.Atoi(task.ID[len("msg_"):])
		if (n%3 == 1) == task.LogOnly {
			t.Fatalf("message %s: log-only %v, want %v", task.ID, task.LogOnly, n%3 != 1)
		}
		if task.LogOnly {
			if q.sent[i].DelaySeconds != int32(faultBase/time.Second) {
				t.Errorf("log-only %s delayed %d s, want %v", task.ID, q.sent[i].DelaySeconds, faultBase)
			}
			logOnly = append(logOnly, task)
		} else {
			retries = append(retries, task)
		}
	}

	// The store is back: the log-only messages are logged, nothing sent.
	store.err, store.batches = nil, nil
	var back events.SQSEvent
	for _, task := range logOnly {
		back.Records = append(back.Records, message(t, task, 1))
	}
	if out, err := d.Handle(context.Background(), back); err != nil || len(out.BatchItemFailures) != 0 {
		t.Fatalf("log-only messages: %v, %v", out.BatchItemFailures, err)
	}
	if len(sent) != 10 {
		t.Errorf("log-only messages sent %d requests", len(sent)-10)
	}
	// The retries: each logs its carried attempt with its next one.
	var again events.SQSEvent
	for _, task := range retries {
		again.Records = append(again.Records, message(t, task, 1))
	}
	q.sent = nil
	if out, err := d.Handle(context.Background(), again); err != nil || len(out.BatchItemFailures) != 0 {
		t.Fatalf("retries: %v, %v", out.BatchItemFailures, err)
	}
	for _, task := range q.tasks(t) {
		if len(task.Unlogged) != 0 || task.LogOnly {
			t.Errorf("retry %s after a good write carries %+v (log-only %v)", task.ID, task.Unlogged, task.LogOnly)
		}
	}
	logged := map[string][]int{}
	for _, b := range store.batches {
		for _, a := range b {
			logged[a.WebhookID] = append(logged[a.WebhookID], a.Attempt.Attempt)
		}
	}
	requests := map[string]int{}
	for _, id := range sent {
		requests[id]++
	}
	for i := range 10 {
		id := "msg_" + strconv.Itoa(i)
		want := []int{1}
		if i%3 == 1 {
			want = []int{1, 2}
		}
		if !slices.Equal(logged[id], want) || requests[id] != len(want) {
			t.Errorf("%s: %d requests, attempts logged %v; want %v", id, requests[id], logged[id], want)
		}
	}
}

// TestUnloggedFallback: when the log write fails and the log-only message
// cannot be queued either, the delivered message is not deleted (hidden
// for faultBase, it comes back and is sent again: at least once); a
// log-only message whose write fails again stays, hidden, and sends
// nothing.
func TestUnloggedFallback(t *testing.T) {
	secret := []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}
	store := &batchStore{memStore: newStore(connections.Connection{ID: "a", TenantID: "t", URL: "https://a", Enabled: true, Secrets: secret}),
		err: errors.New("down")}
	requests := 0
	sender := senderFunc(func() delivery.Result {
		requests++
		return delivery.Result{Outcome: connections.OutcomeSuccess, Status: 200}
	})
	q := &fakeQueue{sendErr: errors.New("sqs down")}
	d := &Dispatcher{Store: store, Sender: sender, Queue: q, QueueURL: "q", Now: time.Now, Jitter: func() float64 { return 0 },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	metricsOut = func([]byte) {}
	task := connections.Task{Delivery: connections.Delivery{ID: "msg_1", TenantID: "t", ConnectionID: "a", Payload: []byte(`{}`)}}
	out, err := d.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{message(t, task, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.BatchItemFailures) != 1 || !slices.Equal(q.vis, []int32{int32(faultBase / time.Second)}) {
		t.Errorf("failures %v, visibility %v: want the message kept, hidden %v", out.BatchItemFailures, q.vis, faultBase)
	}

	q.vis = nil
	task.LogOnly = true
	task.Unlogged = []connections.Attempt{{WebhookID: "msg_1", Attempt: 1, Outcome: connections.OutcomeSuccess}}
	out, err = d.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{message(t, task, 3)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.BatchItemFailures) != 1 || !slices.Equal(q.vis, []int32{int32(FaultBackoff(3) / time.Second)}) || requests != 1 {
		t.Errorf("log-only, write failing: failures %v, visibility %v, %d requests; want kept, hidden %v, none sent",
			out.BatchItemFailures, q.vis, requests-1, FaultBackoff(3))
	}
}

// senderFuncID is a Sender answering by webhook ID.
type senderFuncID func(id string) delivery.Result

func (f senderFuncID) Send(_ context.Context, _ string, h http.Header, _ []byte) delivery.Result {
	return f(h.Get(webhook.HeaderID))
}

// TestMetricLine: the EMF line written per attempt is the document's
// json.Marshal, byte for byte, for every outcome.
func TestMetricLine(t *testing.T) {
	for _, o := range []connections.Outcome{connections.OutcomeSuccess, connections.OutcomeTimeout, connections.OutcomeDNS,
		connections.OutcomeConnect, connections.OutcomeTLS, connections.OutcomeHTTP, connections.OutcomeBlocked,
		connections.OutcomeSigning, connections.OutcomeDisabled, `we"ird<&>`} {
		want, err := json.Marshal(emfDocument(o, 1234, 1_800_000_000_123))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendMetric(nil, o, 1234, 1_800_000_000_123); string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", o, got, want)
		}
	}
}
