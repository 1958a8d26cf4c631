package dispatch

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/queue"
)

// Limits keep one tenant's or one endpoint's trouble from taking the
// dispatcher from everyone else. Before a batch's attempts are made, each
// delivery passes three gates; one that does not pass is parked: queued
// again as a new message with the attempt count it had, delayed until it
// may pass (so it spends none of its attempts, and a long wait does not
// bring it near the queue's redrive limit, which counts receives):
//
//   - the connection's circuit breaker (connections.Breaker, shared by
//     every instance through the store): while it is open the delivery is
//     parked until the next probe; at that time exactly one delivery, the
//     one whose dispatcher claims the probe, is sent. The same holds for
//     the breaker of the connection's endpoint host (for the tenant:
//     connections.HostBreaker, hostbreak.go), whose probe is one delivery
//     of any of the tenant's connections to the host;
//   - the tenant's delivery rate (RatePerTenant deliveries per second,
//     across instances): a delivery takes the next send time of its tenant
//     and, when that is more than Burst away, is parked until then, holding
//     that time (Task.RateSlot). Send times are reserved in the store; a
//     process whose last reservation for a tenant started at once (the
//     tenant is under its rate) reserves ahead, beyond its batch's own, up
//     to rateAheadBatches batches' worth and at most RateAhead of the
//     tenant's rate, and hands them to its next batches for RateAhead:
//     one reservation for several batches. A send time is thus used at
//     most RateAhead after it (a delivery waiting for an in-flight slot
//     already was sent late), and over any window the tenant's deliveries
//     stay within its rate × (the window + Burst + RateAhead);
//   - attempts in flight to the connection in this process (at most
//     InFlight): over it a delivery waits up to slotWait for a slot, then
//     is parked for an attempt's time limit; it is parked at once when the
//     connection is already failing or every slot is held by an attempt
//     running longer than slotWait; and the batches holding attempts to a
//     connection that does not answer quickly (at most SlowWorkers, see
//     acquire): what a hanging endpoint takes is workers, one per batch
//     with an attempt to it, however few its attempts. In Lambda a process
//     handles one batch at a time, so across instances it is the breaker
//     that holds a hanging endpoint back (each instance makes at most one
//     batch of attempts to it before five failures open the breaker), and
//     once an attempt to a connection was slow, the batches holding it are
//     counted across instances too (lease.go).
//
// The results of attempts feed the breaker (noteResult). A nil *Limits
// lets everything through (dispatch.New; Build sets them).
type Limits struct {
	Breakers connections.BreakerStore      // nil: no breaker
	Hosts    connections.HostBreakerStore  // nil: no host breaker (needs Breakers)
	Rates    connections.DeliveryRateStore // nil: no rate limit
	// Leases count the batches holding attempts to a slow connection
	// across instances (lease.go); nil: the cap holds per process only.
	Leases connections.InFlightStore
	// Rate is the most deliveries per second per tenant (0: no limit).
	Rate int
	// InFlight is the most attempts in flight per connection (0: no limit).
	InFlight int
	// SlowWorkers is the most batches (workers: in Lambda, instances)
	// that hold attempts to one slow connection at once, in a process and
	// across instances (default 1; see lease.go). Needs InFlight.
	SlowWorkers int
	// TenantSlowWorkers is the most batches that hold attempts to any of
	// one tenant's slow connections at once, across instances (default
	// connections.DefaultTenantSlowWorkers; see lease.go): a tenant with
	// many hanging connections holds no more workers than that. Needs
	// InFlight and Leases.
	TenantSlowWorkers int
	// Burst: a send time up to this far ahead counts as now (default 1 s).
	Burst time.Duration
	// CacheFor is how long a breaker read is reused (default 1 s).
	CacheFor time.Duration
	// SlowCheckFor is how long a read of a breaker that lets deliveries
	// go unleased (not open, not marked slow) is reused for them (default
	// 100 ms): an attempt is sent on a read at most this old, so an
	// instance sees another's slow mark (lease.go) before its next send.
	SlowCheckFor time.Duration
	// ProbeWait parks the deliveries that came for a probe another
	// dispatcher claimed (default probeWait).
	ProbeWait time.Duration
	// RateAhead is how long send times reserved ahead are kept, and the
	// most of the tenant's rate reserved ahead (default 100 ms; negative:
	// none).
	RateAhead time.Duration

	mu       sync.Mutex
	inflight map[string]*slots
	answered map[string]answer // by connection: the last attempt that ended within SlowAttempt
	freed    chan struct{}     // closed when a slot is released
	cache    map[string]cachedBreaker
	slow     map[string]time.Time // connections this process saw slow, until
	hung     map[string]time.Time // connections this process saw time out, until
	stocks   map[string]*rateStock
	hosts    map[string]connections.HostBreaker // tenant#host: the host breakers this process last saw failing
}

