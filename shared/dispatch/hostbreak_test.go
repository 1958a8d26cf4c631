package dispatch_test

import (
	"context"
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

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/netguard"
	"github.com/startmsg/chatbackend/shared/router"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// urlSender answers each Send with what answer says for its URL, counting
// the requests per URL.
type urlSender struct {
	mu     sync.Mutex
	n      map[string]int
	answer func(url string) delivery.Result
}

func (s *urlSender) Send(_ context.Context, url string, _ http.Header, _ []byte) delivery.Result {
	s.mu.Lock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[url]++
	s.mu.Unlock()
	return s.answer(url)
}

// count is the requests made to URLs containing part.
func (s *urlSender) count(part string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for u, k := range s.n {
		if strings.Contains(u, part) {
			n += k
		}
	}
	return n
}

func oneEach(cs []connections.Connection, prefix string) []connections.Task {
	var ts []connections.Task
	for i, c := range cs {
		ts = append(ts, tasksFor(c, fmt.Sprintf("%s%d-", prefix, i), 1)...)
	}
	return ts
}

func pausedOn(t *testing.T, store *ddbstore.Connections, c connections.Connection) connections.Breaker {
	t.Helper()
	b, err := store.Breaker(t.Context(), c.TenantID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostBreakerOpensAcrossConnections: timeouts of five different
// connections of a tenant to one host (one each: no connection's own
// breaker counts near five) open the tenant's breaker of that host: every
// connection of the tenant on the host is paused, the one that never failed
// too, and their deliveries are parked without a request; the tenant's
// connection to another host and another tenant's connection to the same
// host go on.
func TestHostBreakerOpensAcrossConnections(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	var hooks []connections.Connection
	for i := range 5 {
		hooks = append(hooks, limitsConn(t, store, "ten_hostA", fmt.Sprintf("conn_h%d", i), fmt.Sprintf("https://hooks.example.com/hook/%d", i)))
	}
	idle := limitsConn(t, store, "ten_hostA", "conn_hidle", "https://HOOKS.example.com:443/idle")
	other := limitsConn(t, store, "ten_hostA", "conn_hother", "https://other.example.com/hook")
	tenantB := limitsConn(t, store, "ten_hostB", "conn_hb", "https://hooks.example.com/b")
	s := &urlSender{answer: func(url string) delivery.Result {
		if strings.Contains(url, "hooks.example.com/hook/") {
			return resTimeout
		}
		return res200
	}}
	var now atomic.Int64
	now.Store(time.Now().UnixMilli())
	q := &recQueue{}
	d := limitedDispatcher(store, s, q, &now, connections.DeliveryLimits{InFlightPerConnection: 10})

	// One timeout each, in one batch.
	if _, err := d.Handle(ctx, batch(t, oneEach(hooks, "first"))); err != nil {
		t.Fatal(err)
	}
	if n := s.count("/hook/"); n != 5 {
		t.Fatalf("%d requests to the host, want 5", n)
	}
	for _, c := range append(hooks, idle) {
		b := pausedOn(t, store, c)
		if !b.Paused() || !b.HostOpen() || b.Host != "hooks.example.com:443" || b.Open() {
			t.Errorf("%s: %+v, want paused by the host's breaker (its own closed)", c.ID, b)
		}
	}
	for _, c := range []connections.Connection{other, tenantB} {
		if b := pausedOn(t, store, c); b.Paused() {
			t.Errorf("%s (%s): paused %+v", c.ID, c.URL, b)
		}
	}
	h, err := store.HostBreaker(ctx, "ten_hostA", "hooks.example.com:443")
	if err != nil || !h.Open() || h.Failures != connections.BreakerThreshold || h.NextProbe != h.OpenSince+connections.ProbeFirst.Milliseconds() {
		t.Fatalf("host breaker %+v %v", h, err)
	}
	if hb, _ := store.HostBreaker(ctx, "ten_hostB", "hooks.example.com:443"); hb.Open() || hb.Failures != 0 {
		t.Fatalf("tenant B's breaker of the host: %+v", hb)
	}

	// The next deliveries to the host's connections are parked (no
	// request, no attempt spent); the others are sent.
	now.Add(10)
	ts := oneEach(append(hooks, idle, other, tenantB), "second")
	ts[0].Attempts = 1
	resp, err := d.Handle(ctx, batch(t, ts))
	if err != nil {
		t.Fatal(err)
	}
	if n := s.count("hooks.example.com/hook/") + s.count("/idle"); n != 5 {
		t.Errorf("%d requests to the host's paused connections, want none since", n-5)
	}
	if s.count("other.example.com") != 1 || s.count("hooks.example.com/b") != 1 {
		t.Errorf("requests: %v; want one to the other host and one from tenant B", s.n)
	}
	if len(resp.BatchItemFailures) != 6 {
		t.Errorf("%d kept in the queue, want the 6 parked", len(resp.BatchItemFailures))
	}
	wait := time.UnixMilli(h.NextProbe).Sub(time.UnixMilli(now.Load()))
	for _, task := range ts[:6] {
		if got := q.hidden["rh-"+task.ID]; got < wait || got > wait+3*time.Second {
			t.Errorf("%s hidden %s, want until the host's probe (%s) and at most 3 s more", task.ID, got, wait)
		}
	}
}

// TestHostBreakerCountsNoAnswerOnly: a 5xx (or 429) is one path's answer:
// five of them on one connection open that connection's breaker only, and
// the host's breaker counts none of them; timeouts of other connections
// to the host do open it.
func TestHostBreakerCountsNoAnswerOnly(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	dead := limitsConn(t, store, "ten_host5", "conn_dead", "https://hooks.example.com/dead")
	slow1 := limitsConn(t, store, "ten_host5", "conn_slow1", "https://hooks.example.com/slow1")
	slow2 := limitsConn(t, store, "ten_host5", "conn_slow2", "https://hooks.example.com/slow2")
	fine := limitsConn(t, store, "ten_host5", "conn_fine", "https://hooks.example.com/fine")
	s := &urlSender{answer: func(url string) delivery.Result {
		switch {
		case strings.HasSuffix(url, "/dead"):
			return res500
		case strings.Contains(url, "/slow"):
			return resTimeout
		}
		return res200
	}}
	var now atomic.Int64
	now.Store(time.Now().UnixMilli())
	d := limitedDispatcher(store, s, &recQueue{}, &now, connections.DeliveryLimits{InFlightPerConnection: 10})
	send := func(c connections.Connection, prefix string, n int) {
		t.Helper()
		for _, task := range tasksFor(c, prefix, n) {
			if _, err := d.Handle(ctx, batch(t, []connections.Task{task})); err != nil {
				t.Fatal(err)
			}
			now.Add(10)
		}
	}
	send(dead, "d", 5)
	if b := pausedOn(t, store, dead); !b.Open() || b.HostOpen() {
		t.Fatalf("the dead path after five 500s: %+v, want its own breaker open, not its host's", b)
	}
	send(slow1, "s", 3)
	send(fine, "f", 1) // the host answers: the run of failures starts again
	send(slow2, "t", 2)
	for _, c := range []connections.Connection{slow1, slow2, fine} {
		if b := pausedOn(t, store, c); b.Paused() {
			t.Fatalf("%s paused after five 500s of a sibling and 2 timeouts since an answer: %+v", c.ID, b)
		}
	}
	h, _ := store.HostBreaker(ctx, "ten_host5", "hooks.example.com:443")
	if h.Failures != 2 || h.Open() {
		t.Fatalf("host breaker %+v, want the 2 timeouts since the answer counted, closed", h)
	}
	send(slow2, "u", 2)
	send(slow1, "v", 1) // five in a row: two connections' 4 and 1
	for _, c := range []connections.Connection{slow1, slow2, fine, dead} {
		if b := pausedOn(t, store, c); !b.HostOpen() {
			t.Errorf("%s not paused by its host after five timeouts in a row over two connections: %+v", c.ID, b)
		}
	}
	for _, c := range []connections.Connection{slow1, slow2} {
		if b := pausedOn(t, store, c); b.Open() {
			t.Errorf("%s: its own breaker open after 4 timeouts: %+v", c.ID, b)
		}
	}
	before := s.count("/fine")
	send(fine, "g", 2)
	if s.count("/fine") != before {
		t.Errorf("the host's breaker is open, yet %d requests went to a connection of it", s.count("/fine")-before)
	}
}

// TestHostProbe: two dispatcher instances share a tenant's open host
// breaker (opened by refused connections); once its probe is due, exactly one delivery to any of the
// host's connections is sent; a failed probe doubles the interval; a
// successful one closes the host's breaker and lets every connection on
// it go, their marks gone.
func TestHostProbe(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	var cs []connections.Connection
	for i := range 4 {
		cs = append(cs, limitsConn(t, store, "ten_hprobe", fmt.Sprintf("conn_p%d", i), fmt.Sprintf("https://hooks.example.com/p/%d", i)))
	}
	var up atomic.Bool
	var othersDone chan struct{}
	s := &urlSender{answer: func(string) delivery.Result {
		if up.Load() {
			// Held until the round's other batches are back (see
			// TestOneProbePerInterval).
			select {
			case <-othersDone:
			case <-time.After(5 * time.Second):
			}
			return res200
		}
		// Refused: a failure to answer that marks nothing slow (a timeout
		// would hold the recovered round to the slow caps, lease.go).
		return delivery.Result{Outcome: connections.OutcomeConnect}
	}}
	var now atomic.Int64
	start := time.Now()
	now.Store(start.UnixMilli())
	lim := connections.DeliveryLimits{InFlightPerConnection: 10}
	d1, d2 := limitedDispatcher(store, s, &recQueue{}, &now, lim), limitedDispatcher(store, s, &recQueue{}, &now, lim)
	if _, err := d1.Handle(ctx, batch(t, append(oneEach(cs, "open"), tasksFor(cs[0], "open-more", 1)...))); err != nil {
		t.Fatal(err)
	}
	h, err := store.HostBreaker(ctx, "ten_hprobe", "hooks.example.com:443")
	if err != nil || !h.Open() {
		t.Fatalf("host breaker after 5 timeouts over 4 connections: %+v %v", h, err)
	}
	round := func(name string) int {
		t.Helper()
		before := s.count("hooks")
		othersDone = make(chan struct{})
		if name != "recovered" {
			close(othersDone)
		}
		var returned atomic.Int32
		var wg sync.WaitGroup
		for k, d := range []*dispatch.Dispatcher{d1, d2, d1, d2} {
			wg.Go(func() {
				if _, err := d.Handle(ctx, batch(t, oneEach(cs, fmt.Sprintf("%s%d-", name, k)))); err != nil {
					t.Error(err)
				}
				if returned.Add(1) == 3 && name == "recovered" {
					close(othersDone)
				}
			})
		}
		wg.Wait()
		return s.count("hooks") - before
	}
	if n := round("early"); n != 0 {
		t.Fatalf("before the probe is due: %d requests", n)
	}
	own := map[string]int{}
	for _, c := range cs {
		own[c.ID] = pausedOn(t, store, c).Failures
	}
	now.Store(h.NextProbe + 1000)
	if n := round("due"); n != 1 {
		t.Fatalf("host probe due: %d requests, want exactly 1", n)
	}
	h2, _ := store.HostBreaker(ctx, "ten_hprobe", "hooks.example.com:443")
	if !h2.Open() || h2.Interval != 2*connections.ProbeFirst.Milliseconds() || h2.NextProbe != now.Load()+h2.Interval {
		t.Fatalf("after a failed probe: %+v, want open, interval doubled, next probe one interval on", h2)
	}
	for _, c := range cs {
		if b := pausedOn(t, store, c); b.Failures != own[c.ID] || b.Open() {
			t.Errorf("%s: %+v: a failed host probe counts on the host only", c.ID, b)
		}
	}
	now.Add(connections.ProbeFirst.Milliseconds())
	if n := round("between"); n != 0 {
		t.Fatalf("between probes: %d requests", n)
	}
	now.Store(h2.NextProbe + 1)
	up.Store(true)
	if n := round("recovered"); n != 1 {
		t.Fatalf("second host probe: %d requests, want exactly 1", n)
	}
	if h3, _ := store.HostBreaker(ctx, "ten_hprobe", "hooks.example.com:443"); h3.Open() || h3.Failures != 0 {
		t.Fatalf("a successful probe must close the host's breaker: %+v", h3)
	}
	for _, c := range cs {
		if b := pausedOn(t, store, c); b.Paused() || b.Host != "" {
			t.Errorf("%s after the host's breaker closed: %+v", c.ID, b)
		}
	}
	now.Add(2000) // past the dispatchers' cached reads
	// One batch after another: the connections' own failures (those
	// counted before the host's breaker opened) still hold concurrent
	// batches of a failing connection to one (acquire).
	before := s.count("hooks")
	for k, d := range []*dispatch.Dispatcher{d1, d2, d1, d2} {
		if _, err := d.Handle(ctx, batch(t, oneEach(cs, fmt.Sprintf("closed%d-", k)))); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.count("hooks") - before; n != 16 {
		t.Fatalf("closed: %d requests, want all 16", n)
	}
}

// TestHostBreakerRecoveryE2E: through fauxqs, the poller and dynoxide, a
// host that hangs on every path opens the tenant's host breaker, which
// pauses all its connections to it (the one that got no delivery yet
// too); the deliveries that come meanwhile wait without spending
// attempts; once the host answers, the host's probe closes the breaker
// and every delivery arrives, none dead, none in the DLQ.
func TestHostBreakerRecoveryE2E(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	fastRetries(t, 2*time.Second)

	var (
		up      atomic.Bool
		mu      sync.Mutex
		arrived = map[string]bool{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: the server notices the client giving up
		// only once it has.
		_, _ = io.ReadAll(r.Body)
		if !up.Load() {
			<-r.Context().Done() // hangs until the client gives up
			return
		}
		mu.Lock()
		arrived[r.Header.Get(webhook.HeaderID)] = true
		mu.Unlock()
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	var cs []connections.Connection
	for i := range 4 {
		cs = append(cs, limitsConn(t, store, "ten_hostE2E", fmt.Sprintf("conn_e%d", i), fmt.Sprintf("%s/h/%d", srv.URL, i)))
	}
	quiet := limitsConn(t, store, "ten_hostE2E", "conn_equiet", srv.URL+"/quiet")

	d := dispatch.New(store, delivery.New(netguard.Policy{AllowLoopback: true}, time.Second), e.SQS, e.Queues.DeliveriesURL)
	d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	d.Limits = dispatch.NewLimits(store, connections.DeliveryLimits{InFlightPerConnection: 10})
	d.Limits.ProbeWait = 2 * time.Second
	runPoller(t, e, 10, 2, d.Handle)
	var ds []connections.Delivery
	enqueue := func(prefix string, cs []connections.Connection, n int) {
		var b []connections.Delivery
		for i, c := range cs {
			for _, task := range tasksFor(c, fmt.Sprintf("%s%d-", prefix, i), n) {
				b = append(b, task.Delivery)
			}
		}
		ds = append(ds, b...)
		if err := router.Enqueue(ctx, e.SQS, e.Queues.DeliveriesURL, b); err != nil {
			t.Fatal(err)
		}
	}
	enqueue("first", cs, 3)
	waitFor(t, 60*time.Second, "every connection to the host paused", func() bool {
		all, err := store.Breakers(ctx, "ten_hostE2E")
		if err != nil {
			return false
		}
		for _, c := range append(cs, quiet) {
			if !all[c.ID].HostOpen() {
				return false
			}
		}
		return true
	})
	enqueue("while-open", append(cs, quiet), 3)
	time.Sleep(time.Second)
	up.Store(true)
	waitFor(t, 90*time.Second, "every delivery to arrive", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrived) == len(ds)
	})
	if h, _ := store.HostBreaker(ctx, "ten_hostE2E", connections.HostKey(srv.URL)); h.Open() {
		t.Errorf("host breaker still open: %+v", h)
	}
	page, err := store.ListDead(ctx, "ten_hostE2E", 100, "")
	if err != nil || len(page.Items) != 0 {
		t.Errorf("dead deliveries: %v %v", page.Items, err)
	}
	dlq := map[string]int{}
	drainDLQ(t, e.SQS, e.Queues.DLQURL, dlq)
	if len(dlq) != 0 {
		t.Errorf("DLQ holds %v", dlq)
	}
}
