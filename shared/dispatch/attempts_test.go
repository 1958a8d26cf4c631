package dispatch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/queue"
)

// flakyStore fails GetConnection while failing is positive, counting down.
type flakyStore struct {
	*memStore
	failing int
}

func (s *flakyStore) GetConnection(ctx context.Context, tenantID, id string) (connections.Connection, error) {
	s.mu.Lock()
	fail := s.failing > 0
	s.failing--
	s.mu.Unlock()
	if fail {
		return connections.Connection{}, errors.New("ProvisionedThroughputExceededException")
	}
	return s.memStore.GetConnection(ctx, tenantID, id)
}

// TestFaultsSpendNoAttempt follows one delivery whose target always answers
// 500 through the queue as SQS would hand it out, with the dispatcher's
// store failing now and then, receives lost, and invocations throttled
// (neither of which reaches the dispatcher, but each raises the receive
// count): the target gets exactly MaxAttempts requests, numbered 1 to
// MaxAttempts, and the delivery dies after the last one. Counting attempts
// by the receive count, as the dispatcher once did, spends an attempt on
// every fault and gives up early.
func TestFaultsSpendNoAttempt(t *testing.T) {
	conn := connections.Connection{ID: "c", TenantID: "t", URL: "https://x", Enabled: true, Secrets: []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
	store := &flakyStore{memStore: newStore(conn)}
	now := time.Unix(1_800_000_000, 0)
	requests := 0
	sender := senderFunc(func() delivery.Result {
		requests++
		return delivery.Result{Outcome: connections.OutcomeHTTP, Status: 500}
	})
	q := &fakeQueue{}
	d := &Dispatcher{Store: store, Sender: sender, Queue: q, QueueURL: "q", Now: func() time.Time { return now },
		Jitter: func() float64 { return 0 }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	metricsOut = func([]byte) {}

	task := connections.Task{Delivery: connections.Delivery{ID: "msg_f", TenantID: "t", ConnectionID: "c", Payload: []byte(`{}`)}}
	for hop := 0; hop < 3*connections.MaxAttempts; hop++ {
		// Each message: two receives lost or throttled, one store fault,
		// then the receive that makes the attempt.
		store.failing = 1
		receives := 3
		var out events.SQSEventResponse
		for {
			m := message(t, task, receives)
			var err error
			if out, err = d.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{m}}); err != nil {
				t.Fatal(err)
			}
			if len(out.BatchItemFailures) == 0 {
				break
			}
			receives++
			if receives > queue.MaxReceiveCount {
				t.Fatalf("message of attempt %d received %d times: SQS would move it to the DLQ", task.Attempts+1, receives)
			}
			// Past its due time, as SQS would hand it out again.
			if task.NotBefore > 0 {
				now = time.UnixMilli(task.NotBefore)
			}
		}
		if len(store.dead) > 0 {
			break
		}
		tasks := q.tasks(t)
		if len(tasks) != hop+1 {
			t.Fatalf("hop %d: %d retries queued", hop, len(tasks))
		}
		task = tasks[hop]
	}
	if requests != connections.MaxAttempts {
		t.Errorf("target got %d requests, want MaxAttempts = %d", requests, connections.MaxAttempts)
	}
	var nums []int
	for _, a := range store.attempts {
		nums = append(nums, a.Attempt)
	}
	want := make([]int, connections.MaxAttempts)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(nums, want) {
		t.Errorf("attempts logged %v, want %v", nums, want)
	}
	if len(store.dead) != 1 || store.dead[0].LastAttempt.Attempt != connections.MaxAttempts {
		t.Errorf("dead %+v, want one, after attempt %d", store.dead, connections.MaxAttempts)
	}
}

// batchStore is a memStore that logs attempts in batches.
type batchStore struct {
	*memStore
	batches [][]connections.ConnAttempt
	err     error
}

func (s *batchStore) AddAttempts(_ context.Context, as []connections.ConnAttempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, slices.Clone(as))
	return s.err
}

