package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/netguard"
	"github.com/startmsg/chatbackend/shared/router"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// workerWatch tells which batch (handler invocation, i.e. worker) each
// delivery is in, and counts the batches that hold an attempt in flight to
// the URLs that start with url: the workers those connections hold.
type workerWatch struct {
	inner dispatch.Sender
	url   string

	mu      sync.Mutex
	batchOf map[string]int64 // delivery ID → the batch it was last received in
	active  map[int64]int    // batch → its attempts in flight to url
	most    int              // the most batches holding url at once
	started int              // attempts to url made
	ended   atomic.Int64     // attempts to url ended
}

func (w *workerWatch) received(batch int64, ev events.SQSEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range ev.Records {
		var task connections.Task
		if json.Unmarshal([]byte(m.Body), &task) == nil {
			w.batchOf[task.ID] = batch
		}
	}
}

func (w *workerWatch) Send(ctx context.Context, url string, h http.Header, body []byte) delivery.Result {
	if !strings.HasPrefix(url, w.url) {
		return w.inner.Send(ctx, url, h, body)
	}
	w.mu.Lock()
	b := w.batchOf[h.Get(webhook.HeaderID)]
	w.active[b]++
	w.started++
	w.most = max(w.most, len(w.active))
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		if w.active[b]--; w.active[b] == 0 {
			delete(w.active, b)
		}
		w.mu.Unlock()
		w.ended.Add(1)
	}()
	return w.inner.Send(ctx, url, h, body)
}

// TestHangingConnectionHoldsOneWorkerE2E: through fauxqs, the SQS poller
// (four workers, small batches, no fair scheduling: the dispatcher's own
// cap is under test), the dispatcher and dynoxide, one tenant's endpoint
// accepts and never answers while its deliveries come in many small
// batches, each beside two of a healthy tenant's; a second wave comes once
// the connection is marked slow. The hanging connection never holds more
// than one worker at once (Limits.SlowWorkers), so the healthy tenant's
// deliveries all arrive before the first hanging attempt gives up (they
// never wait for a worker the hanging endpoint holds); the hanging
// connection's other deliveries are parked, not attempted, and all arrive
// once the endpoint answers again: none is lost. Before, each small batch
// held its worker with one hanging attempt (the cap counted attempts, ten
// a process), every worker was held, and the healthy tenant's deliveries
// waited for the attempts' time limit.
func TestHangingConnectionHoldsOneWorkerE2E(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	slowWas := connections.SlowAttempt
	connections.SlowAttempt = 500 * time.Millisecond
	t.Cleanup(func() { connections.SlowAttempt = slowWas })
	fastRetries(t, 0)

	var down atomic.Bool
	down.Store(true)
	stop := make(chan struct{})
	var mu sync.Mutex
	hangGot, goodGot := map[string]int{}, map[string]int{}
	var goodLate []string // healthy deliveries that arrived after a hanging attempt ended
	var watch *workerWatch
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if down.Load() {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
			return
		}
		mu.Lock()
		hangGot[r.Header.Get(webhook.HeaderID)]++
		mu.Unlock()
	}))
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get(webhook.HeaderID)
		mu.Lock()
		defer mu.Unlock()
		goodGot[id]++
		if watch.ended.Load() > 0 {
			goodLate = append(goodLate, id)
		}
	}))
	t.Cleanup(func() {
		close(stop)
		hang.Close()
		good.Close()
	})
	hc := limitsConn(t, store, "ten_hangw", "conn_hangw", hang.URL+"/hook")
	gc := limitsConn(t, store, "ten_goodw", "conn_goodw", good.URL+"/hook")

	// The attempts' time limit: the window in which the healthy tenant's
	// deliveries must all get through.
	const limit = 8 * time.Second
	watch = &workerWatch{inner: delivery.New(netguard.Policy{AllowLoopback: true}, limit), url: hc.URL,
		batchOf: map[string]int64{}, active: map[int64]int{}}
	d := dispatch.New(store, watch, e.SQS, e.Queues.DeliveriesURL)
	d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	d.Limits = dispatch.NewLimits(store, connections.DeliveryLimits{InFlightPerConnection: 10})
	var batches, hangReceives atomic.Int64
	handler := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		b := batches.Add(1)
		watch.received(b, ev)
		for _, m := range ev.Records {
			var task connections.Task
			if json.Unmarshal([]byte(m.Body), &task) == nil && task.ConnectionID == hc.ID {
				hangReceives.Add(1)
			}
		}
		return d.Handle(ctx, ev)
	}

	// Small batches: one hanging delivery and two healthy ones each.
	wave := func(prefix string, n int) []connections.Delivery {
		hs, gs := tasksFor(hc, prefix+"h", n), tasksFor(gc, prefix+"g", 2*n)
		var ds []connections.Delivery
		for i := range n {
			ds = append(ds, hs[i].Delivery, gs[2*i].Delivery, gs[2*i+1].Delivery)
		}
		return ds
	}
	first, second := wave("w1", 8), wave("w2", 8)
	if err := router.Enqueue(ctx, e.SQS, e.Queues.DeliveriesURL, first); err != nil {
		t.Fatal(err)
	}
	runPoller(t, e, 3, 4, handler)

	// The second wave once the connection is marked slow (its leases are
	// then counted in the store).
	waitFor(t, 30*time.Second, "the hanging connection marked slow", func() bool {
		br, err := store.Breaker(ctx, hc.TenantID, hc.ID)
		return err == nil && br.Slow(time.Now())
	})
	if err := router.Enqueue(ctx, e.SQS, e.Queues.DeliveriesURL, second); err != nil {
		t.Fatal(err)
	}
	all := append(first, second...)
	// The endpoint answers again once a hanging attempt has given up.
	waitFor(t, 60*time.Second, "a hanging attempt's time limit", func() bool { return watch.ended.Load() > 0 })
	// The workers held while it hung (once it answers, its batches go as
	// a healthy connection's do).
	watch.mu.Lock()
	most := watch.most
	watch.mu.Unlock()
	down.Store(false)
	waitFor(t, 120*time.Second, "every delivery delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, del := range all {
			if (del.ConnectionID == hc.ID && hangGot[del.ID] == 0) || (del.ConnectionID == gc.ID && goodGot[del.ID] == 0) {
				return false
			}
		}
		return true
	})
	waitFor(t, 60*time.Second, "the queue drained", func() bool { return queueDepth(t, e.SQS, e.Queues.DeliveriesURL) == 0 })

	watch.mu.Lock()
	started := watch.started
	watch.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d batches; hanging connection: %d attempts, %d receives of its %d deliveries, at most %d workers held at once; %d healthy deliveries late",
		batches.Load(), started, hangReceives.Load(), len(all)/3, most, len(goodLate))
	if hangReceives.Load() <= int64(len(all)/3) {
		t.Fatalf("the hanging connection's deliveries were received %d times for %d: none parked, the test did not do what it claims", hangReceives.Load(), len(all)/3)
	}
	if most > 1 {
		t.Errorf("the hanging connection held %d workers at once, want at most 1 (Limits.SlowWorkers)", most)
	}
	if len(goodLate) > 0 {
		t.Errorf("%d of the healthy tenant's %d deliveries arrived only after a hanging attempt gave up (they waited for a worker it held): %v",
			len(goodLate), 2*len(all)/3, goodLate)
	}
	for id, n := range goodGot {
		if n != 1 {
			t.Errorf("healthy delivery %s arrived %d times, want once", id, n)
		}
	}
	dlq := map[string]int{}
	drainDLQ(t, e.SQS, e.Queues.DLQURL, dlq)
	if len(dlq) != 0 {
		t.Errorf("DLQ holds %v", dlq)
	}
}

