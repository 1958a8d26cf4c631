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

	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/router"
)

// Scenario 5's tenants.
const (
	noisyTenantA = "ten_noisya"
	noisyTenantB = "ten_noisyb"
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
// dispatcher) for -noisy-duration alone, then again while tenant A queues
// -noisy-a-rate deliveries per second to an endpoint that hangs (straight
// into the deliveries queue: that many API calls a second are beyond the
// 2-core machines the benchmark runs on), each phase after the same
// -noisy-warmup of B's updates, unmeasured, on a dispatcher capped at
// -noisy-concurrency batches at once (the SQS poller's concurrency, as a
// small stage's reserved concurrency caps it), with the stage's default
// limits (connections.DeliveryLimitsFrom). Then A's endpoint recovers.
// Targets: B's update → attempt p95 with A ≤ 1 s (7) and ≤ 1.5× B alone in
// the same run (8: the lower p95 of B alone before A and again after A's
// deliveries are all delivered); A's breaker open within 15 s of A's first delivery
// (9); every A delivery delivered after the recovery (10).
func measureNoisy(ctx context.Context, o options, _ *emfCounter, logf func(string, ...any)) ([]connector.Target, error) {
	tP95 := connector.Target{Number: 7, Name: fmt.Sprintf("noisy neighbour: tenant B's contact update (API, %d/s) → attempt p95 while tenant A sends %d deliveries/s (queued directly) to a hanging endpoint",
		o.noisyBRate, o.noisyARate), Unit: "ms", Cmp: connector.AtMost, Limit: 1000, Valid: true}
	tRatio := connector.Target{Number: 8, Name: "noisy neighbour: tenant B's update → attempt p95 with A ÷ B alone (same run, same warm-up)", Unit: "× alone",
		Cmp: connector.AtMost, Limit: 1.5, Format: "%.2f", Valid: true}
	tOpen := connector.Target{Number: 9, Name: "noisy neighbour: A's first delivery → A's circuit breaker open", Unit: "s",
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
	endA := &switchable{}
	srvA := httptest.NewServer(endA)
	defer func() {
		srvA.CloseClientConnections()
		srvA.Close()
	}()
	bCalls := int(float64(o.noisyBRate)*3*(o.noisyWarm.Seconds()+o.noisyDur.Seconds())) + o.noisyBRate
	b, stopB, err := startNoisyAPI(ctx, s, o, bCalls, srvB.URL+"/hook")
	if err != nil {
		return nil, err
	}
	defer stopB()
	connA, err := s.connection(ctx, noisyTenantA, benchChannel, "conn_noisya", srvA.URL+"/hook", connections.TriggerEmail)
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
		BatchSize: 10, Concurrency: o.noisyConc, Handler: stages.handler(disp.Handle)}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()

	var (
		mu   sync.Mutex
		errs []error
	)
	// produce queues n deliveries a second, in batches of at most 10, for
	// d; it returns the deliveries queued.
	produce := func(conn connections.Connection, label string, rate int, d time.Duration) []connections.Delivery {
		per := max(1, min(10, rate/20)) // 20 sends a second at most
		all := sampleDeliveries(conn, int(float64(rate)*d.Seconds()), label)
		tick := time.NewTicker(time.Duration(float64(time.Second) * float64(per) / float64(rate)))
		defer tick.Stop()
		var out []connections.Delivery
		for i := 0; i < len(all); i += per {
			select {
			case <-pctx.Done():
				return out
			case <-tick.C:
			}
			b := all[i:min(i+per, len(all))]
			if err := router.Enqueue(pctx, s.sqs, s.queues.DeliveriesURL, b); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return out
			}
			out = append(out, b...)
		}
		return out
	}
	// warm runs B's unmeasured warm-up (the same before both phases) and
	// waits for its deliveries.
	warm := func(label string) {
		if o.noisyWarm > 0 {
			settle(pctx, sinkB, stages, b.run(pctx, label, o.noisyBRate, o.noisyWarm), 10*time.Second)
		}
	}

	logf("5: B alone, %d updates/s through the API for %s after a %s warm-up (dispatcher: %d batches at once; limits %+v)",
		o.noisyBRate, o.noisyDur, o.noisyWarm, o.noisyConc, limits)
	warm("bwarm1-")
	alone := settle(pctx, sinkB, stages, b.run(pctx, "balone", o.noisyBRate, o.noisyDur), 10*time.Second)
	warm("bwarm2-")

	logf("5: A %d/s to a hanging endpoint and B %d/s, for %s", o.noisyARate, o.noisyBRate, o.noisyDur)
	aStart := time.Now()
	var opened atomic.Int64 // unix ms, 0 until seen
	watchCtx, stopWatch := context.WithCancel(pctx)
	defer stopWatch()
	go func() {
		for watchCtx.Err() == nil {
			if b, err := s.store.Breaker(watchCtx, connA.TenantID, connA.ID); err == nil && b.Open() {
				opened.Store(time.Now().UnixMilli())
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	// A's deliveries come from several producers (100/s each), so that
	// the time a SendMessageBatch takes does not bring A below its rate.
	var aDel []connections.Delivery
	var wg sync.WaitGroup
	nA := (o.noisyARate + 99) / 100
	for k := range nA {
		wg.Go(func() {
			ds := produce(connA, fmt.Sprintf("anoisy%d-", k), o.noisyARate/nA, o.noisyDur)
			mu.Lock()
			aDel = append(aDel, ds...)
			mu.Unlock()
		})
	}
	withA := settle(pctx, sinkB, stages, b.run(pctx, "bwitha", o.noisyBRate, o.noisyDur), 10*time.Second)
	wg.Wait()
	aSent := time.Since(aStart)
	mu.Lock()
	if len(errs) > 0 {
		mu.Unlock()
		return targets(), fmt.Errorf("queue deliveries: %w", errs[0])
	}
	mu.Unlock()

	logf("5: A's endpoint recovers; waiting up to %s for A's %d deliveries", o.noisyRecover, len(aDel))
	hungBefore := endA.hung.Load()
	endA.up.Store(true)
	upAt := time.Now()
	select {
	case <-endA.sink.Reached(len(aDel)):
	case <-time.After(o.noisyRecover):
	case <-ctx.Done():
		return targets(), ctx.Err()
	}
	aDistinct, aRequests, aLast := endA.sink.Counts()
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
	if len(aDel) > 0 {
		tAll.Value = float64(aDistinct) / float64(len(aDel))
	}
	if why != "" {
		for _, t := range []*connector.Target{&tP95, &tRatio} {
			t.Valid, t.Invalid = false, why
		}
	}
	notes := []string{
		fmt.Sprintf("B: PUT /v1/contact/{id} (a new email each, %d contacts) through the local gateway → stream (poll interval %s, make run's) → trigger router → queue → dispatcher → B's endpoint; each phase after the same %s warm-up, unmeasured",
			o.noisyContacts, defaultPollInterval, o.noisyWarm),
		phaseLine("alone (before A)", alone),
		phaseLine("alone (after A's recovery)", after),
		phaseLine("with A", withA),
		fmt.Sprintf("A: %d queued straight into the deliveries queue (not through the API) in %.1f s (%.0f/s); %d requests hung before the breaker held them back; dispatcher: %d batches at once, stage limits %d deliveries/s per tenant, %d in flight per connection",
			len(aDel), aSent.Seconds(), float64(len(aDel))/aSent.Seconds(), hungBefore, o.noisyConc, limits.RatePerTenant, limits.InFlightPerConnection),
	}
	if aDistinct > 0 {
		notes = append(notes, fmt.Sprintf("A after recovery: %d of %d delivered (%d requests), the last %.1f s after the endpoint came back",
			aDistinct, len(aDel), aRequests, aLast.Sub(upAt).Seconds()))
	}
	data := map[string]any{"b_alone": alone, "b_alone_after": after, "b_with_a": withA, "a_queued": len(aDel), "a_delivered": aDistinct,
		"a_hung_requests": hungBefore, "breaker_open_s": tOpen.Value}
	for _, t := range []*connector.Target{&tP95, &tRatio, &tOpen, &tAll} {
		t.Notes, t.Data = notes, data
	}
	return targets(), nil
}
