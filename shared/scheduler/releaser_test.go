package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/scheduler"
)

// TestKind is the kind the tests register (never in wiring).
const TestKind = "scheduler.test"

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// recorder is a handler that records what it was given and fails while
// fail says so.
type recorder struct {
	mu   sync.Mutex
	runs map[string]int
	fail func(d scheduler.Due) error
}

func (r *recorder) handle(_ context.Context, d scheduler.Due) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runs == nil {
		r.runs = map[string]int{}
	}
	r.runs[d.Ref]++
	if r.fail != nil {
		return r.fail(d)
	}
	return nil
}

func (r *recorder) count(ref string) int { r.mu.Lock(); defer r.mu.Unlock(); return r.runs[ref] }
func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.runs {
		n += v
	}
	return n
}

func setup(t *testing.T, api ddbstore.API) (*ddbstore.DueStore, *emulators.TestEnv) {
	env := emulators.ForTest(t)
	if api == nil {
		api = env.DDB
	}
	return &ddbstore.DueStore{API: api, OpsTable: env.OpsTable}, env
}

var t0 = time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)

func due(ref string, at time.Time) scheduler.Due {
	return scheduler.Due{Kind: TestKind, TenantID: "ten_a", Ref: ref, At: at, Payload: []byte(`{"m":"` + ref + `"}`)}
}

func TestReleaseDueItemsOnly(t *testing.T) {
	store, _ := setup(t, nil)
	ctx := t.Context()
	rec := &recorder{}
	clk := &clock{t: t0}
	r := &scheduler.Releaser{Store: store, Handlers: map[string]scheduler.Handler{TestKind: rec.handle}, Now: clk.Now}
	for i, at := range []time.Time{t0.Add(-30 * time.Second), t0, t0.Add(time.Millisecond), t0.Add(90 * time.Second)} {
		if err := store.Put(ctx, due(fmt.Sprint("r", i), at)); err != nil {
			t.Fatal(err)
		}
	}
	// Putting the same item again is no error and no second item.
	if err := store.Put(ctx, due("r0", t0.Add(-30*time.Second))); err != nil {
		t.Fatal(err)
	}
	res, err := r.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Released != 2 || rec.count("r0") != 1 || rec.count("r1") != 1 || rec.count("r2") != 0 || rec.count("r3") != 0 {
		t.Fatalf("first tick %+v, runs %v; want r0 and r1 (due at or before now) only", res, rec.runs)
	}
	if !res.CaughtUp {
		t.Errorf("not caught up: %+v", res)
	}
	clk.Set(t0.Add(2 * time.Minute))
	if res, err = r.Tick(ctx); err != nil || res.Released != 2 {
		t.Fatalf("second tick %+v, %v", res, err)
	}
	if rec.count("r2") != 1 || rec.count("r3") != 1 || rec.total() != 4 {
		t.Errorf("runs %v, want each once", rec.runs)
	}
	// Nothing left: another tick runs nothing.
	if res, err = r.Tick(ctx); err != nil || res.Released != 0 || rec.total() != 4 {
		t.Errorf("third tick %+v, %v, runs %v", res, err, rec.runs)
	}
	// The handler got the item as scheduled.
	var got scheduler.Due
	r.Handlers[TestKind] = func(_ context.Context, d scheduler.Due) error { got = d; return nil }
	want := due("p", t0.Add(2*time.Minute+time.Second))
	store.Put(ctx, want)
	clk.Set(t0.Add(3 * time.Minute))
	if _, err := r.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got.Kind != want.Kind || got.TenantID != want.TenantID || got.Ref != want.Ref || !got.At.Equal(want.At) || string(got.Payload) != string(want.Payload) {
		t.Errorf("handler got %+v, want %+v", got, want)
	}
}

