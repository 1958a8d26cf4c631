package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Item is a due item as the store keeps it: the Due and what its failed
// runs left behind.
type Item struct {
	Due
	Attempts  int    // failed runs so far
	LastError string // the last failure's message
	DeadAt    time.Time
}

// Store keeps the due items (ddbstore.DueStore, on the operations table).
type Store interface {
	// Put schedules d; putting the same due item again is no error.
	Put(ctx context.Context, d Due) error
	// Cursor is the first minute not known to be drained (ok false: none
	// saved yet).
	Cursor(ctx context.Context) (minute time.Time, ok bool, err error)
	// SaveCursor moves the cursor forward to minute; never back.
	SaveCursor(ctx context.Context, minute time.Time) error
	// DueIn lists the items of minute's partitions (all shards) due at or
	// before now, oldest first, at most limit; more reports that some
	// were left.
	DueIn(ctx context.Context, minute, now time.Time, limit int) (items []Item, more bool, err error)
	// Complete deletes it, if it is still there.
	Complete(ctx context.Context, it Item) error
	// Move deletes it, if it is still there, and puts to in its place
	// (to.At: its new due time; to.Attempts and to.LastError as given).
	Move(ctx context.Context, it, to Item) error
	// Bury deletes it, if it is still there, and keeps it among the dead
	// items (DeadItems) with its attempts and last error.
	Bury(ctx context.Context, it Item) error
	// DeadItems lists the dead items, oldest first, at most limit.
	DeadItems(ctx context.Context, limit int) ([]Item, error)
}

// Defaults of a Releaser's settings.
const (
	DefaultMaxAttempts  = 8
	DefaultMaxItems     = 500
	DefaultMaxMinutes   = 6 * 60
	DefaultGrace        = 5 * time.Minute
	DefaultLookback     = time.Hour
	DefaultUnknownDelay = 15 * time.Minute
	DefaultCallTimeout  = 20 * time.Second
	DefaultRecheck      = 5 * time.Second
	maxErrorLen         = 1000
)

// Backoff is the wait before the nth retry of a failed item: 1 minute,
// doubling, at most an hour.
func Backoff(attempts int) time.Duration {
	d := time.Minute
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// Releaser hands due items to their handlers. Each tick reads the minutes
// from the store's durable cursor up to now (every shard of each), so a
// ticker that was down for hours catches up without skipping an item,
// and moves the cursor past the minutes it drained. Delivery is
// at-least-once: an item is deleted only after its handler succeeded, so
// a handler that succeeds but whose item's delete fails runs again on the
// next tick (handlers must be idempotent). A failed item is moved
// Backoff(attempts) later; after MaxAttempts failures it is buried (dead,
// kept, listed by DeadItems and logged as "scheduler: dead"). An item
// whose kind has no handler is kept: moved UnknownDelay later, logged,
// never counted as a failure nor dropped.
type Releaser struct {
	Store    Store
	Handlers map[string]Handler
	Now      func() time.Time
	Log      *slog.Logger

	MaxAttempts  int           // failures before an item is dead
	MaxItems     int           // items per tick
	MaxMinutes   int           // minutes read per tick
	Grace        time.Duration // the cursor stays this far behind now (late puts, clock skew)
	Lookback     time.Duration // where the first tick starts, without a cursor
	UnknownDelay time.Duration // how long an item of an unknown kind waits before it is looked at again
	CallTimeout  time.Duration // one handler call
	// Concurrency is how many of a minute's items are handed to their
	// handlers at once (0 or 1: one after another). Handlers of different
	// items must then be safe to run at the same time.
	Concurrency int
	// Recheck is how long a past minute this releaser drained is not read
	// again (wall time), while the cursor may not pass it yet: only a put
	// that lands late (its At in a minute gone by) can add to it, and such
	// an item waits at most this long more. Without it a ticker polling
	// every 250 ms would read the Grace window's minutes, every shard of
	// each, on every tick. A minute is always read once more before the
	// cursor passes it.
	Recheck time.Duration

	memo *drainedMinutes // what Recheck remembers (made on first use)
}

// drainedMinutes remembers when past minutes were found drained.
type drainedMinutes struct {
	mu sync.Mutex
	at map[time.Time]time.Time // minute → when (wall time) it was drained
}

var memoInit sync.Mutex

func (r *Releaser) drained() *drainedMinutes {
	memoInit.Lock()
	defer memoInit.Unlock()
	if r.memo == nil {
		r.memo = &drainedMinutes{at: map[time.Time]time.Time{}}
	}
	return r.memo
}

// recent reports whether minute m was found drained less than d ago.
func (dm *drainedMinutes) recent(m time.Time, d time.Duration) bool {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	at, ok := dm.at[m]
	return ok && time.Since(at) < d
}

// mark remembers m drained now and forgets minutes before from.
func (dm *drainedMinutes) mark(m, from time.Time) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	dm.at[m] = time.Now()
	for k := range dm.at {
		if k.Before(from) {
			delete(dm.at, k)
		}
	}
}