// rateAheadBatches bounds the send times reserved ahead: this many batches
// of the size of the one reserving.
const rateAheadBatches = 8

// rateStock is a tenant's send times this process reserved ahead and has
// not handed out: next, next+every, … before end, reserved at at.
type rateStock struct {
	mu        sync.Mutex // held while an ahead reservation is under way
	every     time.Duration
	next, end time.Time
	at        time.Time
	// idle: the last reservation started when asked (the tenant's
	// earlier send times were not all taken); only then, and not on a
	// tenant's first, are send times reserved ahead.
	idle bool
}

type cachedBreaker struct {
	b  connections.Breaker
	at time.Time
}

// Waits of parked deliveries.
const (
	// probeWait parks the deliveries that came for a probe another
	// dispatcher claimed: long enough for the probe's answer (its time
	// limit and a margin), so that they come back to a decided breaker.
	probeWait = delivery.AttemptTimeout + 5*time.Second
	// slotWait is how long a delivery waits for an in-flight slot of a
	// connection that is not failing before it is parked.
	slotWait = 250 * time.Millisecond
	// inFlightPark parks a delivery over the in-flight cap: by then the
	// attempts that held the slots have ended, one way or the other.
	inFlightPark = delivery.AttemptTimeout
	// answeredFor is how long an attempt that ended within SlowAttempt
	// shows its connection answering (see acquire).
	answeredFor = connections.SlowFor
	// hungAfter: an attempt that has run this long with no attempt to its
	// connection ended since it started shows the connection hung (see
	// acquire): long enough that a loaded machine's healthy endpoint
	// does not look hung, short against an attempt's time limit.
	hungAfter = time.Second
	// parkInPlace: a message received fewer times than this (half the
	// queue's redrive limit) is parked by hiding it.
	parkInPlace = queue.MaxReceiveCount / 2
)

// visibilityBatcher is the SQS client's ChangeMessageVisibilityBatch.
type visibilityBatcher interface {
	ChangeMessageVisibilityBatch(context.Context, *sqs.ChangeMessageVisibilityBatchInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// hideParked hides the messages parked in place, ten to a call when the
// queue client can, else one by one; a message whose change failed comes
// back after the queue's visibility timeout, to be parked again.
func (d *Dispatcher) hideParked(ctx context.Context, ms []events.SQSMessage, outs []outcome) {
	var entries []sqstypes.ChangeMessageVisibilityBatchRequestEntry
	for i, o := range outs {
		if o.hide > 0 && !o.done {
			entries = append(entries, sqstypes.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)),
				ReceiptHandle: aws.String(ms[i].ReceiptHandle), VisibilityTimeout: int32((o.hide + time.Second - 1) / time.Second)})
		}
	}
	vb, ok := d.Queue.(visibilityBatcher)
	for start := 0; start < len(entries); start += 10 {
		chunk := entries[start:min(start+10, len(entries))]
		if ok {
			out, err := vb.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(d.QueueURL), Entries: chunk})
			if err == nil {
				for _, f := range out.Failed {
					d.Log.ErrorContext(ctx, "park", "code", aws.ToString(f.Code), "message", aws.ToString(f.Message))
				}
				continue
			}
			d.Log.ErrorContext(ctx, "park", "err", err, "messages", len(chunk))
		}
		for _, e := range chunk {
			i, _ := strconv.Atoi(aws.ToString(e.Id))
			d.hide(ctx, ms[i], outs[i].hide)
		}
	}
}