// TestCatchUpAfterDowntime: the ticker was down for 6 hours; items spread
// over the gap, in every shard, are all released, over several bounded
// ticks, none skipped, and the cursor ends near now.
func TestCatchUpAfterDowntime(t *testing.T) {
	store, _ := setup(t, nil)
	ctx := t.Context()
	rec := &recorder{}
	clk := &clock{t: t0}
	r := &scheduler.Releaser{Store: store, Handlers: map[string]scheduler.Handler{TestKind: rec.handle}, Now: clk.Now,
		MaxItems: 40, MaxMinutes: 120}
	if _, err := r.Tick(ctx); err != nil { // the cursor is set
		t.Fatal(err)
	}
	const n = 150
	shards := map[string]bool{}
	for i := range n {
		d := due(fmt.Sprint("gap", i), t0.Add(time.Duration(i)*2*time.Minute+time.Duration(i)*time.Second))
		pk, _ := scheduler.Keys(d)
		shards[pk[len(pk)-1:]] = true
		if err := store.Put(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if len(shards) != scheduler.Shards {
		t.Fatalf("the items use %d shards, want all %d", len(shards), scheduler.Shards)
	}
	clk.Set(t0.Add(6 * time.Hour))
	ticks := 0
	for {
		res, err := r.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ticks++
		if res.Released > 40 || res.Minutes > 120 {
			t.Fatalf("tick %+v over its bounds", res)
		}
		if res.CaughtUp {
			if want := clk.Now().Add(-scheduler.DefaultGrace).Truncate(time.Minute); !res.Cursor.Equal(want) {
				t.Errorf("cursor %s, want %s", res.Cursor, want)
			}
			break
		}
		if ticks > 20 {
			t.Fatal("no catch-up after 20 ticks")
		}
	}
	if ticks < 4 {
		t.Errorf("caught up in %d ticks: the bounds did not bound", ticks)
	}
	for i := range n {
		if c := rec.count(fmt.Sprint("gap", i)); c != 1 {
			t.Errorf("gap%d ran %d times", i, c)
		}
	}
	// Drain does the same in one call, within the context's deadline.
	for i := range 30 {
		store.Put(ctx, due(fmt.Sprint("d", i), clk.Now().Add(time.Duration(i)*time.Minute)))
	}
	clk.Set(clk.Now().Add(10 * time.Hour))
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := r.Drain(dctx, 5*time.Second)
	if err != nil || !res.CaughtUp || res.Released != 30 {
		t.Errorf("drain %+v, %v", res, err)
	}
}

// TestFailuresRetryThenDie: a failing handler's item is retried with
// backoff, its attempts counted, and after MaxAttempts it is dead: kept
// and listed, never run again.
func TestFailuresRetryThenDie(t *testing.T) {
	store, _ := setup(t, nil)
	ctx := t.Context()
	rec := &recorder{fail: func(d scheduler.Due) error {
		if d.Ref == "bad" {
			return errors.New("provider says no")
		}
		return nil
	}}
	clk := &clock{t: t0}
	r := &scheduler.Releaser{Store: store, Handlers: map[string]scheduler.Handler{TestKind: rec.handle}, Now: clk.Now, MaxAttempts: 3}
	store.Put(ctx, due("bad", t0))
	store.Put(ctx, due("good", t0))
	res, err := r.Tick(ctx)
	if err != nil || res.Released != 1 || res.Retried != 1 {
		t.Fatalf("tick %+v, %v", res, err)
	}
	// Not before its backoff (1 minute).
	clk.Set(t0.Add(30 * time.Second))
	if r.Tick(ctx); rec.count("bad") != 1 {
		t.Fatalf("retried before its backoff: %d runs", rec.count("bad"))
	}
	clk.Set(t0.Add(61 * time.Second))
	if res, _ = r.Tick(ctx); rec.count("bad") != 2 || res.Retried != 1 {
		t.Fatalf("second run: %d runs, %+v", rec.count("bad"), res)
	}
	// Backoff doubles: 2 minutes after the second failure.
	clk.Set(t0.Add(61*time.Second + 119*time.Second))
	r.Tick(ctx)
	if rec.count("bad") != 2 {
		t.Fatalf("third run before its 2-minute backoff")
	}
	clk.Set(t0.Add(61*time.Second + 2*time.Minute))
	if res, _ = r.Tick(ctx); res.Dead != 1 || rec.count("bad") != 3 {
		t.Fatalf("third failure: %+v, %d runs; want dead", res, rec.count("bad"))
	}
	dead, err := store.DeadItems(ctx, 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead items %+v, %v", dead, err)
	}
	if d := dead[0]; d.Ref != "bad" || d.Attempts != 3 || d.LastError != "provider says no" || d.DeadAt.IsZero() || string(d.Payload) != `{"m":"bad"}` {
		t.Errorf("dead item %+v", d)
	}
	clk.Set(t0.Add(24 * time.Hour))
	if r.Tick(ctx); rec.count("bad") != 3 {
		t.Errorf("a dead item ran again")
	}
	if scheduler.Backoff(1) != time.Minute || scheduler.Backoff(3) != 4*time.Minute || scheduler.Backoff(30) != time.Hour {
		t.Errorf("backoff %v %v %v", scheduler.Backoff(1), scheduler.Backoff(3), scheduler.Backoff(30))
	}
}

// TestUnknownKindKept: an item no handler takes is kept (moved later,
// logged), not dropped and not dead; once its handler is registered it
// runs.
func TestUnknownKindKept(t *testing.T) {
	store, _ := setup(t, nil)
	ctx := t.Context()
	clk := &clock{t: t0}
	r := &scheduler.Releaser{Store: store, Handlers: map[string]scheduler.Handler{}, Now: clk.Now, MaxAttempts: 2}
	d := due("later", t0)
	d.Kind = "installation.release"
	store.Put(ctx, d)
	for i := range 5 {
		clk.Set(t0.Add(time.Duration(i) * time.Hour))
		res, err := r.Tick(ctx)
		if err != nil || (res.Unknown != 1 && i > 0) {
			t.Fatalf("tick %d: %+v, %v", i, res, err)
		}
	}
	if dead, _ := store.DeadItems(ctx, 10); len(dead) != 0 {
		t.Fatalf("an unknown kind's item died: %+v", dead)
	}
	rec := &recorder{}
	r.Handlers["installation.release"] = rec.handle
	clk.Set(t0.Add(6 * time.Hour))
	if res, err := r.Tick(ctx); err != nil || res.Released != 1 || rec.count("later") != 1 {
		t.Errorf("after registering: %+v, %v, runs %v", res, err, rec.runs)
	}
}

// failingDeletes is the emulator's client whose DeleteItem fails while on.
type failingDeletes struct {
	*dynamodb.Client
	mu sync.Mutex
	on bool
}

func (f *failingDeletes) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	f.mu.Lock()
	on := f.on
	f.mu.Unlock()
	if on {
		return nil, errors.New("injected: DynamoDB unavailable")
	}
	return f.Client.DeleteItem(ctx, in, opts...)
}

// TestAtLeastOnce: a handler that succeeds but whose item's delete fails
// runs again on the next tick (at-least-once; handlers are idempotent),
// and the cursor does not pass its minute meanwhile.
func TestAtLeastOnce(t *testing.T) {
	env := emulators.ForTest(t)
	api := &failingDeletes{Client: env.DDB, on: true}
	store := &ddbstore.DueStore{API: api, OpsTable: env.OpsTable}
	ctx := t.Context()
	rec := &recorder{}
	clk := &clock{t: t0}
	r := &scheduler.Releaser{Store: store, Handlers: map[string]scheduler.Handler{TestKind: rec.handle}, Now: clk.Now}
	store.Put(ctx, due("once", t0.Add(-20*time.Minute)))
	res, err := r.Tick(ctx)
	if err != nil || res.Kept != 1 || rec.count("once") != 1 {
		t.Fatalf("tick with failing deletes: %+v, %v, runs %v", res, err, rec.runs)
	}
	if res.Cursor.After(t0.Add(-20 * time.Minute)) {
		t.Errorf("the cursor passed a minute whose item is still there: %s", res.Cursor)
	}
	api.mu.Lock()
	api.on = false
	api.mu.Unlock()
	clk.Set(t0.Add(time.Minute))
	if res, err = r.Tick(ctx); err != nil || res.Released != 1 || rec.count("once") != 2 {
		t.Fatalf("next tick: %+v, %v, runs %v; want the item run again and released", res, err, rec.runs)
	}
	clk.Set(t0.Add(2 * time.Minute))
	if r.Tick(ctx); rec.count("once") != 2 {
		t.Errorf("ran a third time")
	}
}

// TestPanicIsAFailure: a handler that panics fails its item; the tick goes
// on with the others.
func TestPanicIsAFailure(t *testing.T) {
	store, _ := setup(t, nil)
	ctx := t.Context()
	clk := &clock{t: t0}
	ran := 0
	r := &scheduler.Releaser{Store: store, Now: clk.Now, Handlers: map[string]scheduler.Handler{TestKind: func(_ context.Context, d scheduler.Due) error {
		if d.Ref == "boom" {
			panic("boom")
		}
		ran++
		return nil
	}}}
	store.Put(ctx, due("boom", t0))
	store.Put(ctx, due("fine", t0))
	res, err := r.Tick(ctx)
	if err != nil || res.Retried != 1 || res.Released != 1 || ran != 1 {
		t.Errorf("tick %+v, %v, ran %d", res, err, ran)
	}
}

// TestDueItemInATransaction: a producer's transaction that holds
// ddbstore.DueItem schedules the item (the installations' held messages);
// the same item put twice fails that transaction's condition.
func TestDueItemInATransaction(t *testing.T) {
	store, env := setup(t, nil)
	ctx := t.Context()
	d := due("tx", t0.Add(30*time.Second))
	put := func() error {
		_, err := env.DDB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{ddbstore.DueItem(env.OpsTable, d)}})
		return err
	}
	if err := put(); err != nil {
		t.Fatal(err)
	}
	var tce *types.TransactionCanceledException
	if err := put(); !errors.As(err, &tce) {
		t.Errorf("second put: %v, want a cancelled transaction", err)
	}
	rec := &recorder{}
	clk := &clock{t: t0.Add(time.Minute)}
	r := &scheduler.Releaser{Store: store, Handlers: map[string]scheduler.Handler{TestKind: rec.handle}, Now: clk.Now}
	if res, err := r.Tick(ctx); err != nil || res.Released != 1 || rec.count("tx") != 1 {
		t.Errorf("tick %+v, %v", res, err)
	}
}

