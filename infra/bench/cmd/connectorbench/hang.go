package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/router"
)

// Target 2's limit: the dispatcher's hard limit plus half a second.
const maxHangHandle = delivery.AttemptTimeout + 500*time.Millisecond

type hangBatch struct {
	Size      int     `json:"size"`
	HandleS   float64 `json:"handle_s"`
	Failures  int     `json:"batch_item_failures"`
	HealthyIn int     `json:"healthy_in_batch"`
}

// measureHang is target 2: one batch of ten holds a delivery to a target
// that never answers; Handle of that batch must end by the 10 s limit,
// while the other pollers of the same queue keep delivering healthy
// deliveries queued at -hang-rate per second.
func measureHang(ctx context.Context, o options, _ *emfCounter, logf func(string, ...any)) (connector.Target, error) {
	t := connector.Target{Number: 2, Name: "hanging target: Handle of a batch of 10 with one target that never answers",
		Unit: "s", Cmp: connector.AtMost, Limit: maxHangHandle.Seconds(), Format: "%.2f", Valid: true}
	s, err := startStack(ctx, false)
	if err != nil {
		return t, err
	}
	defer s.close()
	sink := &connector.Sink{}
	srv := newSink(sink)
	defer srv.Close()
	hang, err := connector.NewHang()
	if err != nil {
		return t, err
	}
	defer hang.Close()
	ok, err := s.connection(ctx, benchTenant, benchChannel, "conn_ok", srv.URL+"/hook", connections.TriggerEmail)
	if err != nil {
		return t, err
	}
	bad, err := s.connection(ctx, benchTenant, benchChannel, "conn_hang", hang.URL(), connections.TriggerEmail)
	if err != nil {
		return t, err
	}

	// The batch with the hanging delivery is queued first, in one
	// SendMessageBatch, so that the first receive gets it whole.
	first := append(sampleDeliveries(bad, 1, "hang"), sampleDeliveries(ok, 9, "mate")...)
	hangID := first[0].ID
	if err := router.Enqueue(ctx, s.sqs, s.queues.DeliveriesURL, first); err != nil {
		return t, err
	}

	var (
		mu       sync.Mutex
		batch    hangBatch
		hStart   time.Time
		hEnd     time.Time
		others   int // other batches finished while it hung
		found    = make(chan struct{})
		finished = make(chan struct{})
	)
	disp := s.dispatcher()
	h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		mine := false
		for _, m := range ev.Records {
			var d connections.Delivery
			if json.Unmarshal([]byte(m.Body), &d) == nil && d.ID == hangID {
				mine = true
			}
		}
		start := time.Now()
		if mine {
			mu.Lock()
			hStart, batch.Size = start, len(ev.Records)
			mu.Unlock()
			close(found)
		}
		resp, err := disp.Handle(ctx, ev)
		end := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if mine {
			hEnd = end
			batch.HandleS = end.Sub(start).Seconds()
			batch.Failures = len(resp.BatchItemFailures)
			batch.HealthyIn = len(ev.Records) - 1
			close(finished)
		} else if !hStart.IsZero() && hEnd.IsZero() {
			others++
		}
		return resp, err
	}
	p := &pollers.SQSPoller{Client: s.sqs, QueueURL: s.queues.DeliveriesURL, QueueARN: s.queues.DeliveriesARN,
		BatchSize: 10, Concurrency: o.hangPollers, Handler: h}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	logf("2: %d pollers; one batch hangs, healthy deliveries queued at %d/s", o.hangPollers, o.hangRate)
	go func() { done <- p.Run(pctx) }()

	select {
	case <-found:
	case <-time.After(30 * time.Second):
		return t, fmt.Errorf("the batch with the hanging delivery was not received within 30 s")
	}

	// Healthy deliveries, queued at hangRate per second (a batch of ten
	// every 10/hangRate seconds) until the hanging batch is done.
	queued := map[string]time.Time{}
	healthy := sampleDeliveries(ok, o.hangRate*int(maxHangHandle/time.Second+5), "flow")
	var prodErr error
	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		tick := time.NewTicker(time.Duration(float64(10*time.Second) / float64(o.hangRate)))
		defer tick.Stop()
		for i := 0; i < len(healthy); i += 10 {
			select {
			case <-finished:
				return
			case <-pctx.Done():
				return
			case <-tick.C:
			}
			b := healthy[i:min(i+10, len(healthy))]
			at := time.Now()
			if err := router.Enqueue(pctx, s.sqs, s.queues.DeliveriesURL, b); err != nil {
				prodErr = err
				return
			}
			mu.Lock()
			for _, d := range b {
				queued[d.ID] = at
			}
			mu.Unlock()
		}
	}()

	select {
	case <-finished:
	case <-time.After(2 * delivery.AttemptTimeout):
		t.Valid, t.Invalid = false, "Handle of the hanging batch did not return within 20 s"
	}
	<-prodDone
	if prodErr != nil {
		return t, prodErr
	}
	// Let deliveries queued just before the end arrive.
	time.Sleep(time.Second)
	cancel()
	if err := <-done; err != nil {
		return t, err
	}

	mu.Lock()
	defer mu.Unlock()
	t.Value = batch.HandleS
	var (
		inWindow     int
		arrivedInWin int
		lat          []time.Duration
		missing      int
	)
	for id, at := range queued {
		if at.After(hEnd) {
			continue
		}
		inWindow++
		arr, ok := sink.Arrived(id)
		if !ok {
			missing++
			continue
		}
		lat = append(lat, arr.Sub(at))
		if !arr.After(hEnd) {
			arrivedInWin++
		}
	}
	completed := sink.Between(hStart, hEnd) - batch.HealthyIn
	l := connector.Summarise(lat)
	if batch.Size != 10 {
		t.Valid, t.Invalid = false, fmt.Sprintf("the hanging delivery came in a batch of %d, not 10", batch.Size)
	}
	if completed <= 0 {
		t.Valid, t.Invalid = false, "no healthy delivery completed while the batch hung"
	}
	t.Notes = append(t.Notes,
		fmt.Sprintf("hanging batch: %d messages (1 to a target that accepts and never answers, %d to the healthy sink), Handle %.2f s, %d reported failed (the hanging one, retried later by visibility)",
			batch.Size, batch.HealthyIn, batch.HandleS, batch.Failures),
		fmt.Sprintf("meanwhile, on the same queue, %d other pollers: %d healthy deliveries completed at the sink during those %.2f s (%s/s), in %d other batches",
			o.hangPollers-1, completed, batch.HandleS, connector.Num(float64(completed)/batch.HandleS), others),
		fmt.Sprintf("healthy deliveries queued while it hung: %d, of which %d arrived before it ended; queue → sink latency %s; missing %d",
			inWindow, arrivedInWin, l, missing),
		fmt.Sprintf("connections the hanging target accepted: %d", hang.Accepted()),
	)
	t.Data = map[string]any{"hanging_batch": batch, "healthy_completed_during": completed, "healthy_queued_during": inWindow,
		"healthy_latency": l, "other_batches": others}
	return t, nil
}
