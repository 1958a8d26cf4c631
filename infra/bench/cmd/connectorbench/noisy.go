package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

// switchable is tenant A's endpoint: it accepts and never answers (until
// the client gives up) while down, and answers 200 once up, noting each
// delivery in its sink.
type switchable struct {
	up   atomic.Bool
	sink connector.Sink
	hung atomic.Int64
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.up.Load() {
		s.sink.ServeHTTP(w, r)
		return
	}
	s.hung.Add(1)
	// Read the body first: the server notices the client giving up only
	// once it has.
	_, _ = io.Copy(io.Discard, r.Body)
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-t.C:
	}
}

// measureNoisy is scenario 5, the noisy neighbour: tenant B makes
// -noisy-b-rate contact updates per second through the API (each fires a
// delivery to B's healthy endpoint: stream → trigger router → queue →
// dispatcher) for -noisy-duration alone, then again while tenant A makes
// -noisy-a-rate contact updates per second on the same road to an endpoint
// that hangs (the endpoint is held by one batch at a time, its attempts
// to it at most InFlightPerConnection, each up to the 10 s time limit: at
// most one a second, far below A's rate, so A's deliveries pile up in the
// queue as a flood's would), each
// phase after the same -noisy-warmup of B's updates, unmeasured, on a
// dispatcher capped at -noisy-concurrency batches at once (the SQS
// poller's concurrency, as a small stage's reserved concurrency caps it),
// with the stage's default limits (connections.DeliveryLimitsFrom) and,
// as make run wires it, the poller's fair scheduling between tenants
// (-noisy-fair). Then A's endpoint recovers.
// Targets: B's update → attempt p95 with A ≤ 1 s (7) and ≤ 1.5× B alone in
// the same run (8: the lower p95 of B alone before A and again after A's
// deliveries are all delivered); A's breaker open within 15 s of A's first
// update (9); every accepted A update delivered after the recovery (10).
func measureNoisy(ctx context.Context, o options, _ *emfCounter, logf func(string, ...any)) ([]connector.Target, error) {
	tP95 := connector.Target{Number: 7, Name: fmt.Sprintf("noisy neighbour: tenant B's contact update (API, %d/s) → attempt p95 while tenant A makes %d contact updates/s (API, one delivery each) to a hanging endpoint",
		o.noisyBRate, o.noisyARate), Unit: "ms", Cmp: connector.AtMost, Limit: 1000, Valid: true}
	tRatio := connector.Target{Number: 8, Name: "noisy neighbour: tenant B's update → attempt p95 with A ÷ B alone (same run, same warm-up)", Unit: "× alone",
		Cmp: connector.AtMost, Limit: 1.5, Format: "%.2f", Valid: true}
	tOpen := connector.Target{Number: 9, Name: "noisy neighbour: A's first update → A's circuit breaker open", Unit: "s",
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
	endA := &switchable{sink: connector.Sink{Key: connector.JSONField("email")}}
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
	b, err := newTenant(ctx, s, api, o, "noisy neighbour B", bCalls, srvB.URL+"/hook")
	if err != nil {
		return nil, err
	}
	a, err := newTenant(ctx, s, api, o, "noisy neighbour A", int(float64(o.noisyARate)*o.noisyDur.Seconds())+o.noisyARate, srvA.URL+"/hook")
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

	logf("5: A %d updates/s to a hanging endpoint and B %d/s, both through the API, for %s", o.noisyARate, o.noisyBRate, o.noisyDur)
	aStart := time.Now()
	var opened atomic.Int64 // unix ms, 0 until seen
	watchCtx, stopWatch := context.WithCancel(pctx)
	defer stopWatch()
	go func() {
		for watchCtx.Err() == nil {
			if br, err := s.store.Breaker(watchCtx, a.tenant, a.connID); err == nil && br.Open() {
				opened.Store(time.Now().UnixMilli())
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	aDone := make(chan []noisyCall, 1)
	go func() { aDone <- a.run(pctx, "anoisy", o.noisyARate, o.noisyDur) }()
	withA := settle(pctx, sinkB, stages, b.run(pctx, "bwitha", o.noisyBRate, o.noisyDur), 10*time.Second)
	aCalls := <-aDone
	aSent := time.Since(aStart)
	aPhase := settle(pctx, &endA.sink, nil, aCalls, 0)

	logf("5: A's endpoint recovers; waiting up to %s for A's %d deliveries (%d updates accepted of %d)", o.noisyRecover, aPhase.Accepted, aPhase.Accepted, aPhase.Updates)
	hungBefore := endA.hung.Load()
	endA.up.Store(true)
	upAt := time.Now()
	select {
	case <-endA.sink.Reached(aPhase.Accepted):
	case <-time.After(o.noisyRecover):
	case <-ctx.Done():
		return targets(), ctx.Err()
	}
	_, aRequests, aLast := endA.sink.Counts()
	aPhase = settle(pctx, &endA.sink, nil, aCalls, 0)
	stopWatch()
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
	if at := opened.Load(); at > 0 {
		tOpen.Value = time.UnixMilli(at).Sub(aStart).Seconds()
	} else {
		tOpen.Valid, tOpen.Invalid = false, "A's breaker never opened"
	}
	if aPhase.Accepted > 0 {
		tAll.Value = float64(aPhase.Arrived) / float64(aPhase.Accepted)
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
		fmt.Sprintf("A: %d updates made at %.0f/s, %d accepted (the last answered %.1f s after A's start), API call %s; %d requests hung before the breaker held them back; dispatcher: %d batches at once, fair scheduling %t, stage limits %d deliveries/s per tenant, %d in flight per connection, one batch at a time holding a slow one",
			aPhase.Updates, aRate, aPhase.Accepted, aSent.Seconds(), aPhase.API, hungBefore, o.noisyConc, o.noisyFair, limits.RatePerTenant, limits.InFlightPerConnection),
		fmt.Sprintf("A after recovery: %d of %d delivered (%d requests), the last %.1f s after the endpoint came back",
			aPhase.Arrived, aPhase.Accepted, aRequests, aLast.Sub(upAt).Seconds()),
		fmt.Sprintf("B's deliveries handed back by the dispatcher (parked or kept on a fault; a receive each), whole run: %d", stages.handedBack.Load()),
	}
	data := map[string]any{"b_alone": alone, "b_alone_after": after, "b_with_a": withA, "a": aPhase, "a_accepted": aPhase.Accepted, "a_delivered": aPhase.Arrived,
		"a_hung_requests": hungBefore, "breaker_open_s": tOpen.Value, "fair": o.noisyFair, "b_handed_back": stages.handedBack.Load()}
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