// TestConcurrentRelease: with Concurrency, a minute's items go to their
// handlers at once (several in flight together), each released once, a
// failing one moved later as without it.
func TestConcurrentRelease(t *testing.T) {
	store, _ := setup(t, nil)
	ctx := t.Context()
	clk := &clock{t: t0}
	var mu sync.Mutex
	inFlight, most := 0, 0
	rec := &recorder{fail: func(d scheduler.Due) error {
		if d.Ref == "bad" {
			return errors.New("no")
		}
		return nil
	}}
	h := func(ctx context.Context, d scheduler.Due) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return rec.handle(ctx, d)
	}
	r := &scheduler.Releaser{Store: store, Handlers: map[string]scheduler.Handler{TestKind: h}, Now: clk.Now, Concurrency: 8}
	for i := range 40 {
		if err := store.Put(ctx, due(fmt.Sprint("c", i), t0.Add(-time.Duration(i)*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
	}
	store.Put(ctx, due("bad", t0.Add(-time.Second)))
	res, err := r.Tick(ctx)
	if err != nil || res.Released != 40 || res.Retried != 1 {
		t.Fatalf("tick %+v %v", res, err)
	}
	for i := range 40 {
		if rec.count(fmt.Sprint("c", i)) != 1 {
			t.Fatalf("runs %v", rec.runs)
		}
	}
	if most < 2 {
		t.Errorf("at most %d handlers at once", most)
	}
	if res, err := r.Tick(ctx); err != nil || res.Released != 0 || rec.total() != 41 {
		t.Errorf("second tick %+v %v, runs %d", res, err, rec.total())
	}
}

// completeCounter is the store, counting the releaser's own deletes.
type completeCounter struct {
	*ddbstore.DueStore
	mu sync.Mutex
	n  int
}

func (s *completeCounter) Complete(ctx context.Context, it scheduler.Item) error {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return s.DueStore.Complete(ctx, it)
}

// TestHandlerCompletes: a handler whose own transaction deletes its due
// item (ddbstore.DueDone) and says so (MarkCompleted) is released without
// a second delete; one that does not say so is deleted by the releaser.
func TestHandlerCompletes(t *testing.T) {
	store, env := setup(t, nil)
	ctx := t.Context()
	counted := &completeCounter{DueStore: store}
	clk := &clock{t: t0}
	h := func(ctx context.Context, d scheduler.Due) error {
		if d.Ref == "plain" {
			return nil
		}
		if _, err := env.DDB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			ddbstore.DueItem(env.OpsTable, due(d.Ref+"-next", t0.Add(time.Hour))),
			ddbstore.DueDone(env.OpsTable, d),
		}}); err != nil {
			return err
		}
		scheduler.MarkCompleted(ctx)
		return nil
	}
	r := &scheduler.Releaser{Store: counted, Handlers: map[string]scheduler.Handler{TestKind: h}, Now: clk.Now, Lookback: 10 * time.Minute}
	for _, ref := range []string{"own", "plain"} {
		if err := store.Put(ctx, due(ref, t0.Add(-time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	res, err := r.Tick(ctx)
	if err != nil || res.Released != 2 {
		t.Fatalf("tick %+v %v", res, err)
	}
	if counted.n != 1 {
		t.Errorf("the releaser deleted %d items, want 1 (plain's)", counted.n)
	}
	if left, _, err := store.DueIn(ctx, t0.Add(-time.Minute), t0, 10); err != nil || len(left) != 0 {
		t.Errorf("left %+v %v", left, err)
	}
	// Outside a release MarkCompleted does nothing.
	scheduler.MarkCompleted(ctx)
}

// TestRecheck: a past minute the releaser drained is not read again for
// Recheck (an item put late into it waits that long), and is read once
// more before the cursor passes it, however recently it was drained.
func TestRecheck(t *testing.T) {
	store, _ := setup(t, nil)
	ctx := t.Context()
	rec := &recorder{}
	clk := &clock{t: t0.Add(30 * time.Second)}
	r := &scheduler.Releaser{Store: store, Handlers: map[string]scheduler.Handler{TestKind: rec.handle}, Now: clk.Now,
		Lookback: 10 * time.Minute, Recheck: 300 * time.Millisecond}
	if _, err := r.Tick(ctx); err != nil { // 05:50 to 06:00 read; 05:55 to 05:59 drained
		t.Fatal(err)
	}
	late := due("late", t0.Add(-90*time.Second)) // 05:58:30
	if err := store.Put(ctx, late); err != nil {
		t.Fatal(err)
	}
	res, err := r.Tick(ctx)
	if err != nil || res.Released != 0 || res.Minutes != 1 {
		t.Fatalf("tick right after: %+v %v; want the current minute read only", res, err)
	}
	time.Sleep(350 * time.Millisecond)
	if res, err = r.Tick(ctx); err != nil || res.Released != 1 || rec.count("late") != 1 {
		t.Fatalf("tick after Recheck: %+v %v", res, err)
	}
	// The minute the cursor passes next (05:55, drained just now) is read
	// before it passes, Recheck or not.
	r.Recheck = time.Hour
	if _, err := r.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, due("edge", t0.Add(-5*time.Minute+time.Second))); err != nil { // 05:55:01
		t.Fatal(err)
	}
	clk.Set(t0.Add(61 * time.Second)) // safe is 05:56
	res, err = r.Tick(ctx)
	if err != nil || rec.count("edge") != 1 {
		t.Fatalf("tick as the cursor passes 05:55: %+v %v, runs %v", res, err, rec.runs)
	}
	if want := t0.Add(-4 * time.Minute); !res.Cursor.Equal(want) {
		t.Errorf("cursor %s, want %s", res.Cursor, want)
	}
}

// TestMinutePages: a minute with more items due than a tick takes is
// read page by page (each shard up to its share), the tick stopping at
// MaxItems and not caught up; Drain takes the rest at once.
func TestMinutePages(t *testing.T) {
	store, _ := setup(t, nil)
	ctx := t.Context()
	rec := &recorder{}
	clk := &clock{t: t0.Add(50 * time.Second)}
	for i := range 60 {
		if err := store.Put(ctx, due(fmt.Sprint("p", i), t0.Add(time.Duration(i)*100*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
	}
	items, more, err := store.DueIn(ctx, t0, clk.Now(), 20)
	if err != nil || len(items) > 20 || len(items) < 10 || !more {
		t.Fatalf("DueIn 20: %d items, more %v, %v", len(items), more, err)
	}
	r := &scheduler.Releaser{Store: store, Handlers: map[string]scheduler.Handler{TestKind: rec.handle}, Now: clk.Now,
		Lookback: 2 * time.Minute, MaxItems: 25, Concurrency: 4}
	res, err := r.Tick(ctx)
	if err != nil || res.Released < 20 || res.Released > 25 || res.CaughtUp {
		t.Fatalf("tick %+v %v", res, err)
	}
	res, err = r.Drain(ctx, 0)
	if err != nil || !res.CaughtUp || rec.total() != 60 {
		t.Fatalf("drain %+v %v, released %d of 60", res, err, rec.total())
	}
	for i := range 60 {
		if rec.count(fmt.Sprint("p", i)) != 1 {
			t.Fatalf("runs %v", rec.runs)
		}
	}
}
