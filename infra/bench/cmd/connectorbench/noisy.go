package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/queue"
)

// switchable is tenant A's endpoint, one path per connection: it accepts
// and never answers (until the client gives up) while down, and answers
// 200 once up, noting each delivery (its email and path: an update is a
// delivery to each of A's connections).
type switchable struct {
	up        atomic.Bool
	hung      atomic.Int64 // requests hung
	firstHung atomic.Int64 // when the first request hung (unix ms)
	// hanging is the requests hung now, most the most at once.
	hanging, most atomic.Int64

	mu        sync.Mutex
	got       map[string]time.Time // email + " " + path → first arrival
	requests  int
	lastFirst time.Time
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Read the body first: the server notices the client giving up only
	// once it has.
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if s.up.Load() {
		k := connector.JSONField("email")(body) + " " + r.URL.Path
		now := time.Now()
		s.mu.Lock()
		s.requests++
		if _, ok := s.got[k]; !ok {
			s.got[k] = now
			s.lastFirst = now
		}
		s.mu.Unlock()
		return
	}
	s.hung.Add(1)
	s.firstHung.CompareAndSwap(0, time.Now().UnixMilli())
	n := s.hanging.Add(1)
	defer s.hanging.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-t.C:
	}
}

// delivered counts the deliveries of calls' accepted updates that arrived
// (conns paths each), the requests and the last first arrival.
func (s *switchable) delivered(calls []noisyCall, conns int) (n, requests int, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range calls {
		if c.err != nil || c.status != http.StatusOK {
			continue
		}
		for i := range conns {
			if _, ok := s.got[fmt.Sprintf("%s /hook/%d", c.email, i)]; ok {
				n++
			}
		}
	}
	return n, s.requests, s.lastFirst
}

