package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/netguard"
	"github.com/startmsg/chatbackend/shared/router"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// countingSender answers every Send with what answer returns, counting.
type countingSender struct {
	n      atomic.Int64
	answer func() delivery.Result
}

func (s *countingSender) Send(context.Context, string, http.Header, []byte) delivery.Result {
	s.n.Add(1)
	return s.answer()
}

var (
	res500     = delivery.Result{Outcome: connections.OutcomeHTTP, Status: 500}
	resTimeout = delivery.Result{Outcome: connections.OutcomeTimeout}
	res200     = delivery.Result{Outcome: connections.OutcomeSuccess, Status: 200}
)

// limitsConn stores a connection on the emulator's table.
func limitsConn(t *testing.T, store *ddbstore.Connections, tenant, id, url string) connections.Connection {
	t.Helper()
	now := time.Now().Unix()
	c := connections.Connection{ID: id, TenantID: tenant, ChannelID: "ch", Name: id, URL: url,
		Triggers: []connections.Trigger{connections.TriggerEmail}, Fields: []string{}, Secrets: []connections.Secret{{Value: webhook.NewSecret()}},
		Source: connections.SourceAPI, Enabled: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := store.CreateConnection(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func tasksFor(c connections.Connection, prefix string, n int) []connections.Task {
	var ts []connections.Task
	for i := range n {
		ts = append(ts, connections.Task{Delivery: connections.Delivery{ID: fmt.Sprintf("msg_%s%d", prefix, i), TenantID: c.TenantID,
			ConnectionID: c.ID, Trigger: connections.TriggerEmail, Payload: []byte(`{"email":"a@b.c"}`)}})
	}
	return ts
}

func batch(t *testing.T, ts []connections.Task) events.SQSEvent { return batchAt(t, ts, 1) }

// batchAt is ts as the queue hands them out for the receives-th time.
func batchAt(t *testing.T, ts []connections.Task, receives int) events.SQSEvent {
	var ev events.SQSEvent
	for _, task := range ts {
		b, err := json.Marshal(task)
		if err != nil {
			t.Fatal(err)
		}
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: "m-" + task.ID, ReceiptHandle: "rh-" + task.ID, Body: string(b),
			Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(receives)}})
	}
	return ev
}

// recQueue records the messages the dispatcher queues and hides.
type recQueue struct {
	mu     sync.Mutex
	sent   []sqstypes.SendMessageBatchRequestEntry
	hidden map[string]time.Duration // receipt handle → visibility timeout
}

func (q *recQueue) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.hidden == nil {
		q.hidden = map[string]time.Duration{}
	}
	out := &sqs.ChangeMessageVisibilityBatchOutput{}
	for _, e := range in.Entries {
		q.hidden[aws.ToString(e.ReceiptHandle)] = time.Duration(e.VisibilityTimeout) * time.Second
		out.Successful = append(out.Successful, sqstypes.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func (q *recQueue) ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (q *recQueue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		q.sent = append(q.sent, e)
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("new-" + aws.ToString(e.Id))})
	}
	return out, nil
}

// tasks decodes the messages queued, with their delays.
func (q *recQueue) tasks(t *testing.T) ([]connections.Task, []time.Duration) {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []connections.Task
	var delays []time.Duration
	for _, e := range q.sent {
		var task connections.Task
		if err := json.Unmarshal([]byte(aws.ToString(e.MessageBody)), &task); err != nil {
			t.Fatal(err)
		}
		out = append(out, task)
		delays = append(delays, time.Duration(e.DelaySeconds)*time.Second)
	}
	return out, delays
}

// limitedDispatcher is a dispatcher with the stage's limits on store, at
// the time *now says.
func limitedDispatcher(store *ddbstore.Connections, s dispatch.Sender, q dispatch.QueueAPI, now *atomic.Int64, l connections.DeliveryLimits) *dispatch.Dispatcher {
	d := dispatch.New(store, s, q, "q")
	d.Now = func() time.Time { return time.UnixMilli(now.Load()) }
	d.Jitter = func() float64 { return 0 }
	d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	d.Limits = dispatch.NewLimits(store, l)
	return d
}

