package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/netguard"
	"github.com/startmsg/chatbackend/shared/router"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// faultyStore fails the GetConnection calls that fail says to.
type faultyStore struct {
	*ddbstore.Connections
	fail func() bool
}

func (s *faultyStore) GetConnection(ctx context.Context, tenantID, id string) (connections.Connection, error) {
	if s.fail() {
		return connections.Connection{}, errors.New("ProvisionedThroughputExceededException: injected")
	}
	return s.Connections.GetConnection(ctx, tenantID, id)
}

// TestFaultsSpendNoAttemptE2E runs deliveries to a target that always
// answers 500 through fauxqs, the SQS poller, the dispatcher and dynoxide,
// while the dispatcher's side fails in every way it can: a receive whose
// answer is lost (the queue hid the messages, nobody got them), a function
// error (the whole batch comes back after the visibility timeout), and
// store errors. Each delivery still gets exactly MaxAttempts requests,
// logged as attempts 1 to MaxAttempts, and dies after the last; nothing
// reaches the DLQ. With the attempt number taken from SQS's receive count,
// every one of those faults spends an attempt.
func TestFaultsSpendNoAttemptE2E(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	base := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}

	fastRetries(t, 0)

	var mu sync.Mutex
	requests := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests[r.Header.Get(webhook.HeaderID)]++
		mu.Unlock()
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)

	now := time.Now()
	conn := connections.Connection{ID: "con_faults", TenantID: "ten_faults", ChannelID: "ch", Name: "t", URL: srv.URL + "/hook",
		Triggers: []connections.Trigger{connections.TriggerEmail}, Fields: []string{}, Secrets: []connections.Secret{{Value: webhook.NewSecret()}},
		Source: connections.SourceAPI, Enabled: true, CreatedAt: now.Unix(), UpdatedAt: now.Unix()}
	if err := base.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	const n = 3
	var ds []connections.Delivery
	for i := range n {
		ds = append(ds, connections.Delivery{ID: router.DeliveryID(fmt.Sprint("faults-", i), conn.ID, connections.TriggerEmail),
			TenantID: conn.TenantID, ConnectionID: conn.ID, Trigger: connections.TriggerEmail, CreatedAt: now.Unix(), Payload: []byte(`{"email":"a@b.c"}`)})
	}
	// A function error or a crash hands the batch out again after the
	// visibility timeout: 2 s here.
	if _, err := e.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl: aws.String(e.Queues.DeliveriesURL), Attributes: map[string]string{"VisibilityTimeout": "2"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := router.Enqueue(ctx, e.SQS, e.Queues.DeliveriesURL, ds); err != nil {
		t.Fatal(err)
	}
	// A receive whose answer never arrives: the queue hides the messages
	// for its visibility timeout and counts a receive.
	lost, err := e.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.Queues.DeliveriesURL), MaxNumberOfMessages: 10})
	if err != nil || len(lost.Messages) == 0 {
		t.Fatalf("lost receive: %v, %d messages", err, len(lost.Messages))
	}

	// The store fails its 2nd and 4th reads of the connection (one per
	// batch): after the first attempts, on messages received once, so that
	// each costs the shortest fault backoff (5 s). The function fails its
	// first invocation outright.
	var reads, failedReads, invocations atomic.Int64
	store := &faultyStore{Connections: base, fail: func() bool {
		if r := reads.Add(1); r == 2 || r == 4 {
			failedReads.Add(1)
			return true
		}
		return false
	}}
	d := dispatch.New(store, delivery.New(netguard.Policy{AllowLoopback: true}, 2*time.Second), e.SQS, e.Queues.DeliveriesURL)
	d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	handler := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		if invocations.Add(1) == 1 {
			return events.SQSEventResponse{}, errors.New("injected: function error")
		}
		return d.Handle(ctx, ev)
	}
	runPoller(t, e, 10, 2, handler)

	deadline := time.Now().Add(90 * time.Second)
	var dead []connections.Dead
	for {
		page, err := base.ListDead(ctx, conn.TenantID, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		if dead = page.Items; len(dead) == n && queueDepth(t, e.SQS, e.Queues.DeliveriesURL) == 0 {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("after 90 s: %d of %d dead; requests %v; queue %s", len(dead), n, requests, queueAttrs(t, e.SQS, e.Queues.DeliveriesURL))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if failedReads.Load() != 2 || invocations.Load() < 2 {
		t.Fatalf("faults injected: %d store errors, %d invocations; the test did not do what it claims", failedReads.Load(), invocations.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, del := range ds {
		if requests[del.ID] != connections.MaxAttempts {
			t.Errorf("%s: target got %d requests, want MaxAttempts = %d", del.ID, requests[del.ID], connections.MaxAttempts)
		}
	}
	all, err := base.Attempts(ctx, conn.TenantID, conn.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	nums := map[string][]int{}
	for _, a := range slices.Backward(all) {
		nums[a.WebhookID] = append(nums[a.WebhookID], a.Attempt)
	}
	var want []int
	for i := range connections.MaxAttempts {
		want = append(want, i+1)
	}
	for _, del := range ds {
		if !slices.Equal(nums[del.ID], want) {
			t.Errorf("%s: attempts logged %v, want %v", del.ID, nums[del.ID], want)
		}
	}
	for _, x := range dead {
		if x.LastAttempt.Attempt != connections.MaxAttempts || !x.LastAttempt.Final {
			t.Errorf("dead %s after attempt %d (final %v)", x.ID, x.LastAttempt.Attempt, x.LastAttempt.Final)
		}
	}
	dlq := map[string]int{}
	drainDLQ(t, e.SQS, e.Queues.DLQURL, dlq)
	if len(dlq) != 0 {
		t.Errorf("DLQ holds %v", dlq)
	}
	t.Logf("%d store errors injected, %d invocations (the first failed), 1 lost receive", failedReads.Load(), invocations.Load())
}

// logFailingStore fails the AddAttempts calls that fail says to.
type logFailingStore struct {
	*ddbstore.Connections
	fail func() bool
}

func (s *logFailingStore) AddAttempts(ctx context.Context, as []connections.ConnAttempt) error {
	if s.fail() {
		return errors.New("ProvisionedThroughputExceededException: injected")
	}
	return s.Connections.AddAttempts(ctx, as)
}

// TestUnloggedAttemptsE2E runs deliveries through fauxqs, the SQS poller,
// the dispatcher and dynoxide while the activity log's first writes fail;
// the first answer to some deliveries is a 503 (retried once, then 200). Every
// request the target got is logged exactly once, with its number, and
// nothing is sent twice: the attempts whose write failed travelled in the
// queue (log-only messages, retries carrying them) until a write
// succeeded. Before, those attempts were never logged.
func TestUnloggedAttemptsE2E(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	base := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	fastRetries(t, 0)

	// Deliveries whose ID ends in 0, 3, 6 or 9 are answered 503 first.
	retried := func(id string) bool { return id != "" && id[len(id)-1]%3 == 0 }
	var mu sync.Mutex
	requests := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		id := r.Header.Get(webhook.HeaderID)
		requests[id]++
		if requests[id] == 1 && retried(id) {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	conn := limitsConn(t, base, "ten_unlogged", "con_unlogged", srv.URL+"/hook")
	const n = 30
	var ds []connections.Delivery
	for _, task := range tasksFor(conn, "unlogged", n) {
		ds = append(ds, task.Delivery)
	}
	var writes, failed atomic.Int64
	store := &logFailingStore{Connections: base, fail: func() bool {
		if writes.Add(1) <= 3 {
			failed.Add(1)
			return true
		}
		return false
	}}
	d := dispatch.New(store, delivery.New(netguard.Policy{AllowLoopback: true}, 2*time.Second), e.SQS, e.Queues.DeliveriesURL)
	d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := router.Enqueue(ctx, e.SQS, e.Queues.DeliveriesURL, ds); err != nil {
		t.Fatal(err)
	}
	runPoller(t, e, 10, 2, d.Handle)

	want, wantTotal := map[string][]int{}, 0
	for _, del := range ds {
		want[del.ID] = []int{1}
		if retried(del.ID) {
			want[del.ID] = []int{1, 2}
		}
		wantTotal += len(want[del.ID])
	}
	logged := map[string][]int{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		all, err := base.Attempts(ctx, conn.TenantID, conn.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		clear(logged)
		for _, a := range slices.Backward(all) {
			logged[a.WebhookID] = append(logged[a.WebhookID], a.Attempt)
		}
		total := 0
		for _, l := range logged {
			total += len(l)
		}
		if total >= wantTotal && queueDepth(t, e.SQS, e.Queues.DeliveriesURL) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %d attempts logged; queue %s", total, queueAttrs(t, e.SQS, e.Queues.DeliveriesURL))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if failed.Load() != 3 {
		t.Fatalf("%d log writes failed, want 3: the test did not do what it claims", failed.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, del := range ds {
		if !slices.Equal(logged[del.ID], want[del.ID]) || requests[del.ID] != len(want[del.ID]) {
			t.Errorf("%s: %d requests, attempts logged %v; want %v", del.ID, requests[del.ID], logged[del.ID], want[del.ID])
		}
	}
	dlq := map[string]int{}
	drainDLQ(t, e.SQS, e.Queues.DLQURL, dlq)
	if len(dlq) != 0 {
		t.Errorf("DLQ holds %v", dlq)
	}
}
