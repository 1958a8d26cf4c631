package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/router"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// Target 1's limit: deliveries per second through the dispatcher.
const minThroughput = 1000

// Target 4's limit: the dispatcher's throughput as a share of the SQS
// ceiling loop's (the same path without DynamoDB).
const minCeilingRatio = 0.60

// stallTimeout ends a drain in which no delivery arrived for this long.
const stallTimeout = 15 * time.Second

const (
	benchTenant  = "ten_connectorbench"
	benchChannel = "ch_connectorbench"
)

// sampleDeliveries are n deliveries for conn, with a payload of the size
// and shape the router builds for a contact (connections.Payload).
func sampleDeliveries(conn connections.Connection, n int, label string) []connections.Delivery {
	out := make([]connections.Delivery, n)
	now := time.Now().Unix()
	for i := range out {
		c := contacts.Contact{
			ID: fmt.Sprintf("%s%07d", label, i), TenantID: conn.TenantID, ChannelID: conn.ChannelID,
			Fields: map[string]string{"firstName": "Ayesha", "lastName": "Khan", "email": fmt.Sprintf("%s%07d@bench.example", label, i),
				"phone": "+923244077087"},
			Tags: []string{"lead", "bench"}, CreatedAt: now, UpdatedAt: now,
		}
		out[i] = connections.Delivery{
			ID:       router.DeliveryID(label+strconv.Itoa(i), conn.ID, connections.TriggerEmail),
			TenantID: conn.TenantID, ConnectionID: conn.ID, Trigger: connections.TriggerEmail,
			Payload:   connections.Payload(c, connections.Channel{ID: conn.ChannelID, Name: "Bench page"}, nil, nil),
			CreatedAt: now,
		}
	}
	return out
}