// measureNoisy is scenario 5, the noisy neighbour: tenant B makes
// -noisy-b-rate contact updates per second through the API (each fires a
// delivery to B's healthy endpoint: stream → trigger router → queue →
// dispatcher) for -noisy-duration alone, then again while tenant A makes
// -noisy-a-rate contact updates per second on the same road, each a
// delivery to each of its -noisy-a-connections connections on an endpoint
// that hangs (25 × 20: 500 deliveries a second; each connection is held by
// one batch at a time, and the tenant's slow connections by a few batches
// together, each attempt up to the 10 s time limit, far below A's rate, so
// A's deliveries pile up in the queue as a flood's would), each
// phase after the same -noisy-warmup of B's updates, unmeasured, on a
// dispatcher capped at -noisy-concurrency batches at once (the SQS
// poller's concurrency, as a small stage's reserved concurrency caps it),
// with the stage's default limits (connections.DeliveryLimitsFrom) and,
// as make run wires it, the poller's fair scheduling between tenants
// (-noisy-fair). Then A's endpoint recovers.
// Targets: B's update → attempt p95 with A ≤ 1 s (7) and ≤ 1.5× B alone in
// the same run (8: the lower p95 of B alone before A and again after A's
// deliveries are all delivered); all of A's connections paused within 15 s
// of A's first update, the endpoint hanging from its first request (9:
// paused as the connection API answers it, from the breaker store: its own
// breaker or its host's, whose five failures to answer over any of A's
// connections to the host pause them all; when the first was paused, and
// the first request hung, are in the notes); every delivery of every
// accepted A update delivered after the recovery (10).
func measureNoisy(ctx context.Context, o options, _ *emfCounter, logf func(string, ...any)) ([]connector.Target, error) {
	tP95 := connector.Target{Number: 7, Name: fmt.Sprintf("noisy neighbour: tenant B's contact update (API, %d/s) → attempt p95 while tenant A makes %d contact updates/s (API) to %d connections on a hanging endpoint (%d deliveries/s)",
		o.noisyBRate, o.noisyARate, o.noisyAConns, o.noisyARate*o.noisyAConns), Unit: "ms", Cmp: connector.AtMost, Limit: 1000, Valid: true}
	tRatio := connector.Target{Number: 8, Name: "noisy neighbour: tenant B's update → attempt p95 with A ÷ B alone (same run, same warm-up)", Unit: "× alone",
		Cmp: connector.AtMost, Limit: 1.5, Format: "%.2f", Valid: true}
	tOpen := connector.Target{Number: 9, Name: fmt.Sprintf("noisy neighbour: A's first update (its endpoint hangs from the first request) → all %d of A's connections paused (circuit breaker open: their own or their host's)", o.noisyAConns), Unit: "s",
		Cmp: connector.AtMost, Limit: 15, Format: "%.1f", Valid: true}
	tAll := connector.Target{Number: 10, Name: "noisy neighbour: A's deliveries delivered after its endpoint recovers", Unit: "share",
		Cmp: connector.AtLeast, Limit: 1, Format: "%.4f", Valid: true}
	targets := func() []connector.Target { return []connector.Target{tP95, tRatio, tOpen, tAll} }

	s, err := startStack(ctx, true)
	if err != nil {
		return nil, err
	}
	defer s.close()
	sinkB := &connector.Sink{Key: connector.JSONField("email")}
	srvB := newSink(sinkB)
	defer srvB.Close()
	endA := &switchable{got: map[string]time.Time{}}
	srvA := httptest.NewServer(endA)
	defer func() {
		srvA.CloseClientConnections()
		srvA.Close()
	}()
	api, stopAPI, err := startNoisyAPI(ctx, s)
	if err != nil {
		return nil, err
	}
	defer stopAPI()
	bCalls := int(float64(o.noisyBRate)*3*(o.noisyWarm.Seconds()+o.noisyDur.Seconds())) + o.noisyBRate
	b, err := newTenant(ctx, s, api, o, "noisy neighbour B", bCalls, 1, srvB.URL+"/hook")
	if err != nil {
		return nil, err
	}
	a, err := newTenant(ctx, s, api, o, "noisy neighbour A", int(float64(o.noisyARate)*o.noisyDur.Seconds())+o.noisyARate, o.noisyAConns, srvA.URL+"/hook")
	if err != nil {
		return nil, err
	}

	limits := connections.DeliveryLimitsFrom(s.d.Getenv)
	stages := newBStages(b.tenant)
	onSent := stages.sent
	s.onSent.Store(&onSent)
	disp := s.dispatcher()
	disp.Limits = dispatch.NewLimits(s.store, limits)
	p := &pollers.SQSPoller{Client: s.sqs, QueueURL: s.queues.DeliveriesURL, QueueARN: s.queues.DeliveriesARN,
		BatchSize: 10, Concurrency: o.noisyConc, Handler: stages.handler(disp.Handle), Fair: o.noisyFair, GroupOf: tenantGroup}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()

	// warm runs B's unmeasured warm-up (the same before both phases) and
	// waits for its deliveries.
	warm := func(label string) {
		if o.noisyWarm > 0 {
			settle(pctx, sinkB, stages, b.run(pctx, label, o.noisyBRate, o.noisyWarm), 10*time.Second)
		}
	}

	logf("5: B alone, %d updates/s through the API for %s after a %s warm-up (dispatcher: %d batches at once, fair scheduling %t; limits %+v)",
		o.noisyBRate, o.noisyDur, o.noisyWarm, o.noisyConc, o.noisyFair, limits)
	warm("bwarm1-")
	alone := settle(pctx, sinkB, stages, b.run(pctx, "balone", o.noisyBRate, o.noisyDur), 10*time.Second)
	warm("bwarm2-")

	logf("5: A %d updates/s to %d connections on a hanging endpoint and B %d/s, both through the API, for %s", o.noisyARate, o.noisyAConns, o.noisyBRate, o.noisyDur)
	aStart := time.Now()
	// When each of A's connections was first seen paused (unix ms).
	var openMu sync.Mutex
	opened := map[string]int64{}
	watchCtx, stopWatch := context.WithCancel(pctx)
	defer stopWatch()
	go func() {
		for watchCtx.Err() == nil {
			if brs, err := s.store.Breakers(watchCtx, a.tenant); err == nil {
				now := time.Now().UnixMilli()
				openMu.Lock()
				for id, br := range brs {
					if _, seen := opened[id]; !seen && br.Paused() {
						opened[id] = now
					}
				}
				n := len(opened)
				openMu.Unlock()
				if n == len(a.connIDs) {
					return
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	aDone := make(chan []noisyCall, 1)
	go func() { aDone <- a.run(pctx, "anoisy", o.noisyARate, o.noisyDur) }()
	withA := settle(pctx, sinkB, stages, b.run(pctx, "bwitha", o.noisyBRate, o.noisyDur), 10*time.Second)
	aCalls := <-aDone
	aSent := time.Since(aStart)
	aPhase := settle(pctx, &connector.Sink{}, nil, aCalls, 0)
	aWant := aPhase.Accepted * len(a.connIDs)

	logf("5: A's endpoint recovers; waiting up to %s for A's %d deliveries (%d updates accepted of %d, to %d connections)", o.noisyRecover, aWant, aPhase.Accepted, aPhase.Updates, len(a.connIDs))
	hungBefore, hungMost := endA.hung.Load(), endA.most.Load()
	endA.up.Store(true)
	upAt := time.Now()
	for deadline := upAt.Add(o.noisyRecover); ; time.Sleep(200 * time.Millisecond) {
		if n, _, _ := endA.delivered(aCalls, len(a.connIDs)); n >= aWant || time.Now().After(deadline) {
			break
		}
		if ctx.Err() != nil {
			return targets(), ctx.Err()
		}
	}
	aDelivered, aRequests, aLast := endA.delivered(aCalls, len(a.connIDs))
	aPhase.Arrived = aDelivered // deliveries, not updates
	stopWatch()
	openMu.Lock()
	var firstOpen, allOpen float64
	for _, at := range opened {
		sec := time.UnixMilli(at).Sub(aStart).Seconds()
		if firstOpen == 0 || sec < firstOpen {
			firstOpen = sec
		}
		allOpen = max(allOpen, sec)
	}
	nOpen := len(opened)
	openMu.Unlock()
	// B alone again, once A's backlog is delivered: the ratio's baseline is
	// the better of the two alone phases, so that the machine's other load
	// during one of them cannot flatter it.
	logf("5: B alone again, %d updates/s for %s after the same warm-up", o.noisyBRate, o.noisyDur)
	warm("bwarm3-")
	after := settle(pctx, sinkB, stages, b.run(pctx, "bafter", o.noisyBRate, o.noisyDur), 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		return targets(), err
	}

	tP95.Value = withA.Latency.P95MS
	ratio, why := p95Ratio([]noisyPhase{alone, after}, withA)
	tRatio.Value = ratio
	switch {
	case nOpen == len(a.connIDs):
		tOpen.Value = allOpen
	case nOpen > 0:
		tOpen.Valid, tOpen.Invalid = false, fmt.Sprintf("only %d of A's %d connections paused by the recovery", nOpen, len(a.connIDs))
	default:
		tOpen.Valid, tOpen.Invalid = false, "A's connections never paused"
	}
	if aWant > 0 {
		tAll.Value = float64(aDelivered) / float64(aWant)
	}
	hungAt := "none hung"
	if fh := endA.firstHung.Load(); fh > 0 {
		hungAt = fmt.Sprintf("the first request hung %.1f s after it", time.UnixMilli(fh).Sub(aStart).Seconds())
	}
	openLine := fmt.Sprintf("A's connections paused (own or host breaker open, as the API answers): the first %.1f s after A's first update (%s), %d of %d by the recovery (%.1f s after A's first update)", firstOpen, hungAt, nOpen, len(a.connIDs), upAt.Sub(aStart).Seconds())
	if nOpen == len(a.connIDs) {
		openLine = fmt.Sprintf("A's connections paused (own or host breaker open, as the API answers): the first %.1f s after A's first update (%s), all %d %.1f s after it", firstOpen, hungAt, nOpen, allOpen)
	}
	if why != "" {
		for _, t := range []*connector.Target{&tP95, &tRatio} {
			t.Valid, t.Invalid = false, why
		}
	}
	// A's load must be what the figures claim: its updates made at
	// (nearly) the rate asked and accepted, or the run says nothing about
	// a flood.
	aRate := issuedRate(aCalls)
	if aRate < 0.9*float64(o.noisyARate) || float64(aPhase.Accepted) < 0.95*float64(aPhase.Updates) {
		for _, t := range []*connector.Target{&tP95, &tRatio, &tOpen} {
			if t.Valid {
				t.Valid, t.Invalid = false, fmt.Sprintf("A's load fell short: %d updates made at %.0f/s (%d/s asked), %d accepted",
					aPhase.Updates, aRate, o.noisyARate, aPhase.Accepted)
			}
		}
	}
	notes := []string{
		fmt.Sprintf("A and B: PUT /v1/contact/{id} (a new email each, %d contacts per tenant) through the local gateway → stream (poll interval %s, make run's) → trigger router → queue → dispatcher → the tenant's endpoint; each of B's phases after the same %s warm-up, unmeasured",
			o.noisyContacts, defaultPollInterval, o.noisyWarm),
		phaseLine("alone (before A)", alone),
		phaseLine("alone (after A's recovery)", after),
		phaseLine("with A", withA),
		fmt.Sprintf("A: %d updates made at %.0f/s, %d accepted (the last answered %.1f s after A's start), API call %s, each a delivery to each of A's %d connections; %d requests hung before the endpoint recovered, at most %d at once; dispatcher: %d batches at once, fair scheduling %t, stage limits %+v",
			aPhase.Updates, aRate, aPhase.Accepted, aSent.Seconds(), aPhase.API, len(a.connIDs), hungBefore, hungMost, o.noisyConc, o.noisyFair, limits),
		openLine,
		fmt.Sprintf("A after recovery: %d of %d deliveries delivered (%d requests), the last %.1f s after the endpoint came back",
			aDelivered, aWant, aRequests, aLast.Sub(upAt).Seconds()),
		fmt.Sprintf("B's deliveries handed back by the dispatcher (parked or kept on a fault; a receive each), whole run: %d", stages.handedBack.Load()),
	}
	data := map[string]any{"b_alone": alone, "b_alone_after": after, "b_with_a": withA, "a": aPhase, "a_accepted": aPhase.Accepted,
		"a_connections": len(a.connIDs), "a_deliveries": aWant, "a_delivered": aDelivered, "a_hung_requests": hungBefore, "a_hung_most": hungMost,
		"breaker_open_s": tOpen.Value, "breakers_open": nOpen, "breakers_all_open_s": allOpen, "fair": o.noisyFair, "b_handed_back": stages.handedBack.Load()}
	for _, t := range []*connector.Target{&tP95, &tRatio, &tOpen, &tAll} {
		t.Notes, t.Data = notes, data
	}
	return targets(), nil
}

// tenantGroup is make run's GroupOf for the deliveries queue: the
// MessageGroupId, which the emulator does not keep on a standard queue,
// else the body's tenant.
func tenantGroup(m sqstypes.Message) string {
	if g := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]; g != "" {
		return g
	}
	return aws.ToString(queue.GroupOfBody(aws.ToString(m.Body)))
}

// issuedRate is how many calls a second were started, from the first
// call's start to the last's.
func issuedRate(calls []noisyCall) float64 {
	if len(calls) < 2 {
		return 0
	}
	first, last := calls[0].start, calls[0].start
	for _, c := range calls {
		if c.start.Before(first) {
			first = c.start
		}
		if c.start.After(last) {
			last = c.start
		}
	}
	span := last.Sub(first).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(len(calls)-1) / span
}
