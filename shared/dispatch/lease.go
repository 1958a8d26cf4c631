package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/startmsg/chatbackend/shared/connections"
)

// What a hanging endpoint takes is workers: a batch with one attempt to it
// holds its worker (in Lambda, an instance) for the attempt's 10 s time
// limit, as long as a batch of ten. So the cap on a slow connection counts
// batches, not attempts: at most Limits.SlowWorkers batches hold attempts
// to it at once, each up to Limits.InFlight of them (the connection's
// messages in that batch, which share the batch's hold); the connection's
// messages in other batches are parked (hidden for an attempt's time
// limit), and those batches go on with their other messages at once.
//
// In a process the cap holds by itself (acquire). Across instances it
// holds for slow connections: an attempt that runs longer than
// connections.SlowAttempt marks its connection slow (as soon as it has run
// that long) on its breaker item for connections.SlowFor, which every
// instance reads with the batch's breakers anyway (a read that lets an
// attempt go unleased is at most Limits.SlowCheckFor old when the attempt
// starts, so an instance sees another's mark before its next send). While
// it is slow, a batch's first attempt to it takes one of SlowWorkers
// leases counted in the store (connections.InFlightStore), shared by the
// batch's other attempts to it and given back when the last of them ends;
// a batch that finds them all taken parks its deliveries to it. A batch
// whose attempts were sent unleased before the mark takes a lease once one
// of them has run SlowAttempt, whatever the count (they are in flight
// already), until they end: the batches every instance sent before the
// mark count against the cap, and no new batch joins them. A healthy
// connection's attempts make no call for it: a fast endpoint cannot hold
// many workers at once, a slow one can, and that is what the cap protects.
//
// A tenant with many slow connections would hold SlowWorkers batches for
// each of them: twenty hanging connections, twenty workers. So the batches
// holding attempts to any of a tenant's slow connections are counted too,
// at most Limits.TenantSlowWorkers at once across instances: a batch takes
// one tenant lease (connections.TenantInFlight, beside the connections'
// leases) with its first lease on a slow connection of the tenant, shares
// it between all of them, and gives it back with the last; the tenant's
// slow connections' messages in batches that find them all taken are
// parked. A late lease takes the tenant's too, whatever its count.

// slowKnown reports whether this process knows the connection to be slow
// at now (its own attempts, or the breaker read of this batch).
func (l *Limits) slowKnown(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.slow[key].After(now)
}

// batchHold is one batch's hold on the connections it sends to: one lease
// per connection, shared by the batch's attempts to it, and one per
// tenant, shared by its leased connections.
type batchHold struct {
	mu      sync.Mutex
	m       map[string]*connHold
	tenants map[string]*tenantHold
}

// connHold is a batch's hold on one connection.
type connHold struct {
	mu      sync.Mutex
	n       int         // the batch's attempts to it under way
	held    bool        // the batch holds one of its leases in the store
	refused bool        // its leases were all taken: the batch parks the rest
	tenant  *tenantHold // the batch's tenant lease this hold counts in (nil: none)
}

// tenantHold is a batch's hold on one tenant's slow connections: one lease
// of the tenant's TenantSlowWorkers, taken with the batch's first lease on
// a slow connection of the tenant and given back with the last.
type tenantHold struct {
	mu      sync.Mutex
	n       int  // the batch's connection holds counting in it
	held    bool // the batch holds one of the tenant's leases in the store
	refused bool // they were all taken: the batch parks the tenant's slow connections' messages
}

func (b *batchHold) tenant(id string) *tenantHold {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tenants == nil {
		b.tenants = map[string]*tenantHold{}
	}
	t := b.tenants[id]
	if t == nil {
		t = &tenantHold{}
		b.tenants[id] = t
	}
	return t
}

// take counts a connection hold of the batch in its tenant lease, taking
// the lease (under max) when the batch holds none; false when the
// tenant's leases are all taken. A store that fails lets it go (counted,
// no lease held).
func (t *tenantHold) take(ctx context.Context, d *Dispatcher, tenantID string, max int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.held && max != lateSlotMax {
		if t.refused {
			return false
		}
		got, err := d.Limits.Leases.AcquireInFlight(ctx, tenantID, connections.TenantInFlight, max, d.Now())
		switch {
		case err != nil:
			d.Log.ErrorContext(ctx, "take a tenant's slow-connection lease", "err", err, "tenant", tenantID)
		case !got:
			t.refused = true
			return false
		default:
			t.held = true
		}
	} else if !t.held {
		got, err := d.Limits.Leases.AcquireInFlight(context.WithoutCancel(ctx), tenantID, connections.TenantInFlight, max, d.Now())
		if err != nil {
			d.Log.ErrorContext(ctx, "count a tenant's slow batch in flight", "err", err, "tenant", tenantID)
		}
		t.held = got
	}
	t.n++
	return true
}

// drop ends a connection hold's count in the tenant lease; the last gives
// the lease back (even when the batch's context has ended).
func (t *tenantHold) drop(ctx context.Context, d *Dispatcher, tenantID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n--; t.n > 0 || !t.held {
		return
	}
	t.held = false
	if err := d.Limits.Leases.ReleaseInFlight(context.WithoutCancel(ctx), tenantID, connections.TenantInFlight, d.Now()); err != nil {
		d.Log.ErrorContext(ctx, "give back a tenant's slow-connection lease", "err", err, "tenant", tenantID)
	}
}

