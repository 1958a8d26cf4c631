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

// noisyPhase is what one phase measured of tenant B.
type noisyPhase struct {
	Queued  int               `json:"queued"`
	Arrived int               `json:"arrived"`
	Latency connector.Latency `json:"queued_to_attempt"`
}

// measureNoisy is scenario 5, the noisy neighbour: tenant B queues
// -noisy-b-rate deliveries per second to a healthy sink for
// -noisy-duration alone, then again while tenant A queues -noisy-a-rate
// per second to an endpoint that hangs, on a dispatcher capped at
// -noisy-concurrency batches at once (the SQS poller's concurrency, as a
// small stage's reserved concurrency caps it), with the stage's default
// limits (connections.DeliveryLimitsFrom). Then A's endpoint recovers.
// Targets: B's queued → attempt p95 with A ≤ 1 s (7) and ≤ 1.5× B alone in
// the same run (8); A's breaker open within 15 s of A's first delivery
// (9); every A delivery delivered after the recovery (10).
func measureNoisy(ctx context.Context, o options, _ *emfCounter, logf func(string, ...any)) ([]connector.Target, error) {
	tP95 := connector.Target{Number: 7, Name: fmt.Sprintf("noisy neighbour: tenant B (%d/s) queued → attempt p95 while tenant A sends %d/s to a hanging endpoint",
		o.noisyBRate, o.noisyARate), Unit: "ms", Cmp: connector.AtMost, Limit: 1000, Valid: true}
	tRatio := connector.Target{Number: 8, Name: "noisy neighbour: tenant B's p95 with A ÷ B alone (same run)", Unit: "× alone",
		Cmp: connector.AtMost, Limit: 1.5, Format: "%.2f", Valid: true}
	tOpen := connector.Target{Number: 9, Name: "noisy neighbour: A's first delivery → A's circuit breaker open", Unit: "s",
		Cmp: connector.AtMost, Limit: 15, Format: "%.1f", Valid: true}
	tAll := connector.Target{Number: 10, Name: "noisy neighbour: A's deliveries delivered after its endpoint recovers", Unit: "share",
		Cmp: connector.AtLeast, Limit: 1, Format: "%.4f", Valid: true}
	targets := func() []connector.Target { return []connector.Target{tP95, tRatio, tOpen, tAll} }

	s, err := startStack(ctx, false)
	if err != nil {
		return nil, err
	}
	defer s.close()
	sinkB := &connector.Sink{}
	srvB := newSink(sinkB)
	defer srvB.Close()
	endA := &switchable{}
	srvA := httptest.NewServer(endA)
	defer func() {
		srvA.CloseClientConnections()
		srvA.Close()
	}()
	connB, err := s.connection(ctx, noisyTenantB, benchChannel, "conn_noisyb", srvB.URL+"/hook", connections.TriggerEmail)
	if err != nil {
		return nil, err
	}
	connA, err := s.connection(ctx, noisyTenantA, benchChannel, "conn_noisya", srvA.URL+"/hook", connections.TriggerEmail)
	if err != nil {
		return nil, err
	}

	limits := connections.DeliveryLimitsFrom(s.d.Getenv)
	disp := s.dispatcher()
	disp.Limits = dispatch.NewLimits(s.store, limits)
	p := &pollers.SQSPoller{Client: s.sqs, QueueURL: s.queues.DeliveriesURL, QueueARN: s.queues.DeliveriesARN,
		BatchSize: 10, Concurrency: o.noisyConc, Handler: disp.Handle}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()

	var (
		mu     sync.Mutex
		queued = map[string]time.Time{}
		errs   []error
	)
	// produce queues n deliveries a second, in batches of at most 10, for
	// d; it returns the deliveries queued.
	produce := func(conn connections.Connection, label string, rate int, d time.Duration, record bool) []connections.Delivery {
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
			at := time.Now()
			if err := router.Enqueue(pctx, s.sqs, s.queues.DeliveriesURL, b); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return out
			}
			out = append(out, b...)
			if record {
				mu.Lock()
				for _, x := range b {
					queued[x.ID] = at
				}
				mu.Unlock()
			}
		}
		return out
	}
	phase := func(ds []connections.Delivery) noisyPhase {
		// Give the last ones a moment to arrive.
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := 0
			for _, x := range ds {
				if _, ok := sinkB.Arrived(x.ID); ok {
					n++
				}
			}
			if n == len(ds) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		var lat []time.Duration
		mu.Lock()
		defer mu.Unlock()
		for _, x := range ds {
			if at, ok := sinkB.Arrived(x.ID); ok {
				lat = append(lat, at.Sub(queued[x.ID]))
			}
		}
		return noisyPhase{Queued: len(ds), Arrived: len(lat), Latency: connector.Summarise(lat)}
	}

	logf("5: B alone, %d/s for %s (dispatcher: %d batches at once; limits %+v)", o.noisyBRate, o.noisyDur, o.noisyConc, limits)
	alone := phase(produce(connB, "balone", o.noisyBRate, o.noisyDur, true))

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
			ds := produce(connA, fmt.Sprintf("anoisy%d-", k), o.noisyARate/nA, o.noisyDur, false)
			mu.Lock()
			aDel = append(aDel, ds...)
			mu.Unlock()
		})
	}
	withA := phase(produce(connB, "bwitha", o.noisyBRate, o.noisyDur, true))
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
	cancel()
	if err := <-done; err != nil {
		return targets(), err
	}

	tP95.Value = withA.Latency.P95MS
	if alone.Latency.P95MS > 0 {
		tRatio.Value = withA.Latency.P95MS / alone.Latency.P95MS
	}
	if at := opened.Load(); at > 0 {
		tOpen.Value = time.UnixMilli(at).Sub(aStart).Seconds()
	} else {
		tOpen.Valid, tOpen.Invalid = false, "A's breaker never opened"
	}
	if len(aDel) > 0 {
		tAll.Value = float64(aDistinct) / float64(len(aDel))
	}
	for _, t := range []*connector.Target{&tP95, &tRatio} {
		if withA.Arrived < withA.Queued || alone.Arrived < alone.Queued {
			t.Valid, t.Invalid = false, fmt.Sprintf("B deliveries missing: %d of %d alone, %d of %d with A", alone.Arrived, alone.Queued, withA.Arrived, withA.Queued)
		}
	}
	notes := []string{
		fmt.Sprintf("B alone: %d queued, %s", alone.Queued, alone.Latency),
		fmt.Sprintf("B with A: %d queued, %s", withA.Queued, withA.Latency),
		fmt.Sprintf("A: %d queued in %.1f s (%.0f/s); %d requests hung before the breaker held them back; dispatcher: %d batches at once, stage limits %d deliveries/s per tenant, %d in flight per connection",
			len(aDel), aSent.Seconds(), float64(len(aDel))/aSent.Seconds(), hungBefore, o.noisyConc, limits.RatePerTenant, limits.InFlightPerConnection),
	}
	if aDistinct > 0 {
		notes = append(notes, fmt.Sprintf("A after recovery: %d of %d delivered (%d requests), the last %.1f s after the endpoint came back",
			aDistinct, len(aDel), aRequests, aLast.Sub(upAt).Seconds()))
	}
	data := map[string]any{"b_alone": alone, "b_with_a": withA, "a_queued": len(aDel), "a_delivered": aDistinct,
		"a_hung_requests": hungBefore, "breaker_open_s": tOpen.Value}
	for _, t := range []*connector.Target{&tP95, &tRatio, &tOpen, &tAll} {
		t.Notes, t.Data = notes, data
	}
	return targets(), nil
}