// TestBreakerOpensAndParks: five failures in a row (timeouts and 5xx) open
// the connection's breaker in DynamoDB; the deliveries that come next are
// parked until the probe (queued again, delayed), without a request and
// with the attempt count they had. 4xx answers other than 408 and 429 do
// not count.
func TestBreakerOpensAndParks(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	conn := limitsConn(t, store, "ten_brk", "conn_brk", "https://example.com/hook")
	var now atomic.Int64
	now.Store(time.Now().UnixMilli())
	answers := []delivery.Result{res500, resTimeout, {Outcome: connections.OutcomeHTTP, Status: 400}, res500, resTimeout, res500, res500}
	var i atomic.Int64
	s := &countingSender{answer: func() delivery.Result { return answers[min(int(i.Add(1))-1, len(answers)-1)] }}
	q := &recQueue{}
	d := limitedDispatcher(store, s, q, &now, connections.DeliveryLimits{InFlightPerConnection: 10})

	// One at a time, so the 400 sits between failures: 500, timeout, 400
	// (resets), then 500, timeout, 500, 500, 500 → five in a row.
	for k, task := range tasksFor(conn, "a", 8) {
		if _, err := d.Handle(ctx, batch(t, []connections.Task{task})); err != nil {
			t.Fatal(err)
		}
		b, err := store.Breaker(ctx, conn.TenantID, conn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := k >= 7; b.Open() != want {
			t.Fatalf("after delivery %d (%v): breaker open %v, want %v (%+v)", k+1, answers[min(k, len(answers)-1)].Outcome, b.Open(), want, b)
		}
		now.Add(10)
	}
	b, _ := store.Breaker(ctx, conn.TenantID, conn.ID)
	if b.Failures != connections.BreakerThreshold || b.Interval != connections.ProbeFirst.Milliseconds() || b.NextProbe != b.OpenSince+connections.ProbeFirst.Milliseconds() {
		t.Fatalf("breaker %+v", b)
	}
	sent := s.n.Load()
	queued, _ := q.tasks(t)
	before := len(queued)

	// Open: a batch of new deliveries and a retry are parked, not sent:
	// hidden in place until the probe, or, received often already, queued
	// again with the attempt count they had (a fresh receive count).
	parked := tasksFor(conn, "p", 3)
	parked[2].Attempts = 3
	resp, err := d.Handle(ctx, batch(t, parked))
	if err != nil {
		t.Fatal(err)
	}
	requeued := tasksFor(conn, "r", 2)
	requeued[1].Attempts = 2
	if _, err := d.Handle(ctx, batchAt(t, requeued, 9)); err != nil {
		t.Fatal(err)
	}
	if s.n.Load() != sent {
		t.Fatalf("%d requests made while the breaker is open", s.n.Load()-sent)
	}
	wait := time.UnixMilli(b.NextProbe).Sub(time.UnixMilli(now.Load()))
	inWindow := func(d time.Duration) bool { return d >= wait && d <= wait+3*time.Second }
	if len(resp.BatchItemFailures) != 3 || len(q.hidden) != 3 {
		t.Fatalf("%d reported failed, %d hidden; want the 3 kept in the queue, hidden", len(resp.BatchItemFailures), len(q.hidden))
	}
	for _, task := range parked {
		if d, ok := q.hidden["rh-"+task.ID]; !ok || !inWindow(d) {
			t.Errorf("%s hidden %s (%v), want until the probe (%s) and at most 3 s more", task.ID, d, ok, wait)
		}
	}
	got, delays := q.tasks(t)
	got, delays = got[before:], delays[before:]
	if len(got) != 2 {
		t.Fatalf("queued again %d messages, want 2", len(got))
	}
	for k, task := range got {
		if task.ID != requeued[k].ID || task.Attempts != requeued[k].Attempts {
			t.Errorf("queued again %s with %d attempts, want %s with %d", task.ID, task.Attempts, requeued[k].ID, requeued[k].Attempts)
		}
		if !inWindow(delays[k]) {
			t.Errorf("%s delayed %s, want until the probe (%s) and at most 3 s more", task.ID, delays[k], wait)
		}
	}
	atts, err := store.Attempts(ctx, conn.TenantID, conn.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 8 {
		t.Errorf("%d attempts logged, want the 8 made", len(atts))
	}
}

// TestOneProbePerInterval: two dispatcher instances share a breaker; once
// its probe is due, exactly one delivery of all their batches is sent; a
// failed probe doubles the interval; the next probe's success closes the
// breaker and every delivery goes again.
func TestOneProbePerInterval(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	conn := limitsConn(t, store, "ten_probe", "conn_probe", "https://example.com/hook")
	var now atomic.Int64
	start := time.Now()
	now.Store(start.UnixMilli())
	for range connections.BreakerThreshold {
		if _, err := store.BreakerFailed(ctx, conn.TenantID, conn.ID, start); err != nil {
			t.Fatal(err)
		}
	}
	// Once the target is back, the successful probe is held until the
	// round's other batches have returned: a batch that reads the breaker
	// after the probe closed it rightly sends everything, so without the
	// hold the count of the recovered round would depend on scheduling.
	var ok atomic.Bool
	var othersDone chan struct{}
	s := &countingSender{answer: func() delivery.Result {
		if ok.Load() {
			select {
			case <-othersDone:
			case <-time.After(5 * time.Second):
			}
			return res200
		}
		return res500
	}}
	q1, q2 := &recQueue{}, &recQueue{}
	lim := connections.DeliveryLimits{InFlightPerConnection: 10}
	d1, d2 := limitedDispatcher(store, s, q1, &now, lim), limitedDispatcher(store, s, q2, &now, lim)
	round := func(name string) int64 {
		t.Helper()
		before := s.n.Load()
		othersDone = make(chan struct{})
		if name != "recovered" {
			close(othersDone)
		}
		var returned atomic.Int32
		var wg sync.WaitGroup
		for k, d := range []*dispatch.Dispatcher{d1, d2, d1, d2} {
			wg.Go(func() {
				if _, err := d.Handle(ctx, batch(t, tasksFor(conn, fmt.Sprintf("%s%d-", name, k), 4))); err != nil {
					t.Error(err)
				}
				if returned.Add(1) == 3 && name == "recovered" {
					close(othersDone)
				}
			})
		}
		wg.Wait()
		return s.n.Load() - before
	}
	if n := round("early"); n != 0 {
		t.Fatalf("before the probe is due: %d requests", n)
	}
	now.Store(start.Add(connections.ProbeFirst + time.Second).UnixMilli())
	if n := round("due"); n != 1 {
		t.Fatalf("probe due: %d requests, want exactly 1", n)
	}
	b, _ := store.Breaker(ctx, conn.TenantID, conn.ID)
	if !b.Open() || b.Interval != 2*connections.ProbeFirst.Milliseconds() || b.NextProbe != now.Load()+b.Interval {
		t.Fatalf("after a failed probe: %+v, want open, interval doubled, next probe one interval on", b)
	}
	now.Add(connections.ProbeFirst.Milliseconds()) // half the new interval
	if n := round("between"); n != 0 {
		t.Fatalf("between probes: %d requests", n)
	}
	now.Store(b.NextProbe + 1)
	ok.Store(true)
	if n := round("recovered"); n != 1 {
		t.Fatalf("second probe: %d requests, want exactly 1", n)
	}
	if b, _ := store.Breaker(ctx, conn.TenantID, conn.ID); b.Open() || b.Failures != 0 {
		t.Fatalf("a successful probe must close the breaker: %+v", b)
	}
	now.Add(2000) // past the dispatchers' cached reads
	if n := round("closed"); n != 16 {
		t.Fatalf("closed: %d requests, want all 16", n)
	}
}

// TestBreakerRecoveryE2E: through fauxqs, the poller and dynoxide, a target
// that fails opens the breaker; the deliveries that come meanwhile wait
// without spending attempts; once the target is back the probe closes the
// breaker and every delivery arrives, none dead, none in the DLQ.
func TestBreakerRecoveryE2E(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	fastRetries(t, 2*time.Second)

	var (
		mu       sync.Mutex
		up       bool
		requests = map[string]int{}
		arrived  = map[string]bool{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		id := r.Header.Get(webhook.HeaderID)
		requests[id]++
		if !up {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		arrived[id] = true
	}))
	t.Cleanup(srv.Close)
	conn := limitsConn(t, store, "ten_recover", "conn_recover", srv.URL+"/hook")

	d := dispatch.New(store, delivery.New(netguard.Policy{AllowLoopback: true}, 2*time.Second), e.SQS, e.Queues.DeliveriesURL)
	d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	d.Limits = dispatch.NewLimits(store, connections.DeliveryLimits{InFlightPerConnection: 10})
	d.Limits.ProbeWait = 2 * time.Second
	runPoller(t, e, 10, 2, d.Handle)

	var ds []connections.Delivery
	enqueue := func(prefix string, n int) {
		var b []connections.Delivery
		for _, task := range tasksFor(conn, prefix, n) {
			b = append(b, task.Delivery)
		}
		ds = append(ds, b...)
		if err := router.Enqueue(ctx, e.SQS, e.Queues.DeliveriesURL, b); err != nil {
			t.Fatal(err)
		}
	}
	enqueue("first", 6)
	waitFor(t, 30*time.Second, "the breaker to open", func() bool {
		b, err := store.Breaker(ctx, conn.TenantID, conn.ID)
		return err == nil && b.Open()
	})
	enqueue("while-open", 20)
	time.Sleep(time.Second)
	mu.Lock()
	up = true
	mu.Unlock()
	waitFor(t, 60*time.Second, "every delivery to arrive", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrived) == len(ds)
	})
	if b, _ := store.Breaker(ctx, conn.TenantID, conn.ID); b.Open() {
		t.Errorf("breaker still open: %+v", b)
	}
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, del := range ds {
		total += requests[del.ID]
		if requests[del.ID] > 3 {
			t.Errorf("%s: %d requests", del.ID, requests[del.ID])
		}
	}
	// The failures before the breaker opened (5, and those in flight with
	// them), failed probes, then one success each.
	if failed := total - len(ds); failed > 15 {
		t.Errorf("%d failed requests for %d deliveries: the breaker did not hold them back", failed, len(ds))
	}
	page, err := store.ListDead(ctx, conn.TenantID, 100, "")
	if err != nil || len(page.Items) != 0 {
		t.Errorf("dead deliveries: %v %v", page.Items, err)
	}
	dlq := map[string]int{}
	drainDLQ(t, e.SQS, e.Queues.DLQURL, dlq)
	if len(dlq) != 0 {
		t.Errorf("DLQ holds %v", dlq)
	}
	t.Logf("%d deliveries, %d requests", len(ds), total)
}

