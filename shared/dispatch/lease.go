package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/startmsg/chatbackend/shared/connections"
)

// The in-flight cap (Limits.InFlight) holds in each process by itself
// (acquire). Across instances it holds for slow connections: an attempt
// that runs longer than connections.SlowAttempt marks its connection slow
// (as soon as it has run that long) on its breaker item for
// connections.SlowFor, which every instance reads with the batch's
// breakers anyway (a read that lets an attempt go unleased is at most
// Limits.SlowCheckFor old when the attempt starts, so an instance sees
// another's mark before its next send, and an attempt sent unleased before
// the mark takes a slot once it has run SlowAttempt, until it ends:
// lateSlot); while it is slow, each attempt to it also takes one of InFlight slots counted in the store
// (connections.InFlightStore), and a delivery that finds them all taken is
// parked like one over the process's cap. A healthy connection's attempts
// make no call for it: a fast endpoint cannot have many attempts in flight
// at once, a slow one can (one batch of attempts per instance, each up to
// the 10 s time limit), and that is the one the cap protects.

// slowKnown reports whether this process knows the connection to be slow
// at now (its own attempts, or the breaker read of this batch).
func (l *Limits) slowKnown(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.slow[key].After(now)
}

// lease takes one of the connection's slots across instances when the
// connection is slow (held); ok is false when all are taken. A store that
// fails lets the attempt go (the process's own cap still holds).
func (d *Dispatcher) lease(ctx context.Context, v verdict) (release func(), held, ok bool) {
	l := d.Limits
	now := d.Now()
	if l.Leases == nil || l.InFlight <= 0 || !(v.slow || l.slowKnown(v.key, now) || d.markedSlow(ctx, v, now)) {
		return func() {}, false, true
	}
	got, err := l.Leases.AcquireInFlight(ctx, v.task.TenantID, v.task.ConnectionID, l.InFlight, now)
	if err != nil {
		d.Log.ErrorContext(ctx, "take in-flight slot", "err", err, "connection", v.task.ConnectionID)
		return func() {}, false, true
	}
	if !got {
		return nil, false, false
	}
	return func() {
		// Given back even when the batch's context has ended.
		ctx := context.WithoutCancel(ctx)
		if err := l.Leases.ReleaseInFlight(ctx, v.task.TenantID, v.task.ConnectionID, d.Now()); err != nil {
			d.Log.ErrorContext(ctx, "give back in-flight slot", "err", err, "connection", v.task.ConnectionID)
		}
	}, true, true
}

// lateSlot is the slot an attempt sent unleased (its connection was not
// known slow when it started) takes in the store once it has run
// SlowAttempt, and gives back when it ends: the attempts sent by every
// instance before the connection was marked then count against the cap,
// and the attempts after the mark are refused until they end, rather than
// hang beside them. It is taken whatever the count (they are in flight
// already); it costs two writes per attempt that was slow, as a lease.
type lateSlot struct {
	mu          sync.Mutex
	held, ended bool
}

// lateSlotMax is the count a late slot is taken under: any.
const lateSlotMax = 1 << 30

func (s *lateSlot) take(ctx context.Context, d *Dispatcher, v verdict) {
	l := d.Limits
	if l.Leases == nil || l.InFlight <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	got, err := l.Leases.AcquireInFlight(context.WithoutCancel(ctx), v.task.TenantID, v.task.ConnectionID, lateSlotMax, d.Now())
	if err != nil {
		d.Log.ErrorContext(ctx, "count a slow attempt in flight", "err", err, "connection", v.task.ConnectionID)
		return
	}
	s.held = got
}

func (s *lateSlot) end(ctx context.Context, d *Dispatcher, v verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	if !s.held {
		return
	}
	s.held = false
	if err := d.Limits.Leases.ReleaseInFlight(context.WithoutCancel(ctx), v.task.TenantID, v.task.ConnectionID, d.Now()); err != nil {
		d.Log.ErrorContext(ctx, "give back in-flight slot", "err", err, "connection", v.task.ConnectionID)
	}
}

// markedSlow reports whether the connection is marked slow in the store
// when the breaker read its verdict rests on is SlowCheckFor old or more
// (the delivery waited for a slot of the process's cap): the read is made
// again, or taken from the process's cache when another batch made it
// since, so that no attempt goes unleased on a read older than
// SlowCheckFor. A read that fails lets the attempt go (the process's own
// cap still holds).
func (d *Dispatcher) markedSlow(ctx context.Context, v verdict, now time.Time) bool {
	l := d.Limits
	if l.Breakers == nil || now.Sub(v.read) < l.slowCheckFor() {
		return false
	}
	if b, at, ok := l.cached(v.key, now); ok && now.Sub(at) < l.slowCheckFor() {
		return b.Slow(now)
	}
	b, err := l.Breakers.Breaker(ctx, v.task.TenantID, v.task.ConnectionID)
	if err != nil {
		d.Log.ErrorContext(ctx, "read breaker", "err", err, "connection", v.task.ConnectionID)
		return false
	}
	l.remember(v.key, b, now)
	return b.Slow(now)
}

// noteSlow marks the connection slow, an attempt to it having run longer
// than connections.SlowAttempt: at once in this process, and in the store
// for the others (once per half SlowFor per process).
func (d *Dispatcher) noteSlow(ctx context.Context, v verdict) {
	l := d.Limits
	if l.Leases == nil {
		return
	}
	now := d.Now()
	until := now.Add(connections.SlowFor)
	l.mu.Lock()
	if l.slow == nil || len(l.slow) > 10000 {
		l.slow = map[string]time.Time{}
	}
	fresh := l.slow[v.key].Sub(now) > connections.SlowFor/2
	l.slow[v.key] = until
	l.mu.Unlock()
	if fresh {
		return
	}
	if err := l.Leases.MarkSlow(ctx, v.task.TenantID, v.task.ConnectionID, until); err != nil {
		d.Log.ErrorContext(ctx, "mark connection slow", "err", err, "connection", v.task.ConnectionID)
	}
}