func (b *batchHold) of(key string) *connHold {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]*connHold{}
	}
	h := b.m[key]
	if h == nil {
		h = &connHold{}
		b.m[key] = h
	}
	return h
}

// lease makes an attempt of batch b to the connection part of the batch's
// hold on it: when the connection is slow and the batch holds no lease on
// it yet, it takes one, then the tenant's when the batch holds none (ok is
// false when either's are all taken, for every later attempt of the batch
// to it too; a connection lease taken is then given back). A store that fails lets the attempt go
// (the process's own cap still holds). A connection this process saw
// answer just now (answering, see acquire) needs no lease: an endpoint
// that answers holds no worker long. The caller ends the attempt's part
// with h.end.
func (d *Dispatcher) lease(ctx context.Context, v verdict, b *batchHold, answering bool) (h *connHold, ok bool) {
	l := d.Limits
	h = b.of(v.key)
	now := d.Now()
	slow := l.Leases != nil && l.InFlight > 0 && !answering && (v.slow || l.slowKnown(v.key, now) || d.markedSlow(ctx, v, now))
	h.mu.Lock()
	defer h.mu.Unlock()
	if slow && !h.held {
		if h.refused {
			return h, false
		}
		got, err := l.Leases.AcquireInFlight(ctx, v.task.TenantID, v.task.ConnectionID, l.slowWorkers(), now)
		switch {
		case err != nil:
			d.Log.ErrorContext(ctx, "take a lease on a slow connection", "err", err, "connection", v.task.ConnectionID)
		case !got:
			h.refused = true
			return h, false
		default:
			h.held = true
		}
		if h.tenant == nil {
			t := b.tenant(v.task.TenantID)
			if !t.take(ctx, d, v.task.TenantID, l.tenantSlowWorkers()) {
				h.refused = true
				if h.held {
					h.held = false
					if err := l.Leases.ReleaseInFlight(context.WithoutCancel(ctx), v.task.TenantID, v.task.ConnectionID, d.Now()); err != nil {
						d.Log.ErrorContext(ctx, "give back a lease on a slow connection", "err", err, "connection", v.task.ConnectionID)
					}
				}
				return h, false
			}
			h.tenant = t
		}
	}
	h.n++
	return h, true
}

// lateSlotMax is the count a late lease is taken under: any.
const lateSlotMax = 1 << 30

// late takes the batch's lease on the connection, when it holds none, for
// its attempts sent unleased, one of which has now run SlowAttempt: taken
// whatever the count, held until they end.
func (h *connHold) late(ctx context.Context, d *Dispatcher, b *batchHold, v verdict) {
	l := d.Limits
	if l.Leases == nil || l.InFlight <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held || h.n == 0 {
		return
	}
	if h.tenant == nil {
		h.tenant = b.tenant(v.task.TenantID)
		h.tenant.take(ctx, d, v.task.TenantID, lateSlotMax)
	}
	got, err := l.Leases.AcquireInFlight(context.WithoutCancel(ctx), v.task.TenantID, v.task.ConnectionID, lateSlotMax, d.Now())
	if err != nil {
		d.Log.ErrorContext(ctx, "count a slow batch in flight", "err", err, "connection", v.task.ConnectionID)
		return
	}
	h.held = got
}

// end ends an attempt's part in the batch's hold; the last one gives the
// lease back, then its count in the tenant's (even when the batch's
// context has ended).
func (h *connHold) end(ctx context.Context, d *Dispatcher, v verdict) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n--; h.n > 0 {
		return
	}
	if h.held {
		h.held = false
		if err := d.Limits.Leases.ReleaseInFlight(context.WithoutCancel(ctx), v.task.TenantID, v.task.ConnectionID, d.Now()); err != nil {
			d.Log.ErrorContext(ctx, "give back a lease on a slow connection", "err", err, "connection", v.task.ConnectionID)
		}
	}
	if h.tenant != nil {
		h.tenant.drop(ctx, d, v.task.TenantID)
		h.tenant = nil
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

// hungKnown reports whether this process knows the connection to be hung
// at now (an attempt of its own timed out; see noteHung).
func (l *Limits) hungKnown(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hung[key].After(now)
}

// noteHung marks the connection hung (and slow), an attempt to it having
// got no answer within its time limit: at once in this process, and in
// the store for the others (once per half SlowFor per process). While it
// is hung, a process that saw it answer just now takes leases for it all
// the same: an endpoint that answers some requests at once and hangs on
// others holds workers with those, and every instance sees it answer.
func (d *Dispatcher) noteHung(ctx context.Context, tenantID, connectionID string) {
	l := d.Limits
	if l.Leases == nil || l.InFlight <= 0 {
		return
	}
	key := tenantID + "#" + connectionID
	now := d.Now()
	until := now.Add(connections.SlowFor)
	l.mu.Lock()
	if l.hung == nil || len(l.hung) > 10000 {
		l.hung = map[string]time.Time{}
	}
	if l.slow == nil || len(l.slow) > 10000 {
		l.slow = map[string]time.Time{}
	}
	fresh := l.hung[key].Sub(now) > connections.SlowFor/2
	l.hung[key], l.slow[key] = until, until
	l.mu.Unlock()
	if fresh {
		return
	}
	if err := l.Leases.MarkHung(context.WithoutCancel(ctx), tenantID, connectionID, until); err != nil {
		d.Log.ErrorContext(ctx, "mark connection hung", "err", err, "connection", connectionID)
	}
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