// TestRateLimitE2E: a tenant's deliveries over its rate wait in the queue
// (parked with their send time) and all arrive, each with one attempt.
func TestRateLimitE2E(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	var (
		mu      sync.Mutex
		arrived = map[string]time.Time{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := arrived[r.Header.Get(webhook.HeaderID)]; !dup {
			arrived[r.Header.Get(webhook.HeaderID)] = time.Now()
		}
	}))
	t.Cleanup(srv.Close)
	conn := limitsConn(t, store, "ten_rate", "conn_rate", srv.URL+"/hook")
	const rate, n = 10, 50
	q := &countingQueue{QueueAPI: e.SQS}
	d := dispatch.New(store, delivery.New(netguard.Policy{AllowLoopback: true}, 2*time.Second), q, e.Queues.DeliveriesURL)
	d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	d.Limits = dispatch.NewLimits(store, connections.DeliveryLimits{RatePerTenant: rate, InFlightPerConnection: 10})
	runPoller(t, e, 10, 2, d.Handle)
	var ds []connections.Delivery
	for _, task := range tasksFor(conn, "r", n) {
		ds = append(ds, task.Delivery)
	}
	start := time.Now()
	if err := router.Enqueue(ctx, e.SQS, e.Queues.DeliveriesURL, ds); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "every delivery to arrive", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrived) == n
	})
	mu.Lock()
	var last time.Time
	for _, at := range arrived {
		if at.After(last) {
			last = at
		}
	}
	mu.Unlock()
	// At 10 a second with a second's burst, 50 deliveries take at least
	// 3 s (a slow machine only makes it longer).
	if span := last.Sub(start); span < (n-2*rate)*time.Second/rate {
		t.Errorf("%d deliveries arrived within %s: the rate of %d/s was not kept", n, span, rate)
	}
	if parked := q.parked.Load(); parked < n-2*rate {
		t.Errorf("%d deliveries parked, want at least %d", parked, n-2*rate)
	}
	// A batch's attempt records are written once its last POST has ended,
	// so the last arrivals' records may still be on their way.
	per := map[string][]int{}
	waitFor(t, 30*time.Second, "every delivery's attempt record", func() bool {
		atts, err := store.Attempts(ctx, conn.TenantID, conn.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		clear(per)
		for _, a := range atts {
			per[a.WebhookID] = append(per[a.WebhookID], a.Attempt)
		}
		return len(per) >= len(ds)
	})
	for _, del := range ds {
		if !slices.Equal(per[del.ID], []int{1}) {
			t.Errorf("%s: attempts %v, want [1]", del.ID, per[del.ID])
		}
	}
}