// Result is what one tick did.
type Result struct {
	Released int       `json:"released"`  // handlers succeeded, items deleted
	Retried  int       `json:"retried"`   // handlers failed, items moved later
	Dead     int       `json:"dead"`      // handlers failed a last time, items buried
	Unknown  int       `json:"unknown"`   // items of a kind without a handler, kept
	Kept     int       `json:"kept"`      // items left where they were (a store error)
	Minutes  int       `json:"minutes"`   // minute partitions read
	Cursor   time.Time `json:"cursor"`    // the cursor after the tick
	CaughtUp bool      `json:"caught_up"` // every minute up to now was read
}

func (r *Releaser) settings() Releaser {
	c := *r
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxAttempts, DefaultMaxAttempts)
	def(&c.MaxItems, DefaultMaxItems)
	def(&c.MaxMinutes, DefaultMaxMinutes)
	defD(&c.Grace, DefaultGrace)
	defD(&c.Lookback, DefaultLookback)
	defD(&c.UnknownDelay, DefaultUnknownDelay)
	defD(&c.CallTimeout, DefaultCallTimeout)
	defD(&c.Recheck, DefaultRecheck)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// Tick runs one bounded pass: at most MaxMinutes minutes and MaxItems
// items; what is left waits for the next tick (Result.CaughtUp false).
func (r *Releaser) Tick(ctx context.Context) (Result, error) {
	memo := r.drained()
	c := r.settings()
	var res Result
	now := c.Now().UTC()
	nowMin := now.Truncate(time.Minute)
	safe := now.Add(-c.Grace).Truncate(time.Minute) // the cursor goes no further
	cur, ok, err := c.Store.Cursor(ctx)
	if err != nil {
		return res, fmt.Errorf("scheduler: read the cursor: %w", err)
	}
	if !ok {
		cur = nowMin.Add(-c.Lookback)
	}
	cur = cur.UTC().Truncate(time.Minute)
	next := cur     // the cursor to save
	drained := true // every minute from cur to m was drained
	left := false   // a minute read still had items when the tick stopped
	items := 0
	m := cur
	for ; !m.After(nowMin); m = m.Add(time.Minute) {
		if res.Minutes >= c.MaxMinutes || items >= c.MaxItems || ctx.Err() != nil {
			break
		}
		if m.Before(nowMin) && !m.Before(safe) && memo.recent(m, c.Recheck) {
			drained = false // the cursor does not pass it anyway (m ≥ safe)
			continue
		}
		res.Minutes++
		// The minute's items, page after page (DueIn reads each shard's
		// share), until it has none left due or the tick its fill.
		done := true
		for {
			list, more, err := c.Store.DueIn(ctx, m, now, c.MaxItems-items)
			if err != nil {
				return res, errors.Join(fmt.Errorf("scheduler: list minute %s: %w", m.Format(minuteLayout), err), c.save(ctx, cur, next, &res))
			}
			ok := true
			if c.Concurrency > 1 {
				var n int
				n, ok = c.releaseAll(ctx, list, now, &res)
				items += n
			} else {
				for _, it := range list {
					if ctx.Err() != nil { // out of time: the rest waits for the next tick
						ok = false
						break
					}
					items++
					if !c.release(ctx, it, now, &res) {
						ok = false
					}
				}
			}
			if !ok {
				done = false
			}
			if !more {
				break
			}
			if !ok || len(list) == 0 || items >= c.MaxItems || ctx.Err() != nil {
				done, left = false, true
				break
			}
		}
		if done && m.Before(nowMin) {
			memo.mark(m, safe)
		}
		if drained && done && m.Before(safe) {
			next = m.Add(time.Minute)
		} else {
			drained = false
		}
	}
	res.CaughtUp = m.After(nowMin) && !left
	return res, c.save(ctx, cur, next, &res)
}

const minuteLayout = "2006-01-02T15:04"

func (c *Releaser) save(ctx context.Context, cur, next time.Time, res *Result) error {
	res.Cursor = next
	if next.After(cur) {
		if err := c.Store.SaveCursor(context.WithoutCancel(ctx), next); err != nil {
			return fmt.Errorf("scheduler: save the cursor: %w", err)
		}
	}
	return nil
}

