package dispatch

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/delivery"
)

// cacheFixture is a dispatcher with the process-wide connection cache on a
// clock the test moves.
type cacheFixture struct {
	t     *testing.T
	store *memStore
	d     *Dispatcher
	now   time.Time
	mu    sync.Mutex
	n     int
}

func newCacheFixture(t *testing.T, sender Sender, conn connections.Connection) *cacheFixture {
	f := &cacheFixture{t: t, store: newStore(conn), now: time.Unix(1_800_000_000, 0)}
	f.d = &Dispatcher{Store: f.store, Sender: sender, Queue: &fakeQueue{}, QueueURL: "q",
		Now: func() time.Time {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.now
		},
		Jitter: func() float64 { return 0 }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), ConnTTL: time.Second}
	metricsOut = func([]byte) {}
	return f
}

func (f *cacheFixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// batch hands the dispatcher one batch of k deliveries for conn, routed
// when the connection had version v.
func (f *cacheFixture) batch(conn connections.Connection, k int, v int64) events.SQSEventResponse {
	f.t.Helper()
	var ev events.SQSEvent
	for range k {
		f.n++
		task := connections.Task{Delivery: connections.Delivery{ID: "msg_" + strconv.Itoa(f.n), TenantID: conn.TenantID,
			ConnectionID: conn.ID, Payload: []byte(`{}`), ConnVersion: v}}
		ev.Records = append(ev.Records, message(f.t, task, 1))
	}
	out, err := f.d.Handle(context.Background(), ev)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *cacheFixture) gets() int {
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	return f.store.gets
}

var cacheConn = connections.Connection{ID: "conn_c", TenantID: "ten_c", URL: "https://example.com/hook", Enabled: true, Version: 3,
	Secrets: []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}

// TestConnCacheAcrossBatches: the batches of one process read a connection
// once per ConnTTL, not once per batch; a read older than ConnTTL is made
// again.
func TestConnCacheAcrossBatches(t *testing.T) {
	f := newCacheFixture(t, fakeSender{delivery.Result{Outcome: connections.OutcomeSuccess, Status: 200}}, cacheConn)
	for range 3 {
		f.batch(cacheConn, 10, 3)
		f.advance(300 * time.Millisecond)
	}
	if g := f.gets(); g != 1 {
		t.Fatalf("3 batches within ConnTTL read the connection %d times, want 1", g)
	}
	f.advance(200 * time.Millisecond) // 1.1 s after the read
	f.batch(cacheConn, 10, 3)
	if g := f.gets(); g != 2 {
		t.Fatalf("a batch after ConnTTL: %d reads, want 2", g)
	}
	// Without ConnTTL (a Dispatcher built by hand) each batch reads once.
	f.d = &Dispatcher{Store: f.store, Sender: f.d.Sender, Queue: &fakeQueue{}, QueueURL: "q", Now: f.d.Now,
		Jitter: f.d.Jitter, Log: f.d.Log}
	f.batch(cacheConn, 10, 3)
	f.batch(cacheConn, 10, 3)
	if g := f.gets(); g != 4 {
		t.Fatalf("two batches without ConnTTL: %d reads in all, want 4", g)
	}
}

// TestConnCacheNewerVersion: a delivery routed after the connection changed
// carries the newer version, and is not sent with the older cached copy.
func TestConnCacheNewerVersion(t *testing.T) {
	var mu sync.Mutex
	var urls []string
	sender := sendFunc(func(url string) delivery.Result {
		mu.Lock()
		defer mu.Unlock()
		urls = append(urls, url)
		return delivery.Result{Outcome: connections.OutcomeSuccess, Status: 200}
	})
	f := newCacheFixture(t, sender, cacheConn)
	f.batch(cacheConn, 1, 3)
	updated := cacheConn
	updated.URL, updated.Version = "https://example.com/new", 4
	f.store.mu.Lock()
	f.store.conns[updated.ID] = updated
	f.store.mu.Unlock()
	f.batch(cacheConn, 1, 3) // routed before the change: the cached copy will do
	f.batch(cacheConn, 1, 4) // routed after it
	f.batch(cacheConn, 1, 3)
	want := []string{cacheConn.URL, cacheConn.URL, updated.URL, updated.URL}
	if len(urls) != len(want) {
		t.Fatalf("sent to %v, want %v", urls, want)
	}
	for i := range want {
		if urls[i] != want[i] {
			t.Fatalf("sent to %v, want %v", urls, want)
		}
	}
	if g := f.gets(); g != 2 {
		t.Fatalf("%d reads, want 2", g)
	}
}

// TestConnCacheOwnWrites: what the dispatcher writes to a connection (its
// health, switching it off) is not undone by its cached copy: a failing run
// is recorded once, not once per batch, and a connection the dispatcher
// switched off is read again by the next batch.
func TestConnCacheOwnWrites(t *testing.T) {
	f := newCacheFixture(t, fakeSender{delivery.Result{Outcome: connections.OutcomeHTTP, Status: 500}}, cacheConn)
	for range 3 {
		f.batch(cacheConn, 1, 0)
	}
	f.store.mu.Lock()
	results := len(f.store.results)
	f.store.mu.Unlock()
	if results != 1 {
		t.Fatalf("3 failing batches recorded the connection's health %d times, want 1 (the first failure of the run)", results)
	}

	gone := newCacheFixture(t, fakeSender{delivery.Result{Outcome: connections.OutcomeHTTP, Status: http.StatusGone}}, cacheConn)
	gone.batch(cacheConn, 1, 0)
	if g := gone.gets(); g != 1 {
		t.Fatalf("%d reads, want 1", g)
	}
	gone.batch(cacheConn, 1, 0)
	if g := gone.gets(); g != 2 {
		t.Fatalf("after the dispatcher switched the connection off the next batch made %d reads in all, want 2", g)
	}
}

// TestConnCacheErrorsNotKept: a failed read is not reused by the next batch.
func TestConnCacheErrorsNotKept(t *testing.T) {
	f := newCacheFixture(t, fakeSender{delivery.Result{Outcome: connections.OutcomeSuccess, Status: 200}}, cacheConn)
	f.store.getErr = context.DeadlineExceeded
	if out := f.batch(cacheConn, 3, 0); len(out.BatchItemFailures) != 3 {
		t.Fatalf("%d of 3 failed, want 3", len(out.BatchItemFailures))
	}
	if g := f.gets(); g != 1 {
		t.Fatalf("a batch of 3 for one connection made %d reads, want 1", g)
	}
	f.store.getErr = nil
	if out := f.batch(cacheConn, 3, 0); len(out.BatchItemFailures) != 0 {
		t.Fatalf("after the store recovered: %d failed", len(out.BatchItemFailures))
	}
}

type sendFunc func(url string) delivery.Result

func (f sendFunc) Send(_ context.Context, url string, _ http.Header, _ []byte) delivery.Result {
	return f(url)
}

// orderStore logs a batch's attempts in one call, slowly, and notes when
// the call ended.
type orderStore struct {
	*memStore
	events *[]string
	mu     *sync.Mutex
}

func (s orderStore) AddAttempts(_ context.Context, as []connections.ConnAttempt) error {
	time.Sleep(20 * time.Millisecond) // the write is still under way when a careless Handle would return
	s.mu.Lock()
	defer s.mu.Unlock()
	*s.events = append(*s.events, "attempts logged: "+strconv.Itoa(len(as)))
	return nil
}

// TestAttemptsLoggedBeforeHandleReturns: Handle returns (and the poller, or
// Lambda, deletes the messages) only once every attempt of the batch is
// written, with the cache serving the connection.
func TestAttemptsLoggedBeforeHandleReturns(t *testing.T) {
	var (
		mu     sync.Mutex
		events []string
	)
	f := newCacheFixture(t, fakeSender{delivery.Result{Outcome: connections.OutcomeSuccess, Status: 200}}, cacheConn)
	f.d.Store = orderStore{memStore: f.store, events: &events, mu: &mu}
	for range 2 {
		out := f.batch(cacheConn, 10, 0)
		mu.Lock()
		events = append(events, "returned: "+strconv.Itoa(10-len(out.BatchItemFailures))+" done")
		mu.Unlock()
	}
	want := []string{"attempts logged: 10", "returned: 10 done", "attempts logged: 10", "returned: 10 done"}
	if len(events) != len(want) {
		t.Fatalf("events %q, want %q", events, want)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("events %q, want %q", events, want)
		}
	}
}