// TestBatchWrites: a batch of ten deliveries on two connections reads each
// connection once, logs the ten attempts in one write, and queues the
// retries in one SendMessageBatch.
func TestBatchWrites(t *testing.T) {
	secret := []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}
	store := &batchStore{memStore: newStore(
		connections.Connection{ID: "a", TenantID: "t", URL: "https://a", Enabled: true, Secrets: secret},
		connections.Connection{ID: "b", TenantID: "t", URL: "https://b", Enabled: true, Secrets: secret, FailingSince: 1})}
	var mu sync.Mutex
	n := 0
	sender := senderFunc(func() delivery.Result {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%2 == 0 {
			return delivery.Result{Outcome: connections.OutcomeHTTP, Status: 503}
		}
		return delivery.Result{Outcome: connections.OutcomeSuccess, Status: 200}
	})
	q := &fakeQueue{}
	d := &Dispatcher{Store: store, Sender: sender, Queue: q, QueueURL: "q", Now: time.Now, Jitter: func() float64 { return 0 },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	metricsOut = func([]byte) {}
	var ev events.SQSEvent
	for i := range 10 {
		ev.Records = append(ev.Records, message(t, connections.Task{Delivery: connections.Delivery{
			ID: "msg_" + strconv.Itoa(i), TenantID: "t", ConnectionID: []string{"a", "b"}[i%2], Payload: []byte("{}")}}, 1))
	}
	out, err := d.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.BatchItemFailures) != 0 {
		t.Errorf("failures %v: every message is done with (delivered, or queued again)", out.BatchItemFailures)
	}
	if store.gets != 2 {
		t.Errorf("%d connection reads for a batch on 2 connections", store.gets)
	}
	if len(store.batches) != 1 || len(store.batches[0]) != 10 || len(store.attempts) != 0 {
		t.Fatalf("attempts logged in %d writes (%v) and %d single ones, want one write of 10", len(store.batches), len(store.batches), len(store.attempts))
	}
	for _, a := range store.batches[0] {
		if a.TenantID != "t" || (a.ConnectionID != "a" && a.ConnectionID != "b") || a.Attempt.Attempt != 1 {
			t.Errorf("logged %+v", a)
		}
	}
	if q.calls != 1 || len(q.sent) != 5 {
		t.Errorf("%d SendMessageBatch calls for %d retries, want 1 for 5", q.calls, len(q.sent))
	}

	// A failed log write is not retried in place: the attempts travel on
	// in the queue (TestUnloggedAttemptsKept), the five retries carrying
	// theirs, the five delivered queued again as log-only messages, in
	// one SendMessageBatch.
	store.err, store.batches = errors.New("down"), nil
	q2 := &fakeQueue{}
	d.Queue = q2
	out, err = d.Handle(context.Background(), ev)
	if err != nil || len(out.BatchItemFailures) != 0 || len(store.batches) != 1 || q2.calls != 1 || len(q2.sent) != 10 {
		t.Errorf("with the log write failing: %v, %v, %d writes, %d messages queued in %d calls", out.BatchItemFailures, err, len(store.batches), len(q2.sent), q2.calls)
	}
}

// TestRetryQueueFailures: when the SendMessageBatch call fails, each retry
// is sent alone; one SQS refuses keeps its old message, hidden for the wait
// and reported failed, the others are done with.
func TestRetryQueueFailures(t *testing.T) {
	store := newStore(connections.Connection{ID: "c", TenantID: "t", URL: "https://x", Enabled: true, Secrets: []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}})
	q := &splitQueue{fakeQueue: fakeQueue{refuse: []string{`"msg_2"`}}}
	d := &Dispatcher{Store: store, Sender: fakeSender{delivery.Result{Outcome: connections.OutcomeHTTP, Status: 500}}, Queue: q, QueueURL: "q",
		Now: time.Now, Jitter: func() float64 { return 0 }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	metricsOut = func([]byte) {}
	var ev events.SQSEvent
	for i := range 4 {
		ev.Records = append(ev.Records, message(t, connections.Task{Delivery: connections.Delivery{ID: "msg_" + strconv.Itoa(i), TenantID: "t", ConnectionID: "c", Payload: []byte("{}")}}, 1))
	}
	out, err := d.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.BatchItemFailures) != 1 || out.BatchItemFailures[0].ItemIdentifier != "m-msg_2" {
		t.Fatalf("failures %v, want m-msg_2 only", out.BatchItemFailures)
	}
	if q.calls != 5 || len(q.sent) != 3 || !slices.Equal(q.vis, []int32{5}) {
		t.Errorf("%d calls, %d sent, visibility %v; want 1 + 4 calls, 3 sent, [5]", q.calls, len(q.sent), q.vis)
	}
}

// splitQueue fails every SendMessageBatch of more than one entry.
type splitQueue struct{ fakeQueue }

func (q *splitQueue) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if len(in.Entries) > 1 {
		q.mu.Lock()
		q.calls++
		q.mu.Unlock()
		return nil, errors.New("AWS.SimpleQueueService.BatchRequestTooLong")
	}
	return q.fakeQueue.SendMessageBatch(ctx, in, o...)
}

// TestFaultBackoff: the dispatcher's faults back off from 5 s to 15 min,
// and the queue's redrive limit leaves them room for about two hours (at
// least 90 minutes on top of the two receives a message may need).
func TestFaultBackoff(t *testing.T) {
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 320 * time.Second, 640 * time.Second, 15 * time.Minute, 15 * time.Minute}
	for i, w := range want {
		if got := FaultBackoff(i + 1); got != w {
			t.Errorf("FaultBackoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if FaultBackoff(0) != 5*time.Second || FaultBackoff(1000) != 15*time.Minute {
		t.Errorf("FaultBackoff(0) = %v, (1000) = %v", FaultBackoff(0), FaultBackoff(1000))
	}
	if queue.MaxReceiveCount < connections.MaxAttempts+2 {
		t.Fatalf("MaxReceiveCount %d leaves no headroom over MaxAttempts %d", queue.MaxReceiveCount, connections.MaxAttempts)
	}
	var total time.Duration
	for r := 1; r <= queue.MaxReceiveCount-2; r++ {
		total += FaultBackoff(r)
	}
	if total < 90*time.Minute {
		t.Errorf("%d faulty receives ride out %v, want at least 90 min", queue.MaxReceiveCount-2, total)
	}
}