// NewLimits builds the limits on store (the parts of it that are a
// connections.BreakerStore and a connections.DeliveryRateStore) with a
// stage's values.
func NewLimits(store any, l connections.DeliveryLimits) *Limits {
	lim := &Limits{Rate: l.RatePerTenant, InFlight: l.InFlightPerConnection,
		SlowWorkers: l.SlowWorkersPerConnection, TenantSlowWorkers: l.SlowWorkersPerTenant}
	lim.Breakers, _ = store.(connections.BreakerStore)
	lim.Hosts, _ = store.(connections.HostBreakerStore)
	lim.Rates, _ = store.(connections.DeliveryRateStore)
	lim.Leases, _ = store.(connections.InFlightStore)
	return lim
}

func (l *Limits) burst() time.Duration     { return cmpOr(l.Burst, time.Second) }
func (l *Limits) rateAhead() time.Duration { return cmpOr(l.RateAhead, 100*time.Millisecond) }
func (l *Limits) cacheFor() time.Duration  { return cmpOr(l.CacheFor, time.Second) }
func (l *Limits) slowCheckFor() time.Duration {
	return min(cmpOr(l.SlowCheckFor, 100*time.Millisecond), l.cacheFor())
}

func (l *Limits) slowWorkers() int {
	if l.SlowWorkers > 0 {
		return l.SlowWorkers
	}
	return 1
}