// Drain ticks until the store is caught up, ctx is within margin of its
// deadline, or a tick does nothing: what a scheduled invocation runs.
func (r *Releaser) Drain(ctx context.Context, margin time.Duration) (Result, error) {
	var total Result
	tctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		tctx, cancel = context.WithDeadline(ctx, dl.Add(-margin))
		defer cancel()
	}
	for {
		res, err := r.Tick(tctx)
		total.Released += res.Released
		total.Retried += res.Retried
		total.Dead += res.Dead
		total.Unknown += res.Unknown
		total.Kept += res.Kept
		total.Minutes += res.Minutes
		total.Cursor, total.CaughtUp = res.Cursor, res.CaughtUp
		if err != nil || res.CaughtUp || tctx.Err() != nil || res.Minutes == 0 {
			return total, err
		}
	}
}

// releaseAll releases list on Concurrency workers: how many were
// started, and whether every one left its minute (as release reports).
func (c *Releaser) releaseAll(ctx context.Context, list []Item, now time.Time, res *Result) (int, bool) {
	var (
		mu      sync.Mutex
		next    atomic.Int64
		started atomic.Int64
		wg      sync.WaitGroup
	)
	ok := true
	for range min(c.Concurrency, len(list)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(list) {
					return
				}
				if ctx.Err() != nil { // out of time: the rest waits for the next tick
					mu.Lock()
					ok = false
					mu.Unlock()
					return
				}
				started.Add(1)
				var one Result
				left := c.release(ctx, list[i], now, &one)
				mu.Lock()
				res.Released += one.Released
				res.Retried += one.Retried
				res.Dead += one.Dead
				res.Unknown += one.Unknown
				res.Kept += one.Kept
				ok = ok && left
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return int(started.Load()), ok
}

// release runs one item and reports whether it left its minute (done,
// moved or buried); false keeps the minute from being passed.
func (c *Releaser) release(ctx context.Context, it Item, now time.Time, res *Result) bool {
	log := c.Log.With("kind", it.Kind, "ref", it.Ref, "tenant", it.TenantID, "at", it.At.UTC().Format(time.RFC3339), "attempts", it.Attempts)
	h, ok := c.Handlers[it.Kind]
	if !ok {
		to := it
		to.At, to.LastError = now.Add(c.UnknownDelay), "no handler for kind "+it.Kind
		if err := c.Store.Move(ctx, it, to); err != nil {
			log.Error("scheduler: keep an item of an unknown kind", "err", err)
			res.Kept++
			return false
		}
		log.Warn("scheduler: no handler for this kind; item kept", "until", to.At.Format(time.RFC3339))
		res.Unknown++
		return true
	}
	var done atomic.Bool
	err := call(context.WithValue(ctx, completedKey{}, &done), c.CallTimeout, h, it.Due)
	if err == nil {
		if done.Load() { // the handler's own write deleted it
			res.Released++
			return true
		}
		if err := c.Store.Complete(ctx, it); err != nil {
			// The handler's work is done but the item stays: it runs again
			// on a later tick (at-least-once).
			log.Error("scheduler: delete a released item", "err", err)
			res.Kept++
			return false
		}
		res.Released++
		return true
	}
	to := it
	to.Attempts++
	to.LastError = err.Error()
	if len(to.LastError) > maxErrorLen {
		to.LastError = to.LastError[:maxErrorLen]
	}
	if to.Attempts >= c.MaxAttempts {
		to.DeadAt = now
		if berr := c.Store.Bury(ctx, to); berr != nil {
			log.Error("scheduler: bury an item", "err", berr)
			res.Kept++
			return false
		}
		log.Error("scheduler: dead", "err", err, "attempts", to.Attempts)
		res.Dead++
		return true
	}
	to.At = now.Add(Backoff(to.Attempts))
	if merr := c.Store.Move(ctx, it, to); merr != nil {
		log.Error("scheduler: reschedule a failed item", "err", merr)
		res.Kept++
		return false
	}
	log.Warn("scheduler: handler failed; retried later", "err", err, "retry_at", to.At.Format(time.RFC3339))
	res.Retried++
	return true
}

type completedKey struct{}

// MarkCompleted tells the releaser running a handler (ctx is the one it
// was given) that the handler's own write has deleted its due item, in
// the transaction that did the item's work (ddbstore.DueDone): the
// releaser then does not delete it again. A handler calls it only once
// that write succeeded, and returns nil; outside a release it does
// nothing.
func MarkCompleted(ctx context.Context) {
	if f, ok := ctx.Value(completedKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
}

// call runs h with a timeout, a panic turned into an error.
func call(ctx context.Context, timeout time.Duration, h Handler, d Due) (err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx, d)
}