// TestHangingTenantHoldsFewWorkersE2E: through fauxqs, the SQS poller (four
// workers, small batches, no fair scheduling), the dispatcher and dynoxide,
// a tenant has six connections on an endpoint that accepts and never
// answers. A first wave makes each of them slow (marked in the store); in
// a second wave every small batch holds a delivery to one of them (a
// different one each time) beside two of a healthy tenant's. Each
// connection is held by one batch at most, but six connections could hold
// every worker: the tenant's slow connections together hold at most
// connections.DefaultTenantSlowWorkers, so the healthy tenant's deliveries
// all arrive before the second wave's first hanging attempt gives up, and
// the hanging tenant's other deliveries are parked, not attempted, and all
// arrive once the endpoint answers again. Before the tenant's cap, four
// batches held four of its connections, every worker, and the healthy
// deliveries waited for the attempts' time limit.
func TestHangingTenantHoldsFewWorkersE2E(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	slowWas := connections.SlowAttempt
	connections.SlowAttempt = 300 * time.Millisecond
	t.Cleanup(func() { connections.SlowAttempt = slowWas })
	fastRetries(t, 0)

	var down atomic.Bool
	down.Store(true)
	stop := make(chan struct{})
	var mu sync.Mutex
	hangGot, goodGot := map[string]int{}, map[string]int{}
	var goodLate []string // second-wave healthy deliveries that arrived after a second-wave hanging attempt ended
	var watch *workerWatch
	var lateAfter atomic.Int64 // hanging attempts ended before the second wave
	lateAfter.Store(1 << 40)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if down.Load() {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
			return
		}
		mu.Lock()
		hangGot[r.Header.Get(webhook.HeaderID)]++
		mu.Unlock()
	}))
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get(webhook.HeaderID)
		mu.Lock()
		defer mu.Unlock()
		goodGot[id]++
		if watch.ended.Load() > lateAfter.Load() {
			goodLate = append(goodLate, id)
		}
	}))
	t.Cleanup(func() {
		close(stop)
		hang.Close()
		good.Close()
	})
	const nHang = 6
	var hcs []connections.Connection
	for i := range nHang {
		hcs = append(hcs, limitsConn(t, store, "ten_hangt", fmt.Sprintf("conn_hangt%d", i), fmt.Sprintf("%s/hook/%d", hang.URL, i)))
	}
	gc := limitsConn(t, store, "ten_goodt", "conn_goodt", good.URL+"/hook")

	const limit = 6 * time.Second
	watch = &workerWatch{inner: delivery.New(netguard.Policy{AllowLoopback: true}, limit), url: hang.URL + "/hook/",
		batchOf: map[string]int64{}, active: map[int64]int{}}
	d := dispatch.New(store, watch, e.SQS, e.Queues.DeliveriesURL)
	d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	d.Limits = dispatch.NewLimits(store, connections.DeliveryLimits{InFlightPerConnection: 10})
	// The six connections share one host, whose breaker would pause them
	// all at the first wave's timeouts (TestHostBreakerRecoveryE2E): this
	// test holds the tenant's cap for hanging connections nothing pauses,
	// as on as many hosts.
	d.Limits.Hosts = nil
	var batches atomic.Int64
	handler := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		b := batches.Add(1)
		watch.received(b, ev)
		return d.Handle(ctx, ev)
	}
	runPoller(t, e, 3, 4, handler)

	// First wave: one delivery to each hanging connection, which marks
	// each slow; its attempts end at their time limit.
	var first []connections.Delivery
	for i, hc := range hcs {
		first = append(first, tasksFor(hc, fmt.Sprintf("w1h%d-", i), 1)[0].Delivery)
	}
	if err := router.Enqueue(ctx, e.SQS, e.Queues.DeliveriesURL, first); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "every hanging connection marked slow", func() bool {
		for _, hc := range hcs {
			br, err := store.Breaker(ctx, hc.TenantID, hc.ID)
			if err != nil || !br.Slow(time.Now()) {
				return false
			}
		}
		return true
	})
	waitFor(t, 60*time.Second, "the first wave's attempts' time limit", func() bool { return watch.ended.Load() >= nHang })

	// Second wave: small batches, each one hanging delivery (to the
	// connections in turn) and two healthy ones.
	watch.mu.Lock()
	watch.most = 0
	startedBefore := watch.started
	watch.mu.Unlock()
	lateAfter.Store(watch.ended.Load())
	const n = 8
	gs := tasksFor(gc, "w2g", 2*n)
	var second []connections.Delivery
	for i := range n {
		h := tasksFor(hcs[i%nHang], fmt.Sprintf("w2h%d-", i), 1)[0]
		second = append(second, h.Delivery, gs[2*i].Delivery, gs[2*i+1].Delivery)
	}
	if err := router.Enqueue(ctx, e.SQS, e.Queues.DeliveriesURL, second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "a second-wave hanging attempt's time limit", func() bool { return watch.ended.Load() > lateAfter.Load() })
	watch.mu.Lock()
	most, attempted := watch.most, watch.started-startedBefore
	watch.mu.Unlock()
	down.Store(false)
	all := append(first, second...)
	waitFor(t, 120*time.Second, "every delivery delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, del := range all {
			if (del.ConnectionID == gc.ID && goodGot[del.ID] == 0) || (del.ConnectionID != gc.ID && hangGot[del.ID] == 0) {
				return false
			}
		}
		return true
	})
	waitFor(t, 60*time.Second, "the queue drained", func() bool { return queueDepth(t, e.SQS, e.Queues.DeliveriesURL) == 0 })

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d batches; second wave: %d hanging attempts made while it hung (of %d deliveries), at most %d workers held at once by the hanging tenant; %d healthy deliveries late",
		batches.Load(), attempted, n, most, len(goodLate))
	if most > connections.DefaultTenantSlowWorkers {
		t.Errorf("the hanging tenant's connections held %d workers at once, want at most %d (Limits.TenantSlowWorkers)", most, connections.DefaultTenantSlowWorkers)
	}
	if len(goodLate) > 0 {
		t.Errorf("%d of the healthy tenant's %d second-wave deliveries arrived only after a hanging attempt gave up (they waited for a worker it held): %v",
			len(goodLate), 2*n, goodLate)
	}
	if attempted >= n {
		t.Errorf("every second-wave hanging delivery was attempted while it hung (%d of %d): none parked", attempted, n)
	}
	for id, k := range goodGot {
		if k != 1 {
			t.Errorf("healthy delivery %s arrived %d times, want once", id, k)
		}
	}
	dlq := map[string]int{}
	drainDLQ(t, e.SQS, e.Queues.DLQURL, dlq)
	if len(dlq) != 0 {
		t.Errorf("DLQ holds %v", dlq)
	}
}