func (l *Limits) tenantSlowWorkers() int {
	if l.TenantSlowWorkers > 0 {
		return l.TenantSlowWorkers
	}
	return connections.DefaultTenantSlowWorkers
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// verdict is what the gates decided for one message of a batch.
type verdict struct {
	guarded bool // a delivery the gates apply to
	task    connections.Task
	key     string // tenant#connection
	park    time.Duration
	// probe is the breaker state the probe was claimed on, when this
	// delivery is the probe.
	probe *connections.Breaker
	// hostProbe is the host breaker's state the host's probe was claimed
	// on, when this delivery is that probe.
	hostProbe *hostProbe
	failing   bool // the connection's breaker counts failures
	slow      bool // the connection's breaker marks it slow (lease.go)
	hung      bool // the connection's breaker marks it hung (lease.go)
	// read is when the breaker state the verdict rests on was read.
	read time.Time
	// slotTaken is the rate slot this batch reserved for it (0: none): a
	// parked delivery must carry it in its body.
	slotTaken int64
}

// gates is a batch's verdicts, by message index (nil: no limits).
type gates []verdict

type probeKey struct{}

// admit passes a batch's messages through the breaker and rate gates (the
// in-flight gate is passed by each when it starts: see guarded).
func (d *Dispatcher) admit(ctx context.Context, ps []parsed) gates {
	l := d.Limits
	if l == nil {
		return nil
	}
	now := d.Now()
	vs := make(gates, len(ps))
	type ids struct{ tenant, conn string }
	conns := map[string]ids{}
	for i, p := range ps {
		t := p.task
		if !p.ok {
			continue // handleMessage drops it
		}
		if t.LogOnly {
			continue // nothing is sent
		}
		if t.NotBefore > 0 && time.UnixMilli(t.NotBefore).Sub(now) >= time.Second {
			continue // handleMessage hides it until it is due
		}
		k := t.TenantID + "#" + t.ConnectionID
		vs[i] = verdict{guarded: true, task: t, key: k}
		conns[k] = ids{t.TenantID, t.ConnectionID}
	}
	if l.Breakers != nil {
		states := make(map[string]connections.Breaker, len(conns))
		read := make(map[string]time.Time, len(conns))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for k, c := range conns {
			if b, at, ok := l.cached(k, now); ok && (b.Paused() || b.Slow(now) || now.Sub(at) < l.slowCheckFor()) {
				// A read that would let deliveries go unleased is
				// reused for SlowCheckFor only (see lease). The reads
				// started above write these maps meanwhile.
				mu.Lock()
				states[k], read[k] = b, at
				mu.Unlock()
				continue
			}
			wg.Go(func() {
				b, err := l.Breakers.Breaker(ctx, c.tenant, c.conn)
				if err != nil {
					// The breaker cannot be read: deliveries go as if it
					// were closed (the attempts themselves are the test).
					d.Log.ErrorContext(ctx, "read breaker", "err", err, "connection", c.conn)
				} else if b.Host != "" && !b.HostOpen() && l.Hosts != nil {
					// A mark left by a host breaker that closed meanwhile.
					if err := l.Hosts.UnparkFromHost(ctx, c.tenant, c.conn, b.Host); err != nil {
						d.Log.ErrorContext(ctx, "unpark from host", "err", err, "connection", c.conn)
					}
					b.Host = ""
				}
				mu.Lock()
				defer mu.Unlock()
				// Read or not, it was checked now: a breaker that cannot
				// be read is not read again for each delivery.
				read[k] = now
				if err != nil {
					return
				}
				l.remember(k, b, now)
				states[k] = b
			})
		}
		wg.Wait()
		claimed := map[string]bool{}
		for i := range vs {
			v := &vs[i]
			b := states[v.key]
			v.slow = v.guarded && b.Slow(now)
			v.hung = v.guarded && b.Hung(now)
			v.read = read[v.key]
			if v.guarded && b.HostOpen() {
				d.hostGate(ctx, v, b, now, claimed)
				continue
			}
			if !v.guarded || (b.Failures == 0 && !b.Open()) {
				continue
			}
			v.failing = true
			if !b.Open() {
				continue
			}
			if due := time.UnixMilli(b.NextProbe).Sub(now); due > 0 {
				// Back just after the probe is due: the first to come
				// claims it.
				v.park = due + d.spread(2*time.Second)
				continue
			}
			if !claimed[v.key] {
				claimed[v.key] = true
				c := conns[v.key]
				ok, err := l.Breakers.ClaimProbe(ctx, c.tenant, c.conn, b, now)
				if err != nil {
					d.Log.ErrorContext(ctx, "claim probe", "err", err, "connection", c.conn)
				}
				l.forget(v.key)
				if ok {
					v.probe = &b
					continue
				}
			}
			v.park = cmpOr(l.ProbeWait, probeWait) + d.spread(5*time.Second)
		}
	}
	if l.Rate > 0 && l.Rates != nil {
		d.reserve(ctx, vs, now)
	}
	return vs
}

// reserve takes send times of each tenant's rate for the deliveries of the
// batch that are to be sent and hold none, in one reservation per tenant,
// and parks those whose time is more than Burst away until it.
func (d *Dispatcher) reserve(ctx context.Context, vs gates, now time.Time) {
	l := d.Limits
	byTenant := map[string][]int{}
	for i, v := range vs {
		if v.guarded && v.park == 0 && v.probe == nil && v.hostProbe == nil && v.task.RateSlot == 0 {
			byTenant[v.task.TenantID] = append(byTenant[v.task.TenantID], i)
		}
	}
	every := time.Second / time.Duration(l.Rate)
	var wg sync.WaitGroup
	for tenant, idx := range byTenant {
		wg.Go(func() {
			first, err := l.takeSlots(ctx, tenant, len(idx), every, now)
			if err != nil {
				// Unlimited for this batch rather than stuck.
				d.Log.ErrorContext(ctx, "reserve delivery rate", "err", err, "tenant", tenant)
				return
			}
			for k, i := range idx {
				slot := time.UnixMilli(first).Add(time.Duration(k) * every)
				vs[i].task.RateSlot = max(slot.UnixMilli(), 1)
				vs[i].slotTaken = vs[i].task.RateSlot
				if wait := slot.Sub(now); wait > l.burst() {
					vs[i].park = wait
				}
			}
		})
	}
	wg.Wait()
}

// takeSlots returns the first of n send times of a tenant, every apart:
// from the send times reserved ahead when they hold n and are fresh, else
// from a reservation in the store (see Limits).
func (l *Limits) takeSlots(ctx context.Context, tenant string, n int, every time.Duration, now time.Time) (int64, error) {
	l.mu.Lock()
	if l.stocks == nil || len(l.stocks) > 10000 {
		l.stocks = map[string]*rateStock{}
	}
	s := l.stocks[tenant]
	if s == nil {
		s = &rateStock{}
		l.stocks[tenant] = s
	}
	l.mu.Unlock()
	span := time.Duration(n) * every
	s.mu.Lock()
	// A batch's now may be a little before the stock's: concurrent batches
	// read the clock before they queue for s.mu, and the one first to take
	// it made the stock. Its send times, all at or after the stock's now,
	// serve such a batch as well.
	if s.every == every && now.Sub(s.at).Abs() < l.rateAhead() && !s.next.Add(span).After(s.end) {
		first := s.next
		s.next = first.Add(span)
		s.mu.Unlock()
		return first.UnixMilli(), nil
	}
	ahead := 0
	if s.idle && l.RateAhead >= 0 {
		if ahead = min(rateAheadBatches*n, int(l.rateAhead()/every)); ahead < n {
			ahead = 0
		}
	}
	if ahead == 0 {
		// Nothing ahead: concurrent batches' reservations are made
		// together by the store, not one after another here.
		s.mu.Unlock()
	}
	firstMS, err := l.Rates.ReserveDeliveries(ctx, tenant, n+ahead, every, now)
	if ahead == 0 {
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	first := time.UnixMilli(firstMS)
	s.idle = !first.After(now)
	if ahead > 0 {
		s.every, s.at, s.next, s.end = every, now, first.Add(span), first.Add(time.Duration(n+ahead)*every)
	}
	return firstMS, nil
}

// guarded makes message i's attempt (handleMessage) if its gates let it,
// or parks it.
func (d *Dispatcher) guarded(ctx context.Context, g gates, b *batchHold, i int, m events.SQSMessage, p parsed, conns *batchConns) outcome {
	if g == nil || !g[i].guarded {
		return d.handleMessage(ctx, conns, m, p)
	}
	v := g[i]
	switch {
	case v.park > 0:
		return d.park(ctx, m, v, v.park)
	case v.probe != nil:
		o := d.handleMessage(context.WithValue(ctx, probeKey{}, v.probe), conns, m, p)
		if !o.attempted {
			// No attempt was made (the connection is off or gone, or the
			// store failed): nothing would ever probe it, so it closes and
			// the parked deliveries take their own course.
			d.closeBreaker(ctx, v.task.TenantID, v.task.ConnectionID)
		}
		return o
	case v.hostProbe != nil:
		// The host's probe, sent as a connection's is. When no attempt is
		// made (the connection is off or gone, or the store failed), the
		// next probe is due one interval on, from any of the host's
		// connections.
		return d.handleMessage(context.WithValue(ctx, hostProbeKey{}, v.hostProbe), conns, m, p)
	}
	hung := v.hung || d.Limits.hungKnown(v.key, d.Now())
	release, wait, answers := d.Limits.acquire(ctx, v.key, b, v.failing, hung || v.slow || d.Limits.slowKnown(v.key, d.Now()), hung)
	if wait > 0 {
		return d.park(ctx, m, v, wait+d.spread(wait/5))
	}
	attempted := false
	defer func() { release(attempted) }()
	h, ok := d.lease(ctx, v, b, answers == answeringNow)
	if !ok {
		// Held by another batch: until its attempts end, or, when the
		// connection answers, for a moment.
		wait := inFlightPark
		if answers != unanswered {
			wait = connections.SlowAttempt
		}
		return d.park(ctx, m, v, wait+d.spread(wait/5))
	}
	// An attempt still running after SlowAttempt marks its connection slow
	// then, not when it ends (a hanging endpoint's end is 10 s away); its
	// batch, holding no lease on the connection, then takes one in the
	// store until its last attempt to it ends (lease.go).
	slow := time.AfterFunc(connections.SlowAttempt, func() {
		d.noteSlow(ctx, v)
		h.late(ctx, d, b, v)
	})
	defer func() {
		slow.Stop()
		h.end(ctx, d, v)
	}()
	o := d.handleMessage(ctx, conns, m, p)
	attempted = o.attempted
	return o
}

// park parks a delivery for wait (see Limits). A message received fewer
// than parkInPlace times that holds no new rate slot stays where it is,
// hidden for wait (ChangeMessageVisibilityBatch, one call for the batch,
// nothing sent again); any other is queued again as it is, delayed by
// wait, which starts its receive count afresh: parked through a long
// outage, a delivery never reaches the queue's redrive limit.
func (d *Dispatcher) park(ctx context.Context, m events.SQSMessage, v verdict, wait time.Duration) outcome {
	t := v.task
	wait = min(wait, connections.MaxDelay)
	receives, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	if receives < parkInPlace && wait <= MaxSendDelay && v.slotTaken == 0 {
		d.Log.DebugContext(ctx, "delivery parked", "tenant", t.TenantID, "connection", t.ConnectionID, "webhook_id", t.ID, "wait", wait)
		return outcome{hide: wait}
	}
	t.NotBefore = 0
	if wait > MaxSendDelay {
		t.NotBefore = d.Now().Add(wait).UnixMilli()
	}
	d.Log.DebugContext(ctx, "delivery parked", "tenant", t.TenantID, "connection", t.ConnectionID, "webhook_id", t.ID, "wait", wait)
	return outcome{retry: &t, wait: wait}
}

// spread is a random wait in [0, d), so parked deliveries do not all come
// back at one instant.
func (d *Dispatcher) spread(w time.Duration) time.Duration {
	return time.Duration((d.Jitter() + 1) / 2 * float64(w))
}

// slots are one connection's attempts in flight in this process.
type slots struct {
	running  []*running // the attempts in flight
	released time.Time  // when one last ended
}

// running is an attempt in flight: when it started, and its batch.
type running struct {
	start time.Time
	batch *batchHold
}

// stuck reports whether the connection's slots are all held by attempts
// that have run longer than slotWait, none having ended for as long: the
// endpoint is slow, and waiting for a slot would only hold the batch up.
func (s *slots) stuck(now time.Time) bool {
	if now.Sub(s.released) < slotWait {
		return false
	}
	for _, r := range s.running {
		if now.Sub(r.start) < slotWait {
			return false
		}
	}
	return true
}

// holders is how many batches other than b have attempts in flight, and
// whether b has.
func (s *slots) holders(b *batchHold) (others int, holds bool) {
	var seen []*batchHold
	for _, r := range s.running {
		switch {
		case r.batch == b:
			holds = true
		case !slices.Contains(seen, r.batch):
			seen = append(seen, r.batch)
		}
	}
	return len(seen), holds
}

// longest reports whether an attempt in flight has run d or longer.
func (s *slots) longest(now time.Time, d time.Duration) bool {
	for _, r := range s.running {
		if now.Sub(r.start) >= d {
			return true
		}
	}
	return false
}

// hung reports whether an attempt in flight has run hungAfter or longer
// though it started after the last answer (since): the endpoint answers
// none of the attempts made since.
func (s *slots) hung(now, since time.Time) bool {
	for _, r := range s.running {
		if now.Sub(r.start) >= hungAfter && !r.start.Before(since) {
			return true
		}
	}
	return false
}

// answer is an attempt that ended within SlowAttempt: when, and how long
// it took.
type answer struct {
	at   time.Time
	took time.Duration
}

// answerState is what a process knows of a connection's answers.
type answerState int

const (
	unanswered     answerState = iota // no answer lately, or hung since
	answeredLately                    // an answer within answeredFor, none hung since
	answeringNow                      // an answer under hungAfter, less than hungAfter ago, none in flight as long
)

// acquire takes an in-flight slot of the connection for an attempt of
// batch b, or says how long to park the delivery (wait > 0); release
// gives the slot back, told whether an attempt was made. Two caps
// hold in the process:
//
//   - InFlight attempts: when all are taken it waits up to slotWait for
//     one, unless the connection is failing or its slots are stuck (then it
//     gives up at once);
//   - SlowWorkers batches, on what a hanging endpoint takes (a worker for
//     the attempt's time limit, however few of its attempts the batch
//     holds): a batch that has no attempt to the connection in flight
//     joins those that have when they are fewer than SlowWorkers, or when
//     the connection answers (an attempt to it ended within SlowAttempt in
//     the last answeredFor, and none of those made since has run
//     hungAfter) and is not known slow, or answers now though it is
//     marked slow (an attempt to it took less than hungAfter and ended
//     less than hungAfter ago, and none in flight has run hungAfter:
//     answeringNow, and the batch needs no lease in the store
//     either; a healthy endpoint marked slow by one late answer is not
//     held to one batch for the mark's minute, and an endpoint that hangs
//     answers nothing after its mark, which comes 2 s after its first
//     hung attempt started). Else a connection known slow that does not
//     answer parks the delivery at once for an attempt's time limit; one
//     known slow that answers, or hung (an attempt made since its last
//     answer has run hungAfter), at once for SlowAttempt (by then it is
//     marked slow, or answers now); one not proven either way (no answer
//     yet, its attempts young) waits up to slotWait for an answer, then
//     is parked for SlowAttempt too.
//
// A connection that timed out lately (timedOut: marked hung, see noteHung)
// is never answeringNow: it may hang on the next request whatever it
// answered just now.
//
// A healthy connection's batches thus go at once, as many as the process
// runs; a slow one holds at most SlowWorkers of them.
func (l *Limits) acquire(ctx context.Context, key string, b *batchHold, failing, slow, timedOut bool) (release func(attempted bool), wait time.Duration, answers answerState) {
	if l.InFlight <= 0 {
		return func(bool) {}, 0, unanswered
	}
	deadline := time.Now().Add(slotWait)
	l.mu.Lock()
	if l.inflight == nil {
		l.inflight = map[string]*slots{}
	}
	if l.answered == nil || len(l.answered) > 10000 {
		l.answered = map[string]answer{}
	}
	s := l.inflight[key]
	if s == nil {
		s = &slots{}
		l.inflight[key] = s
	}
	for {
		now := time.Now()
		full := len(s.running) >= l.InFlight
		others, holds := s.holders(b)
		last, ok := l.answered[key]
		hung := s.hung(now, last.at)
		answered := ok && now.Sub(last.at) < answeredFor && !hung
		answering := !timedOut && answered && now.Sub(last.at) < hungAfter && last.took < hungAfter && !s.longest(now, hungAfter)
		switch {
		case answering:
			answers = answeringNow
		case answered:
			answers = answeredLately
		default:
			answers = unanswered
		}
		over := !holds && others >= l.slowWorkers() && !answering && (slow || !answered)
		if !full && !over {
			break
		}
		left := time.Until(deadline)
		switch {
		case failing || (full && s.stuck(now)) || (over && slow && !answered):
			l.mu.Unlock()
			return nil, inFlightPark, unanswered
		case over && (slow || hung), left <= 0 && over && !full:
			l.mu.Unlock()
			return nil, connections.SlowAttempt, unanswered
		case left <= 0:
			l.mu.Unlock()
			return nil, inFlightPark, unanswered
		}
		if l.freed == nil {
			l.freed = make(chan struct{})
		}
		freed := l.freed
		l.mu.Unlock()
		t := time.NewTimer(left)
		select {
		case <-freed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, inFlightPark, unanswered
		}
		t.Stop()
		l.mu.Lock()
		if s = l.inflight[key]; s == nil {
			s = &slots{}
			l.inflight[key] = s
		}
	}
	r := &running{start: time.Now(), batch: b}
	s.running = append(s.running, r)
	l.mu.Unlock()
	return func(attempted bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		end := time.Now()
		if i := slices.Index(s.running, r); i >= 0 {
			s.running = slices.Delete(s.running, i, i+1)
		}
		s.released = end
		switch took := end.Sub(r.start); {
		case !attempted: // parked, or nothing to send: says nothing of the endpoint
		case took < connections.SlowAttempt:
			l.answered[key] = answer{at: end, took: took}
		case l.answered[key].at.Before(r.start):
			delete(l.answered, key)
		}
		if len(s.running) == 0 && l.inflight[key] == s {
			delete(l.inflight, key)
		}
		if l.freed != nil {
			close(l.freed)
			l.freed = nil
		}
	}, 0, answers
}

// cached is a breaker read less than CacheFor ago, and when it was read.
func (l *Limits) cached(key string, now time.Time) (connections.Breaker, time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.cache[key]
	if !ok || now.Sub(c.at) >= l.cacheFor() || now.Before(c.at) {
		return connections.Breaker{}, time.Time{}, false
	}
	return c.b, c.at, true
}

func (l *Limits) remember(key string, b connections.Breaker, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cache == nil {
		l.cache = map[string]cachedBreaker{}
	}
	if len(l.cache) > 10000 {
		clear(l.cache)
	}
	l.cache[key] = cachedBreaker{b: b, at: now}
}

func (l *Limits) forget(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.cache, key)
}

// noteResult feeds an attempt's result to the connection's breaker: a
// failure of the endpoint (delivery.Retryable: a timeout, a network or TLS
// error, 408, 429, 5xx) counts, any other answer closes it. An attempt the
// SSRF guard stopped or that could not be signed says nothing about the
// endpoint. A probe's failure doubles the wait for the next one.
func (d *Dispatcher) noteResult(ctx context.Context, conn connections.Connection, res delivery.Result, now time.Time) {
	l := d.Limits
	if l != nil && res.Outcome == connections.OutcomeTimeout {
		d.noteHung(ctx, conn.TenantID, conn.ID)
	}
	if l == nil || l.Breakers == nil || res.Outcome == connections.OutcomeBlocked || res.Outcome == connections.OutcomeSigning {
		return
	}
	if d.noteHostResult(ctx, conn, res) {
		return // the host's probe: it says nothing of the connection alone
	}
	key := conn.TenantID + "#" + conn.ID
	failed := delivery.Retryable(res)
	if seen, ok := ctx.Value(probeKey{}).(*connections.Breaker); ok {
		if !failed {
			d.closeBreaker(ctx, conn.TenantID, conn.ID)
			return
		}
		b, err := l.Breakers.ProbeFailed(ctx, conn.TenantID, conn.ID, *seen, d.Now())
		if err != nil {
			d.Log.ErrorContext(ctx, "probe failed", "err", err, "connection", conn.ID)
			return
		}
		l.remember(key, l.onKnownHost(conn, b), now)
		d.Log.WarnContext(ctx, "connection paused: probe failed", "tenant", conn.TenantID, "connection", conn.ID,
			"next_probe", time.UnixMilli(b.NextProbe).UTC().Format(time.RFC3339))
		return
	}
	if !failed {
		if l.knownFailing(key) {
			d.closeBreaker(ctx, conn.TenantID, conn.ID)
		}
		return
	}
	// The failure is known now, not when the attempt started.
	now = d.Now()
	b, err := l.Breakers.BreakerFailed(ctx, conn.TenantID, conn.ID, now)
	if err != nil {
		d.Log.ErrorContext(ctx, "count failure", "err", err, "connection", conn.ID)
		return
	}
	if b.Open() && b.OpenSince == now.UnixMilli() {
		d.Log.WarnContext(ctx, "connection paused: endpoint failing", "tenant", conn.TenantID, "connection", conn.ID,
			"failures", b.Failures, "next_probe", time.UnixMilli(b.NextProbe).UTC().Format(time.RFC3339))
	}
	l.remember(key, l.onKnownHost(conn, b), now)
}

// knownFailing reports whether the last breaker read of the connection,
// however old, showed failures.
func (l *Limits) knownFailing(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.cache[key]
	return ok && (c.b.Failures > 0 || c.b.Open())
}

// closeBreaker closes a connection's breaker.
func (d *Dispatcher) closeBreaker(ctx context.Context, tenantID, connectionID string) {
	l := d.Limits
	if err := l.Breakers.CloseBreaker(ctx, tenantID, connectionID); err != nil {
		d.Log.ErrorContext(ctx, "close breaker", "err", err, "connection", connectionID)
		return
	}
	// The store keeps a hung mark through the closing (see
	// connections.Breaker.HungUntil): so does the process's copy.
	key, now := tenantID+"#"+connectionID, d.Now()
	l.mu.Lock()
	prev := l.cache[key].b
	l.mu.Unlock()
	closed := connections.Breaker{}
	if prev.Hung(now) {
		closed.SlowUntil, closed.HungUntil = prev.SlowUntil, prev.HungUntil
	}
	l.remember(key, closed, now)
}
