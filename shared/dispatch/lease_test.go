package dispatch_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// leaseCounter counts the UpdateItems on in-flight slot items (INF#).
type leaseCounter struct {
	ddbstore.API
	n atomic.Int64
}

func (c *leaseCounter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if sk, ok := in.Key[ddbstore.AttrSK].(*types.AttributeValueMemberS); ok && strings.HasPrefix(sk.Value, "INF#") {
		c.n.Add(1)
	}
	return c.API.UpdateItem(ctx, in, o...)
}

// TestInFlightCapAcrossInstances: two dispatcher instances (each its own
// Limits, as two Lambda instances have) on one store hold a slow
// connection's attempts in flight to the cap between them, once an attempt
// showed it slow; the deliveries over it are parked. A fast connection's
// attempts take no slot in the store.
func TestInFlightCapAcrossInstances(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	api := &leaseCounter{API: e.DDB}
	store := &ddbstore.Connections{API: api, Table: e.Table, OpsTable: e.OpsTable}
	slowWas := connections.SlowAttempt
	connections.SlowAttempt = 100 * time.Millisecond
	t.Cleanup(func() { connections.SlowAttempt = slowWas })

	fast := limitsConn(t, store, "ten_lease", "conn_fast", "https://example.com/fast")
	slow := limitsConn(t, store, "ten_lease", "conn_slow", "https://example.com/slow")
	var inFlight, most atomic.Int64
	sender := senderByURL(func(url string) delivery.Result {
		if strings.HasSuffix(url, "/fast") {
			return res200
		}
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(400 * time.Millisecond)
		inFlight.Add(-1)
		return res200
	})
	const limit = 3
	instance := func() (*dispatch.Dispatcher, *recQueue) {
		q := &recQueue{}
		d := dispatch.New(store, sender, q, "q")
		d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
		d.Limits = dispatch.NewLimits(store, connections.DeliveryLimits{InFlightPerConnection: limit})
		return d, q
	}
	a, qa := instance()
	b, qb := instance()

	// Fast deliveries: no slot items touched.
	if _, err := a.Handle(ctx, batch(t, tasksFor(fast, "f", 10))); err != nil {
		t.Fatal(err)
	}
	if n := api.n.Load(); n != 0 {
		t.Fatalf("a fast connection's attempts made %d in-flight slot calls, want 0", n)
	}
	// One slow attempt on instance a marks the connection slow for both.
	if _, err := a.Handle(ctx, batch(t, tasksFor(slow, "s", 1))); err != nil {
		t.Fatal(err)
	}
	br, err := store.Breaker(ctx, slow.TenantID, slow.ID)
	if err != nil || !br.Slow(time.Now()) || br.Failures != 0 {
		t.Fatalf("breaker after a slow attempt: %+v %v; want marked slow, no failure", br, err)
	}
	most.Store(0)
	// Both instances at once, a batch of ten each: at most `limit` in
	// flight between them (each alone would allow `limit`).
	var wg sync.WaitGroup
	for i, d := range []*dispatch.Dispatcher{a, b} {
		wg.Go(func() {
			if _, err := d.Handle(ctx, batch(t, tasksFor(slow, string(rune('x'+i)), 10))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m > limit || m < 1 {
		t.Fatalf("%d attempts in flight across two instances, want at most %d", m, limit)
	}
	parked := len(qa.hidden) + len(qb.hidden)
	if parked < 20-2*limit {
		t.Fatalf("%d deliveries parked, want at least %d", parked, 20-2*limit)
	}
	// Every slot was given back.
	res, err := e.DDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &e.Table, Key: map[string]types.AttributeValue{
		ddbstore.AttrPK: &types.AttributeValueMemberS{Value: "TENANT#ten_lease"}, ddbstore.AttrSK: &types.AttributeValueMemberS{Value: "INF#conn_slow"}}})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.Item["n"].(*types.AttributeValueMemberN); n == nil || n.Value != "0" {
		t.Fatalf("slots left taken: %v", res.Item["n"])
	}
}

// TestInFlightStaleCount: a count left by a dispatcher that vanished
// (slots taken, never given back) starts again once it is stale.
func TestInFlightStaleCount(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	t0 := time.Now()
	for i := range 2 {
		if ok, err := store.AcquireInFlight(ctx, "ten_st", "conn_st", 2, t0); err != nil || !ok {
			t.Fatalf("slot %d: %v %v", i, ok, err)
		}
	}
	if ok, err := store.AcquireInFlight(ctx, "ten_st", "conn_st", 2, t0.Add(time.Second)); err != nil || ok {
		t.Fatalf("third slot of 2: %v %v, want refused", ok, err)
	}
	if ok, err := store.AcquireInFlight(ctx, "ten_st", "conn_st", 2, t0.Add(connections.InFlightStale+time.Second)); err != nil || !ok {
		t.Fatalf("after the count went stale: %v %v, want a slot", ok, err)
	}
	if ok, _ := store.AcquireInFlight(ctx, "ten_st", "conn_st", 2, t0.Add(connections.InFlightStale+2*time.Second)); !ok {
		t.Fatal("the count did not start again from zero")
	}
	for range 4 { // more releases than slots: never below zero
		if err := store.ReleaseInFlight(ctx, "ten_st", "conn_st", t0); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := store.AcquireInFlight(ctx, "ten_st", "conn_st", 1, t0.Add(connections.InFlightStale+3*time.Second)); !ok {
		t.Fatal("released slots not free")
	}
}

// senderByURL answers each Send with what f returns for its URL.
type senderByURL func(url string) delivery.Result

func (f senderByURL) Send(_ context.Context, url string, _ http.Header, _ []byte) delivery.Result {
	return f(url)
}

// TestSlowMarkSeenBeforeSending: an instance whose last read of a
// connection's breaker showed it healthy does not send on that read once
// it is older than Limits.SlowCheckFor (well within the breaker cache's
// CacheFor): the connection may have been marked slow by another instance
// since, and its attempts must then take slots in the store. Before, the
// instance sent the next batch on the cached read, unleased: one batch of
// attempts to a hanging endpoint per instance beyond the cap.
func TestSlowMarkSeenBeforeSending(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	api := &leaseCounter{API: e.DDB}
	store := &ddbstore.Connections{API: api, Table: e.Table, OpsTable: e.OpsTable}
	conn := limitsConn(t, store, "ten_mark", "conn_mark", "https://example.com/hook")
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(d)
	}
	d := dispatch.New(store, senderByURL(func(string) delivery.Result { return res200 }), &recQueue{}, "q")
	d.Now = now
	d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	d.Limits = dispatch.NewLimits(store, connections.DeliveryLimits{InFlightPerConnection: 3})
	d.Limits.CacheFor = time.Second
	d.Limits.SlowCheckFor = 100 * time.Millisecond

	// The connection answers fast: its breaker is read (healthy) and
	// cached; no slot is taken.
	if _, err := d.Handle(ctx, batch(t, tasksFor(conn, "h", 2))); err != nil {
		t.Fatal(err)
	}
	if n := api.n.Load(); n != 0 {
		t.Fatalf("a healthy connection's attempts made %d in-flight slot calls, want 0", n)
	}
	// Another instance's attempt ran long: it marks the connection slow.
	if err := store.MarkSlow(ctx, conn.TenantID, conn.ID, now().Add(connections.SlowFor)); err != nil {
		t.Fatal(err)
	}
	// Half a second later (the cached read is younger than CacheFor, older
	// than SlowCheckFor) this instance's next attempt takes a slot. (Its
	// own answers, once more than a second old, no longer say the endpoint
	// answers now: TestMarkedSlowButAnsweringGoesUnleased.)
	advance(500 * time.Millisecond)
	time.Sleep(1100 * time.Millisecond)
	if _, err := d.Handle(ctx, batch(t, tasksFor(conn, "s", 1))); err != nil {
		t.Fatal(err)
	}
	if n := api.n.Load(); n != 4 {
		t.Fatalf("%d in-flight slot calls for one attempt to a connection marked slow, want 4 (take, give back: the connection's lease and the tenant's)", n)
	}
}

// TestUnleasedAttemptCountsOnceSlow: an attempt sent before its connection
// was known slow (no slot taken) takes one of the store's slots once it has
// run SlowAttempt, until it ends. Another instance, seeing the mark, then
// finds the cap already held by it, and parks instead of adding attempts
// to the hanging endpoint. Before, the count started at zero with the mark:
// every attempt sent before it hung on beside a full cap of new ones.
func TestUnleasedAttemptCountsOnceSlow(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	slowWas := connections.SlowAttempt
	connections.SlowAttempt = 100 * time.Millisecond
	t.Cleanup(func() { connections.SlowAttempt = slowWas })
	conn := limitsConn(t, store, "ten_late", "conn_late", "https://example.com/slow")
	var inFlight, most atomic.Int64
	sender := senderByURL(func(string) delivery.Result {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(1500 * time.Millisecond)
		inFlight.Add(-1)
		return res200
	})
	instance := func() (*dispatch.Dispatcher, *recQueue) {
		q := &recQueue{}
		d := dispatch.New(store, sender, q, "q")
		d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
		d.Limits = dispatch.NewLimits(store, connections.DeliveryLimits{InFlightPerConnection: 1})
		return d, q
	}
	a, _ := instance()
	b, qb := instance()
	aDone := make(chan error, 1)
	go func() {
		_, err := a.Handle(ctx, batch(t, tasksFor(conn, "a", 1)))
		aDone <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		br, err := store.Breaker(ctx, conn.TenantID, conn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if br.Slow(time.Now()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection was never marked slow")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the mark's writer counts its attempt just after
	if _, err := b.Handle(ctx, batch(t, tasksFor(conn, "b", 3))); err != nil {
		t.Fatal(err)
	}
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	if m := most.Load(); m > 1 {
		t.Fatalf("%d attempts in flight to a connection capped at 1 (one sent before the mark, the others after it)", m)
	}
	if len(qb.hidden) != 3 {
		t.Fatalf("%d of the second instance's 3 deliveries parked, want 3", len(qb.hidden))
	}
	res, err := e.DDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &e.Table, Key: map[string]types.AttributeValue{
		ddbstore.AttrPK: &types.AttributeValueMemberS{Value: "TENANT#ten_late"}, ddbstore.AttrSK: &types.AttributeValueMemberS{Value: "INF#conn_late"}}})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.Item["n"].(*types.AttributeValueMemberN); n == nil || n.Value != "0" {
		t.Fatalf("slots left taken: %v", res.Item["n"])
	}
}

// TestSlowConnectionOneBatchAcrossInstances: once a connection is marked
// slow, many small batches on two dispatcher instances (each its own
// Limits, as two Lambda instances have), each with one delivery to the
// slow connection beside two to a fast one, hold it with one batch at a
// time between them: the batch holding its lease makes the attempt, the
// others park their delivery to it and deliver the fast ones. Two writes
// per batch that held it. Before, the cross-instance cap counted attempts
// (three here), so three batches, three workers, held it at once.
func TestSlowConnectionOneBatchAcrossInstances(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	api := &leaseCounter{API: e.DDB}
	store := &ddbstore.Connections{API: api, Table: e.Table, OpsTable: e.OpsTable}
	slowWas := connections.SlowAttempt
	connections.SlowAttempt = 200 * time.Millisecond // the attempts below are slow ones
	t.Cleanup(func() { connections.SlowAttempt = slowWas })
	fast := limitsConn(t, store, "ten_share", "conn_fast", "https://example.com/fast")
	slow := limitsConn(t, store, "ten_share", "conn_slow", "https://example.com/slow")
	if err := store.MarkSlow(ctx, slow.TenantID, slow.ID, time.Now().Add(connections.SlowFor)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	holding := map[string]int{} // batch (its tag) → its slow attempts in flight
	most, slowSent := 0, 0
	var fastSent atomic.Int64
	sender := idSender(func(id string) delivery.Result {
		if !strings.HasPrefix(id, "msg_s") {
			fastSent.Add(1)
			return res200
		}
		b := strings.SplitN(id, "_", 3)[1]
		mu.Lock()
		holding[b]++
		slowSent++
		most = max(most, len(holding))
		mu.Unlock()
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		if holding[b]--; holding[b] == 0 {
			delete(holding, b)
		}
		mu.Unlock()
		return res200
	})
	instance := func() (*dispatch.Dispatcher, *recQueue) {
		q := &recQueue{}
		d := dispatch.New(store, sender, q, "q")
		d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
		d.Limits = dispatch.NewLimits(store, connections.DeliveryLimits{InFlightPerConnection: 3})
		return d, q
	}
	a, qa := instance()
	b, qb := instance()
	const rounds, perInstance = 3, 3
	var wg sync.WaitGroup
	for i, d := range []*dispatch.Dispatcher{a, b} {
		for w := range perInstance {
			wg.Go(func() {
				for r := range rounds {
					tag := fmt.Sprintf("s%d%d%d", i, w, r)
					ts := append(tasksFor(slow, tag+"_", 1), tasksFor(fast, "f"+tag+"_", 2)...)
					if _, err := d.Handle(ctx, batch(t, ts)); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()
	batches := 2 * perInstance * rounds
	parked := len(qa.hidden) + len(qb.hidden)
	if most != 1 || slowSent+parked != batches {
		t.Fatalf("%d batches held the slow connection at once (want 1); %d sent, %d parked of %d", most, slowSent, parked, batches)
	}
	if n := fastSent.Load(); n != int64(2*batches) {
		t.Fatalf("%d fast deliveries sent, want all %d", n, 2*batches)
	}
	if n := api.n.Load(); n > int64(4*batches) || n < int64(4*slowSent) {
		t.Fatalf("%d lease calls for %d batches (%d sent to the slow connection): want four per batch that held it (the connection's and the tenant's lease, take and give back), at most two per other", n, batches, slowSent)
	}
	t.Logf("%d batches: %d sent to the slow connection, %d parked; %d lease calls", batches, slowSent, parked, api.n.Load())
}

// idSender answers each Send with what f returns for its webhook ID.
type idSender func(id string) delivery.Result

func (f idSender) Send(_ context.Context, _ string, h http.Header, _ []byte) delivery.Result {
	return f(h.Get(webhook.HeaderID))
}

// TestMarkedSlowButAnsweringGoesUnleased: a healthy connection marked slow
// (one late answer, say on a loaded machine) is not held to one batch at a
// time for the mark's minute: once the process has seen it answer just
// now, many small batches send to it at once, none parked, with no lease
// taken in the store.
func TestMarkedSlowButAnsweringGoesUnleased(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	api := &leaseCounter{API: e.DDB}
	store := &ddbstore.Connections{API: api, Table: e.Table, OpsTable: e.OpsTable}
	conn := limitsConn(t, store, "ten_answers", "conn_answers", "https://example.com/hook")
	if err := store.MarkSlow(ctx, conn.TenantID, conn.ID, time.Now().Add(connections.SlowFor)); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	sender := senderByURL(func(string) delivery.Result {
		sent.Add(1)
		time.Sleep(20 * time.Millisecond)
		return res200
	})
	q := &recQueue{}
	d := dispatch.New(store, sender, q, "q")
	d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	d.Limits = dispatch.NewLimits(store, connections.DeliveryLimits{InFlightPerConnection: 10})
	// The first batch takes the lease (the connection is marked slow) and
	// sees it answer.
	if _, err := d.Handle(ctx, batch(t, tasksFor(conn, "first", 2))); err != nil {
		t.Fatal(err)
	}
	if n := api.n.Load(); n != 4 {
		t.Fatalf("%d lease calls for the first batch, want 4 (take, give back: the connection's lease and the tenant's)", n)
	}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if _, err := d.Handle(ctx, batch(t, tasksFor(conn, fmt.Sprint("b", i, "_"), 1))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(q.hidden) != 0 || sent.Load() != 8 {
		t.Fatalf("%d of 6 batches' deliveries parked, %d sent of 8: an answering connection's batches were held back", len(q.hidden), sent.Load())
	}
	if n := api.n.Load(); n != 4 {
		t.Fatalf("%d lease calls, want none after the first batch's 4", n)
	}
}

// TestHungConnectionAnsweringStillLeased: an endpoint that answers most
// attempts at once and hangs on some. One instance's attempt to it timed
// out (it is marked hung in the store); another instance that saw it
// answer just now still holds it to one batch at a time (SlowWorkers), the
// deliveries of its other batches parked: each of those batches could be
// the one that hangs. Before, the answer seen let every batch send to it
// unleased, as many at once as there were workers (and across instances,
// as many as there were instances).
func TestHungConnectionAnsweringStillLeased(t *testing.T) {
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}
	conn := limitsConn(t, store, "ten_partly", "conn_partly", "https://example.com/hook")
	var inFlight, most atomic.Int64
	sender := idSender(func(id string) delivery.Result {
		switch {
		case strings.Contains(id, "hang"):
			time.Sleep(50 * time.Millisecond)
			return resTimeout
		case strings.Contains(id, "wave"):
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(300 * time.Millisecond)
			inFlight.Add(-1)
		}
		return res200
	})
	instance := func() (*dispatch.Dispatcher, *recQueue) {
		q := &recQueue{}
		d := dispatch.New(store, sender, q, "q")
		d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
		d.Limits = dispatch.NewLimits(store, connections.DeliveryLimits{InFlightPerConnection: 10})
		return d, q
	}
	a, qa := instance()
	b, _ := instance()
	// b's attempt times out: the connection is marked hung.
	if _, err := b.Handle(ctx, batch(t, tasksFor(conn, "hang", 1))); err != nil {
		t.Fatal(err)
	}
	if br, err := store.Breaker(ctx, conn.TenantID, conn.ID); err != nil || !br.Hung(time.Now()) || !br.Slow(time.Now()) {
		t.Fatalf("breaker after a timeout: %+v %v; want it marked hung and slow", br, err)
	}
	// a sees it answer at once, and at once sends six batches to it.
	if _, err := a.Handle(ctx, batch(t, tasksFor(conn, "quick", 1))); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if _, err := a.Handle(ctx, batch(t, tasksFor(conn, fmt.Sprint("wave", i, "_"), 1))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 || len(qa.hidden) != 5 {
		t.Fatalf("%d batches sent to the hung connection at once, %d parked of 6: want one at a time (SlowWorkers), the others parked", most.Load(), len(qa.hidden))
	}
	// A success closes its breaker but keeps the hung mark.
	if br, err := store.Breaker(ctx, conn.TenantID, conn.ID); err != nil || br.Failures != 0 || !br.Hung(time.Now()) {
		t.Fatalf("breaker after the answers: %+v %v; want no failures and still hung", br, err)
	}
}