// countingQueue counts the parked messages the dispatcher queues again.
type countingQueue struct {
	dispatch.QueueAPI
	parked atomic.Int64
}

func (q *countingQueue) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	for _, e := range in.Entries {
		if strings.Contains(aws.ToString(e.MessageBody), `"rate_slot"`) {
			q.parked.Add(1)
		}
	}
	return q.QueueAPI.SendMessageBatch(ctx, in, o...)
}

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %s for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBatchOfKnownAndUnreadBreakers: a batch mixing connections whose
// breakers this instance read a moment ago with connections it has not
// read sends every delivery once. The breaker reads go in parallel while
// the known ones are taken from the cache (a concurrent map write crashed
// the dispatcher here; `make test` runs this under the race detector).
func TestBatchOfKnownAndUnreadBreakers(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	var now atomic.Int64
	now.Store(time.Now().UnixMilli())
	s := &countingSender{answer: func() delivery.Result { return res200 }}
	d := limitedDispatcher(store, s, &recQueue{}, &now, connections.DeliveryLimits{InFlightPerConnection: 10})
	want := int64(0)
	for round := range 6 {
		var known, fresh []connections.Task
		for k := range 5 {
			known = append(known, tasksFor(limitsConn(t, store, "ten_mix", fmt.Sprintf("conn_k%d_%d", round, k), "https://example.com/hook"), "k", 1)...)
			fresh = append(fresh, tasksFor(limitsConn(t, store, "ten_mix", fmt.Sprintf("conn_f%d_%d", round, k), "https://example.com/hook"), "f", 1)...)
		}
		// The clock stands still: the first batch's reads are fresh for
		// the second.
		if _, err := d.Handle(ctx, batch(t, known)); err != nil {
			t.Fatal(err)
		}
		mixed := slices.Clone(known)
		for i := range mixed {
			mixed[i].ID += "again"
		}
		mixed = append(mixed, fresh...)
		resp, err := d.Handle(ctx, batch(t, mixed))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("round %d: %d deliveries failed", round, len(resp.BatchItemFailures))
		}
		want += 15
		if got := s.n.Load(); got != want {
			t.Fatalf("round %d: %d requests, want %d", round, got, want)
		}
	}
}