// enqueue sends ds with router.Enqueue (batches of ten), workers calls at
// a time, and returns how long it took.
func enqueue(ctx context.Context, s *stack, ds []connections.Delivery, workers int) (time.Duration, error) {
	t0 := time.Now()
	chunks := make(chan []connections.Delivery)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range chunks {
				if err := router.Enqueue(ctx, s.sqs, s.queues.DeliveriesURL, c); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	go func() {
		defer close(chunks)
		for i := 0; i < len(ds); i += 100 {
			select {
			case chunks <- ds[i:min(i+100, len(ds))]:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return time.Since(t0), ctx.Err()
}

// throughputRun is one measured drain of the queue.
type throughputRun struct {
	Deliveries   int                 `json:"deliveries"`
	Delivered    int                 `json:"delivered"`
	FirstQuarter float64             `json:"first_quarter_per_s"`
	LastQuarter  float64             `json:"last_quarter_per_s"`
	Concurrency  int                 `json:"poller_concurrency"`
	EnqueueS     float64             `json:"enqueue_s"`
	ElapsedS     float64             `json:"first_receive_to_last_2xx_s"`
	PerSec       float64             `json:"deliveries_per_s"`
	FirstHandleS float64             `json:"first_handle_after_start_s"`
	Batches      int                 `json:"batches"`
	MeanBatch    float64             `json:"mean_batch_size"`
	Handle       connector.Latency   `json:"handle_duration"`
	SinkRequests int                 `json:"sink_requests"`
	Received     int                 `json:"messages_received"`
	Handled      int                 `json:"messages_handled"`
	EMFLines     int                 `json:"emf_lines"`
	LeftVisible  string              `json:"left_visible"`
	LeftInFlight string              `json:"left_in_flight"`
	Calls        []connector.OpStats `json:"sdk_calls"`
	CPU          connector.CPUReport `json:"cpu"`
}

// measureThroughput is target 1: N deliveries queued with router.Enqueue,
// drained by SQSPoller (Concurrency pollers, batches of 10) into the real
// dispatcher (ddbstore.Connections, delivery client) and delivered to a
// keep-alive sink that answers 200 at once. The baselines each run on a
// fresh stack.
func measureThroughput(ctx context.Context, o options, emf *emfCounter, logf func(string, ...any)) ([]connector.Target, error) {
	t := connector.Target{Number: 1, Name: "dispatcher throughput, SQS → dispatcher → local sink", Unit: "deliveries/s",
		Cmp: connector.AtLeast, Limit: minThroughput, Valid: true}
	inflight := o.concurrency * 10

	// The ceiling loop runs just before and just after each run of the
	// dispatcher (-rounds of them, alternating), so that each ratio
	// compares runs made under the same load; the round whose ratio is the
	// median is reported (the machines this runs on are shared: one
	// round's ratio swings with the other load).
	logf("1: ceiling loop (before): SQSPoller (concurrency %d, batch 10) → sign + POST → sink → delete, no DynamoDB", o.concurrency)
	ceil0, err := labelled(ctx, "ceiling", func(ctx context.Context) (throughputRun, error) { return ceilingLoop(ctx, o, emf, "ceil0") })
	if err != nil {
		return nil, fmt.Errorf("ceiling loop: %w", err)
	}
	ceils := []throughputRun{ceil0}
	var runs []throughputRun
	for k := 1; k <= o.rounds; k++ {
		logf("1: round %d of %d: %d deliveries: router.Enqueue, then SQSPoller (concurrency %d, batch 10) → dispatcher → sink", k, o.rounds, o.n, o.concurrency)
		run, err := labelled(ctx, "dispatcher", func(ctx context.Context) (throughputRun, error) { return sqsPath(ctx, o, emf) })
		if err != nil {
			return nil, err
		}
		logf("1: round %d: dispatcher %s deliveries/s; ceiling loop (after)", k, connector.Num(run.PerSec))
		label := "ceil" + strconv.Itoa(k)
		c, err := labelled(ctx, "ceiling", func(ctx context.Context) (throughputRun, error) { return ceilingLoop(ctx, o, emf, label) })
		if err != nil {
			return nil, fmt.Errorf("ceiling loop: %w", err)
		}
		runs, ceils = append(runs, run), append(ceils, c)
	}
	m := medianRound(runs, ceils)
	run, before, after := runs[m], ceils[m], ceils[m+1]
	t.Value = run.PerSec
	if run.Delivered < o.n {
		t.Valid, t.Invalid = false, fmt.Sprintf("only %d of %d deliveries reached the sink (waited until %s, or %s without progress)",
			run.Delivered, o.n, o.drainTimeout, stallTimeout)
	}
	ratio := ceilingTarget(o, run, before, after)
	ratio.Notes = append(ratio.Notes, roundsNote(runs, ceils, m))
	var rr []float64
	for k := range runs {
		rr = append(rr, roundRatio(runs, ceils, k))
	}
	if d, ok := ratio.Data.(map[string]any); ok {
		d["round_ratios"] = rr
	}
	for k := range runs {
		if runs[k].Delivered < o.n || ceils[k].Delivered < o.n || ceils[k+1].Delivered < o.n {
			ratio.Valid, ratio.Invalid = false, fmt.Sprintf("round %d: a run delivered less than %d", k+1, o.n)
		}
	}

	logf("1: baseline: delivery client alone → sink, %d in flight", inflight)
	ceiling, err := sinkCeiling(ctx, o, inflight)
	if err != nil {
		return nil, fmt.Errorf("sink ceiling: %w", err)
	}
	var (
		direct, ddb float64
		ddbCalls    []connector.OpStats
	)
	if o.direct {
		logf("1: baseline: the dispatcher's DynamoDB calls alone, %d batches at a time, on a fresh stack", o.concurrency)
		if ddb, ddbCalls, err = ddbCeiling(ctx, o, o.concurrency); err != nil {
			return nil, fmt.Errorf("DynamoDB ceiling: %w", err)
		}
		logf("1: context: dispatcher.Handle without SQS on a fresh stack")
		if direct, err = handleOnly(ctx, o); err != nil {
			return nil, fmt.Errorf("handle without SQS: %w", err)
		}
	}

	t.Notes = append(t.Notes,
		fmt.Sprintf("%d deliveries, %d SQSPoller goroutines × batches of 10 (≤ %d attempts in flight), one connection, sink = httptest server answering 200 at once",
			o.n, o.concurrency, inflight),
		fmt.Sprintf("first ReceiveMessage → last first-time 2xx at the sink: %s (first Handle after %.0f ms); rate over the first quarter of deliveries %s/s, over the last quarter %s/s",
			secs(time.Duration(run.ElapsedS*float64(time.Second))), run.FirstHandleS*1000, connector.Num(run.FirstQuarter), connector.Num(run.LastQuarter)),
		fmt.Sprintf("baseline, SQS ceiling loop (the same pollers and sink, receive → sign + POST → delete, no DynamoDB): %s deliveries/s before, %s after (dispatcher path = %.2f× their mean)",
			connector.Num(before.PerSec), connector.Num(after.PerSec), ratio.Value),
		fmt.Sprintf("baseline, delivery client alone → a sink, %d in flight, no SQS/DynamoDB: %s deliveries/s (dispatcher path = %.2f× of it)",
			inflight, connector.Num(ceiling), run.PerSec/ceiling),
	)
	if o.direct {
		t.Notes = append(t.Notes,
			fmt.Sprintf("baseline, the dispatcher's DynamoDB calls alone (per batch of 10, via ddbstore.Connections: one PutItem of one packed item holding the 10 attempts; the tenant's rate reservation (UpdateItem) once per %d batches, as the dispatcher reserves ahead; GetItem of the connection and of its breaker once per %s; %d batches at a time, fresh dynoxide): %s deliveries/s (dispatcher path = %.2f× of it)",
				rateAheadEvery, dispatch.ConnCacheTTL,
				o.concurrency, connector.Num(ddb), run.PerSec/ddb),
			"  "+strings.ReplaceAll(callLines(ddbCalls, 2), "\n", "\n  "),
			fmt.Sprintf("context, dispatcher.Handle on in-memory batches of 10 (%d at once, real DynamoDB, no SQS receive/delete, fresh dynoxide): %s deliveries/s",
				o.concurrency, connector.Num(direct)),
		)
	}
	t.Notes = append(t.Notes,
		fmt.Sprintf("enqueue: %d deliveries with router.Enqueue (SendMessageBatch of 10, 8 callers) in %.2f s = %s/s",
			o.n, run.EnqueueS, connector.Num(float64(o.n)/run.EnqueueS)),
		fmt.Sprintf("batches handled %d (mean %.1f messages), Handle duration %s", run.Batches, run.MeanBatch, run.Handle),
		fmt.Sprintf("messages returned by ReceiveMessage %d, handed to Handle %d; sink requests %d for %d deliveries; EMF metric lines written to stdout %d; left in queue: %s visible, %s in flight",
			run.Received, run.Handled, run.SinkRequests, o.n, run.EMFLines, run.LeftVisible, run.LeftInFlight),
		run.CPU.String(),
		"SDK calls during the drain (one SDK client for every poller goroutine, as make run shares d.DDB):\n"+callLines(run.Calls, 8),
	)
	t.Data = map[string]any{"sqs_path": run, "sink_only_per_s": ceiling, "ddb_only_per_s": ddb, "ddb_only_calls": ddbCalls,
		"handle_without_sqs_per_s": direct, "sqs_ceiling_before": before, "sqs_ceiling_after": after}
	return []connector.Target{t, ratio}, nil
}

// roundRatio is round k's dispatcher rate ÷ the mean of the ceiling loops
// around it.
func roundRatio(runs, ceils []throughputRun, k int) float64 {
	mean := (ceils[k].PerSec + ceils[k+1].PerSec) / 2
	if mean <= 0 {
		return 0
	}
	return runs[k].PerSec / mean
}

// medianRound is the round whose ratio is the median (the upper of the two
// middle ones for an even count).
func medianRound(runs, ceils []throughputRun) int {
	idx := make([]int, len(runs))
	for k := range idx {
		idx[k] = k
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(roundRatio(runs, ceils, a), roundRatio(runs, ceils, b)) })
	return idx[len(idx)/2]
}

// roundsNote lists every round's figures.
func roundsNote(runs, ceils []throughputRun, m int) string {
	var parts []string
	for k := range runs {
		parts = append(parts, fmt.Sprintf("round %d: %s ÷ mean(%s, %s) = %.2f", k+1, connector.Num(runs[k].PerSec),
			connector.Num(ceils[k].PerSec), connector.Num(ceils[k+1].PerSec), roundRatio(runs, ceils, k)))
	}
	return fmt.Sprintf("%d rounds (ceiling loop, then dispatcher and ceiling loop alternating; the median round, %d, is reported above and in target 1): %s",
		len(runs), m+1, strings.Join(parts, "; "))
}

// labelled runs f with the pprof label run=name on its goroutine and every
// goroutine it starts (pollers, handlers, the SDK's and the sink's
// connections), so that a -cpuprofile splits by run:
// go tool pprof -tagfocus run=dispatcher.
func labelled(ctx context.Context, name string, f func(context.Context) (throughputRun, error)) (throughputRun, error) {
	var run throughputRun
	var err error
	pprof.Do(ctx, pprof.Labels("run", name), func(ctx context.Context) { run, err = f(ctx) })
	return run, err
}

// ceilingTarget is target 4: the dispatcher path's rate as a share of the
// mean of the ceiling loops run just before and after it.
func ceilingTarget(o options, run, before, after throughputRun) connector.Target {
	t := connector.Target{Number: 4, Name: "dispatcher throughput ÷ SQS ceiling loop (same pollers and sink, no DynamoDB)", Unit: "× ceiling",
		Cmp: connector.AtLeast, Limit: minCeilingRatio, Format: "%.2f", Valid: true}
	mean := (before.PerSec + after.PerSec) / 2
	if mean > 0 {
		t.Value = run.PerSec / mean
	}
	for _, r := range []struct {
		what string
		run  throughputRun
	}{{"the dispatcher path", run}, {"the ceiling loop before it", before}, {"the ceiling loop after it", after}} {
		if r.run.Delivered < o.n && t.Valid {
			t.Valid, t.Invalid = false, fmt.Sprintf("%s delivered %d of %d", r.what, r.run.Delivered, o.n)
		}
	}
	t.Notes = []string{
		fmt.Sprintf("baseline, SQS ceiling loop: %s deliveries/s (mean of %s before and %s after the dispatcher's run; %d SQSPoller goroutines × batches of 10, each message signed and POSTed to a keep-alive sink answering 200, then deleted; no DynamoDB)",
			connector.Num(mean), connector.Num(before.PerSec), connector.Num(after.PerSec), o.concurrency),
		fmt.Sprintf("dispatcher path %s deliveries/s = %.2f× the ceiling; the dispatcher is wired as dispatch.Build wires it, limits included (tenant rate %s/s, far above the run's, so that its gate makes its calls without holding a delivery back; in-flight cap 10 per poller goroutine, as each Lambda instance has its own); what it adds per batch of 10: one PutItem of one packed activity item (the 10 attempts, gzipped JSON, and their webhook IDs; a BatchWriteItem when failed attempts add their pointer items), the process's buffered hourly counters (an UpdateItem per connection and hour at most once a second per process, a second, conditional, when the largest duration rises), an UpdateItem reserving the tenant's send times for up to 9 batches at a time (reserved ahead while the tenant is under its rate, kept 100 ms), and one GetItem of the connection and one of its breaker per %s per process: %.2f DynamoDB calls per batch in this run (%s)",
			connector.Num(run.PerSec), t.Value, connector.Num(throughputRate), dispatch.ConnCacheTTL, ddbPerBatch(run), ddbCallCounts(run)),
		fmt.Sprintf("ceiling loop CPU, after: %s", after.CPU.String()),
	}
	if d, b, a := cpuPerDelivery(run, o.n), cpuPerDelivery(before, o.n), cpuPerDelivery(after, o.n); d > 0 && b > 0 && a > 0 {
		t.Notes = append(t.Notes, fmt.Sprintf("context, CPU per delivery of the benchmark's processes (this one, dynoxide, fauxqs; on a shared machine the rates follow it): dispatcher path %.3f ms, ceiling loop %.3f ms before and %.3f ms after (ceiling ÷ dispatcher = %.2f)",
			d, b, a, (a+b)/2/d))
	}
	t.Data = map[string]any{"dispatcher_per_s": run.PerSec, "ceiling_before_per_s": before.PerSec, "ceiling_after_per_s": after.PerSec, "ceiling_mean_per_s": mean,
		"ddb_calls_per_batch": ddbPerBatch(run)}
	return t
}

// ddbPerBatch is the DynamoDB calls of a run per batch handled.
func ddbPerBatch(r throughputRun) float64 {
	n := 0
	for _, c := range r.Calls {
		if strings.HasPrefix(c.Op, "DynamoDB ") {
			n += c.Count
		}
	}
	if r.Batches == 0 {
		return 0
	}
	return float64(n) / float64(r.Batches)
}

// ddbCallCounts lists a run's DynamoDB calls by operation.
func ddbCallCounts(r throughputRun) string {
	var parts []string
	for _, c := range r.Calls {
		if op, ok := strings.CutPrefix(c.Op, "DynamoDB "); ok {
			parts = append(parts, fmt.Sprintf("%s %d", op, c.Count))
		}
	}
	return fmt.Sprintf("%s for %d batches", strings.Join(parts, ", "), r.Batches)
}

// cpuPerDelivery is the CPU the benchmark's processes used in a run, per
// delivery, in ms (0 when not measured).
func cpuPerDelivery(r throughputRun, n int) float64 {
	total := 0.0
	for _, u := range r.CPU.Ours {
		total += u.CPUS
	}
	if n == 0 {
		return 0
	}
	return total * 1000 / float64(n)
}

// ceilingLoop is the dispatcher's ceiling on this machine: the SQS path of
// target 1 on a fresh stack (the same queue, poller settings and sink),
// with a handler that only signs each message's payload and POSTs it with
// the dispatcher's delivery client, no DynamoDB; the poller deletes what
// it returns.
func ceilingLoop(ctx context.Context, o options, emf *emfCounter, label string) (throughputRun, error) {
	s, err := startStack(ctx, false)
	if err != nil {
		return throughputRun{}, err
	}
	defer s.close()
	sink := &connector.Sink{}
	srv := newSink(sink)
	defer srv.Close()
	conn := connections.Connection{ID: "conn_ceiling", TenantID: benchTenant, ChannelID: benchChannel,
		Secrets: []connections.Secret{{Value: webhook.NewSecret()}}}
	ds := sampleDeliveries(conn, o.n, label)
	enq, err := enqueue(ctx, s, ds, 8)
	if err != nil {
		return throughputRun{}, fmt.Errorf("enqueue: %w", err)
	}
	client := newDeliveryClient(s.d)
	url := srv.URL + "/hook"
	loop := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var (
			mu   sync.Mutex
			resp events.SQSEventResponse
			wg   sync.WaitGroup
		)
		for _, m := range ev.Records {
			wg.Go(func() {
				var del connections.Delivery
				ok := json.Unmarshal([]byte(m.Body), &del) == nil
				if ok {
					now := time.Now()
					sig, err := webhook.Sign(conn.Signing(now), del.ID, now, del.Payload)
					ok = err == nil && client.Send(ctx, url, webhook.Headers(del.ID, now, sig), del.Payload).Outcome == connections.OutcomeSuccess
				}
				if !ok {
					mu.Lock()
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return resp, nil
	}
	run, err := drain(ctx, s, sink, o, emf, loop)
	run.EnqueueS = enq.Seconds()
	return run, err
}

// sqsPath runs the SQS path once on a fresh stack.
func sqsPath(ctx context.Context, o options, emf *emfCounter) (throughputRun, error) {
	s, err := startStack(ctx, false)
	if err != nil {
		return throughputRun{}, err
	}
	defer s.close()
	sink := &connector.Sink{}
	srv := newSink(sink)
	defer srv.Close()
	conn, err := s.connection(ctx, benchTenant, benchChannel, "conn_sink", srv.URL+"/hook", connections.TriggerEmail)
	if err != nil {
		return throughputRun{}, err
	}
	ds := sampleDeliveries(conn, o.n, "tp")
	enq, err := enqueue(ctx, s, ds, 8)
	if err != nil {
		return throughputRun{}, fmt.Errorf("enqueue: %w", err)
	}
	run, err := drain(ctx, s, sink, o, emf, throughputDispatcher(s, o).Handle)
	run.EnqueueS = enq.Seconds()
	return run, err
}

// throughputRate is the tenant's delivery rate in the throughput runs:
// far above what they reach, so that the rate gate makes its calls on
// every batch without holding a delivery back.
const throughputRate = 100_000

// throughputDispatcher is the dispatcher as dispatch.Build wires it, its
// limits included (the circuit breaker, the tenant's delivery rate, the
// in-flight cap), with the rate at throughputRate and the in-flight cap
// at 10 attempts per poller goroutine: each stands for a Lambda instance,
// which has a cap of its own.
func throughputDispatcher(s *stack, o options) *dispatch.Dispatcher {
	disp := s.dispatcher()
	disp.Limits = dispatch.NewLimits(s.store, connections.DeliveryLimits{RatePerTenant: throughputRate, InFlightPerConnection: 10 * o.concurrency})
	return disp
}

// drain runs the SQS path into handle until the sink has every delivery.
func drain(ctx context.Context, s *stack, sink *connector.Sink, o options, emf *emfCounter, handle lambdaapp.QueueHandler) (throughputRun, error) {
	run := throughputRun{Deliveries: o.n, Concurrency: o.concurrency}
	var (
		mu         sync.Mutex
		handles    []time.Duration
		sizes      int
		firstStart atomic.Int64
	)
	h := timedHandler(handle, func(_ events.SQSEvent, at time.Time) {
		firstStart.CompareAndSwap(0, at.UnixNano())
	}, func(ev events.SQSEvent, start, end time.Time) {
		mu.Lock()
		handles = append(handles, end.Sub(start))
		sizes += len(ev.Records)
		mu.Unlock()
	})
	p := &pollers.SQSPoller{Client: s.sqs, QueueURL: s.queues.DeliveriesURL, QueueARN: s.queues.DeliveriesARN,
		BatchSize: 10, Concurrency: o.concurrency, Handler: h}
	s.calls.Reset()
	s.received.Store(0)
	emf0 := emf.Lines()
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	cpu := connector.StartCPU()
	t0 := time.Now()
	go func() { done <- p.Run(pctx) }()
	// Wait for every delivery; give up at drainTimeout, or when nothing new
	// arrived for stallTimeout (a batch lost in transit stays invisible for
	// the queue's visibility timeout, minutes).
	reached := sink.Reached(o.n)
	deadline := time.After(o.drainTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	lastCount, lastChange := 0, time.Now()
wait:
	for {
		select {
		case <-reached:
			break wait
		case <-deadline:
			break wait
		case <-ctx.Done():
			break wait
		case <-tick.C:
			if d := sinkDistinct(sink); d != lastCount {
				lastCount, lastChange = d, time.Now()
			} else if time.Since(lastChange) > stallTimeout {
				break wait
			}
		}
	}
	tick.Stop()
	_, reqs, last := sink.Counts()
	run.CPU = cpu.End()
	// Let the batches in hand finish (activity log writes, deletes): the
	// poller passes its context to the handler, and cancelling it would
	// cut those short.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		handled := sizes
		mu.Unlock()
		if handled >= o.n {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		return run, err
	}
	run.ElapsedS = last.Sub(t0).Seconds()
	run.Delivered = sinkDistinct(sink)
	run.PerSec = float64(min(o.n, run.Delivered)) / run.ElapsedS
	run.FirstQuarter, run.LastQuarter = quarterRates(sink.Times(), t0)
	if fs := firstStart.Load(); fs != 0 {
		run.FirstHandleS = time.Unix(0, fs).Sub(t0).Seconds()
	}
	mu.Lock()
	run.Batches, run.Handle, run.Handled = len(handles), connector.Summarise(handles), sizes
	if len(handles) > 0 {
		run.MeanBatch = float64(sizes) / float64(len(handles))
	}
	mu.Unlock()
	run.SinkRequests = reqs
	run.Calls = s.calls.Stats()
	run.EMFLines = emf.Lines() - emf0
	run.LeftVisible, run.LeftInFlight = s.queueDepth(ctx)
	run.Received = int(s.received.Load())
	return run, ctx.Err()
}

// quarterRates is the delivery rate over the first and the last quarter of
// the arrivals (sorted), the first measured from t0.
func quarterRates(arrivals []time.Time, t0 time.Time) (first, last float64) {
	n := len(arrivals)
	q := n / 4
	if q < 1 {
		return 0, 0
	}
	if d := arrivals[q-1].Sub(t0).Seconds(); d > 0 {
		first = float64(q) / d
	}
	if d := arrivals[n-1].Sub(arrivals[n-1-q]).Seconds(); d > 0 {
		last = float64(q) / d
	}
	return first, last
}

func sinkDistinct(s *connector.Sink) int {
	d, _, _ := s.Counts()
	return d
}

// inFlight runs f(0..n-1) on workers goroutines and returns the time it
// took and how many calls failed.
func inFlight(ctx context.Context, workers, n int, f func(i int) bool) (time.Duration, int) {
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if !f(i) {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return time.Since(t0), int(failed.Load())
}

// sinkCeiling sends -n deliveries with the dispatcher's delivery client
// alone (signed as the dispatcher signs), workers at a time, to a fresh
// sink, and returns deliveries per second.
func sinkCeiling(ctx context.Context, o options, workers int) (float64, error) {
	sink := &connector.Sink{}
	srv := newSink(sink)
	defer srv.Close()
	conn := connections.Connection{ID: "conn_alone", TenantID: benchTenant, ChannelID: benchChannel,
		Secrets: []connections.Secret{{Value: webhook.NewSecret()}}}
	ds := sampleDeliveries(conn, o.n, "alone")
	client := delivery.New(dispatch.Policy(func(k string) string {
		if k == appenv.AllowLoopbackTargets {
			return "true"
		}
		return ""
	}), delivery.AttemptTimeout)
	el, failed := inFlight(ctx, workers, len(ds), func(i int) bool {
		now := time.Now()
		sig, err := webhook.Sign(conn.Signing(now), ds[i].ID, now, ds[i].Payload)
		return err == nil && client.Send(ctx, srv.URL+"/hook", webhook.Headers(ds[i].ID, now, sig), ds[i].Payload).Outcome == connections.OutcomeSuccess
	})
	if failed > 0 {
		return 0, fmt.Errorf("%d of %d sends failed", failed, len(ds))
	}
	return float64(len(ds)) / el.Seconds(), ctx.Err()
}

// ddbCeiling makes, on a fresh stack, the DynamoDB calls the dispatcher
// makes for batches of 10 successful deliveries (AddAttempts of the 10 per
// batch; the rate reservation once per rateAheadEvery batches, for all of
// them; GetConnection once per
// dispatch.ConnCacheTTL, as the dispatcher's cache reads it, and the
// breaker once a second) through the same store, workers batches at a time, and
// returns deliveries per second: what the emulator allows the dispatcher at
// most.
func ddbCeiling(ctx context.Context, o options, workers int) (float64, []connector.OpStats, error) {
	s, err := startStack(ctx, false)
	if err != nil {
		return 0, nil, err
	}
	defer s.close()
	conn, err := s.connection(ctx, benchTenant, benchChannel, "conn_ddb", "http://127.0.0.1:1/hook", connections.TriggerEmail)
	if err != nil {
		return 0, nil, err
	}
	ds := sampleDeliveries(conn, o.n, "ddb")
	s.calls.Reset()
	batches := (len(ds) + 9) / 10
	limits := &limitCalls{}
	var (
		mu     sync.Mutex
		c      connections.Connection
		readAt time.Time
	)
	el, failed := inFlight(ctx, workers, batches, func(b int) bool {
		mu.Lock()
		if time.Since(readAt) >= dispatch.ConnCacheTTL {
			var err error
			if c, err = s.store.GetConnection(ctx, conn.TenantID, conn.ID); err != nil {
				mu.Unlock()
				return false
			}
			readAt = time.Now()
		}
		c := c
		mu.Unlock()
		now := time.Now()
		if _, err := limits.reserve(ctx, s.store, c, now); err != nil {
			return false
		}
		var as []connections.ConnAttempt
		for _, d := range ds[b*10 : min(b*10+10, len(ds))] {
			as = append(as, connections.ConnAttempt{TenantID: c.TenantID, ConnectionID: c.ID, Attempt: connections.Attempt{
				Time: now.UnixMilli(), WebhookID: d.ID, Attempt: 1, Outcome: connections.OutcomeSuccess, HTTPCode: 200, DurationMS: 1,
				Trigger: d.Trigger, RequestBody: string(d.Payload), Final: true}})
		}
		return s.store.AddAttempts(ctx, as) == nil
	})
	if failed > 0 {
		return 0, nil, fmt.Errorf("%d of %d batches failed", failed, batches)
	}
	return float64(len(ds)) / el.Seconds(), s.calls.Stats(), ctx.Err()
}

// rateAheadEvery: a dispatcher process reserves a tenant's send times
// for this many batches at once while the tenant is under its rate (one
// batch's own and 8 ahead: dispatch.Limits).
const rateAheadEvery = 9

// limitCalls makes the DynamoDB calls of the dispatcher's limits for one
// batch of 10: the breaker's GetItem once per second (dispatch.Limits
// caches it), and the tenant's rate reservation, for rateAheadEvery
// batches once per rateAheadEvery batches.
type limitCalls struct {
	mu      sync.Mutex
	readAt  time.Time
	batches int
}

func (l *limitCalls) reserve(ctx context.Context, store *ddbstore.Connections, c connections.Connection, now time.Time) (int64, error) {
	l.mu.Lock()
	read := now.Sub(l.readAt) >= time.Second
	if read {
		l.readAt = now
	}
	reserve := l.batches%rateAheadEvery == 0
	l.batches++
	l.mu.Unlock()
	if read {
		if _, err := store.Breaker(ctx, c.TenantID, c.ID); err != nil {
			return 0, err
		}
	}
	if !reserve {
		return now.UnixMilli(), nil
	}
	return store.ReserveDeliveries(ctx, c.TenantID, 10*rateAheadEvery, time.Second/throughputRate, now)
}

// handleOnly calls dispatcher.Handle directly on batches of ten built in
// memory, o.concurrency at a time, on a fresh stack: the dispatcher's own
// cost (DynamoDB reads and writes, signing, the POST) without SQS.
func handleOnly(ctx context.Context, o options) (float64, error) {
	s, err := startStack(ctx, false)
	if err != nil {
		return 0, err
	}
	defer s.close()
	sink := &connector.Sink{}
	srv := newSink(sink)
	defer srv.Close()
	conn, err := s.connection(ctx, benchTenant, benchChannel, "conn_direct", srv.URL+"/hook", connections.TriggerEmail)
	if err != nil {
		return 0, err
	}
	ds := sampleDeliveries(conn, o.n, "direct")
	var batches []events.SQSEvent
	for i := 0; i < len(ds); i += 10 {
		var ev events.SQSEvent
		for j := i; j < min(i+10, len(ds)); j++ {
			body, _ := json.Marshal(ds[j])
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: ds[j].ID, ReceiptHandle: ds[j].ID, Body: string(body),
				Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
		}
		batches = append(batches, ev)
	}
	disp := throughputDispatcher(s, o)
	el, failed := inFlight(ctx, o.concurrency, len(batches), func(i int) bool {
		resp, err := disp.Handle(ctx, batches[i])
		return err == nil && len(resp.BatchItemFailures) == 0
	})
	if failed > 0 {
		return 0, fmt.Errorf("%d batches reported failures", failed)
	}
	if d := sinkDistinct(sink); d != len(ds) {
		return 0, fmt.Errorf("sink got %d of %d", d, len(ds))
	}
	return float64(len(ds)) / el.Seconds(), ctx.Err()
}

// callLines formats the top n operations.
func callLines(ops []connector.OpStats, n int) string {
	out := ""
	for i, s := range ops {
		if i == n {
			break
		}
		if i > 0 {
			out += "\n"
		}
		out += "  " + s.String()
	}
	return out
}
