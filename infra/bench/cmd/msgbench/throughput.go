package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/sender"
	"github.com/startmsg/chatbackend/shared/whatsapp"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

// Target 2's limit: the sender's rate as a share of the ceiling loop's.
const minCeilingRatio = 0.40

// drainRun is one drain of the outbox.
type drainRun struct {
	Messages     int                 `json:"messages"`
	Done         int                 `json:"done"`
	Accepted     int                 `json:"sandbox_accepted"`
	SentTwice    int                 `json:"sent_twice"`
	ElapsedS     float64             `json:"first_receive_to_last_done_s"`
	PerSec       float64             `json:"per_s"`
	EnqueueS     float64             `json:"enqueue_s"`
	Batches      int                 `json:"batches"`
	Handle       connector.Latency   `json:"handle"`
	LeftVisible  string              `json:"left_visible"`
	LeftInFlight string              `json:"left_in_flight"`
	CPU          connector.CPUReport `json:"cpu"`
	Calls        []connector.OpStats `json:"sdk_calls"`
}

// measureThroughput is target 2: the sender's drain rate as a share of the
// ceiling loop's, run just before and just after it.
func measureThroughput(ctx context.Context, o options, sb *sandbox.Server, logf func(string, ...any)) ([]connector.Target, error) {
	t := connector.Target{Number: 2, Name: "sender throughput ÷ outbox ceiling loop (receive → POST to the sandbox → delete, same pollers)", Unit: "× ceiling",
		Cmp: connector.AtLeast, Limit: minCeilingRatio, Format: "%.2f", Valid: true}
	logf("2: ceiling loop (before): SQSPoller (concurrency %d, batch 10) → POST to the sandbox → delete, no DynamoDB", o.concurrency)
	before, err := drainOutbox(ctx, o, sb, "ceil1", true)
	if err != nil {
		return nil, fmt.Errorf("ceiling loop: %w", err)
	}
	logf("2: %d messages: outbox → SQSPoller (concurrency %d, batch 10) → sender → sandbox", o.n, o.concurrency)
	run, err := drainOutbox(ctx, o, sb, "sender", false)
	if err != nil {
		return nil, err
	}
	logf("2: ceiling loop (after)")
	after, err := drainOutbox(ctx, o, sb, "ceil2", true)
	if err != nil {
		return nil, fmt.Errorf("ceiling loop: %w", err)
	}
	logf("2: context: the sender's DynamoDB calls alone, %d batches of 10 at a time, on a fresh stack", o.concurrency)
	ddb, ddbCPU, ddbCalls, err := senderCallsAlone(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("DynamoDB calls alone: %w", err)
	}
	logf("2: context: the sender's claims alone, its sent updates alone, its outcomes alone, on a fresh stack")
	parts, err := senderCallParts(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("DynamoDB calls by part: %w", err)
	}
	mean := (before.PerSec + after.PerSec) / 2
	if mean > 0 {
		t.Value = run.PerSec / mean
	}
	for _, r := range []struct {
		what string
		run  drainRun
	}{{"the sender", run}, {"the ceiling loop before it", before}, {"the ceiling loop after it", after}} {
		if (r.run.Done < o.n || r.run.Accepted < o.n) && t.Valid {
			t.Valid, t.Invalid = false, fmt.Sprintf("%s finished %d of %d messages (%d accepted by the sandbox)", r.what, r.run.Done, o.n, r.run.Accepted)
		}
	}
	if run.SentTwice > 0 {
		t.Valid, t.Invalid = false, fmt.Sprintf("the sender sent %d messages twice", run.SentTwice)
	}
	t.Notes = []string{
		fmt.Sprintf("baseline, outbox ceiling loop: %s messages/s (mean of %s before and %s after the sender; %d SQSPoller goroutines × batches of 10, each message's Cloud API request POSTed to the sandbox with the sender's WhatsApp client, then deleted; no DynamoDB)",
			connector.Num(mean), connector.Num(before.PerSec), connector.Num(after.PerSec), o.concurrency),
		fmt.Sprintf("sender: %s messages/s = %.2f× the ceiling; %d messages in %.2f s, first receive → last message done (per batch: the claims' TransactWriteItems (the messages as their tasks carry them, unread), the credentials (kept 30 s), the POSTs, the outcomes' TransactWriteItems)",
			connector.Num(run.PerSec), t.Value, run.Done, run.ElapsedS),
		fmt.Sprintf("sender batches %d, Handle %s; left on the outbox %s visible, %s in flight", run.Batches, run.Handle, run.LeftVisible, run.LeftInFlight),
		fmt.Sprintf("ceiling loop batches %d before, %d after; Handle %s (after)", before.Batches, after.Batches, after.Handle),
		fmt.Sprintf("context, the sender's DynamoDB calls alone (per batch of 10: the claims' TransactWriteItems, the credentials GetItem, the outcomes' TransactWriteItems; %d batches at a time, no SQS, no HTTP, fresh dynoxide): %s messages/s (sender = %.2f× of it), dynoxide %.3f ms CPU per message",
			o.concurrency, connector.Num(ddb), run.PerSec/max(ddb, 1e-9), ddbCPU),
		"  " + strings.ReplaceAll(callLines(ddbCalls, 3), "\n", "\n  "),
		partsNote(parts, t.Value),
		fmt.Sprintf("CPU per message of the benchmark's processes (this one, dynoxide, fauxqs): sender %.2f ms, ceiling loop %.2f ms (after)", cpuPer(run), cpuPer(after)),
		"sender: " + run.CPU.String(),
		"ceiling loop (after): " + after.CPU.String(),
		"SDK calls during the sender's drain:\n" + callLines(run.Calls, 8),
	}
	t.Data = map[string]any{"sender": run, "ceiling_before": before, "ceiling_after": after, "ceiling_mean_per_s": mean,
		"ddb_calls_alone_per_s": ddb, "ddb_calls_alone_dynoxide_cpu_ms_per_message": ddbCPU, "ddb_calls_alone": ddbCalls, "ddb_call_parts": parts}
	return []connector.Target{t}, nil
}

// drainOutbox stores o.n messages, queues their tasks on the outbox of a
// fresh stack and drains it with the sender (ceiling false) or the
// ceiling loop.
func drainOutbox(ctx context.Context, o options, sb *sandbox.Server, label string, ceiling bool) (drainRun, error) {
	run := drainRun{Messages: o.n}
	s, err := startStack(ctx, scratchKeep)
	if err != nil {
		return run, err
	}
	defer s.close()
	sb.Reset()
	ms := make([]messages.Message, o.n)
	byID := make(map[string]messages.Message, o.n)
	for i := range ms {
		ms[i] = s.message(label, i)
		byID[ms[i].ID] = ms[i]
	}
	if err := s.createMessages(ctx, ms, 8); err != nil {
		return run, err
	}
	t0 := time.Now()
	if err := s.enqueue(ctx, ms); err != nil {
		return run, err
	}
	run.EnqueueS = time.Since(t0).Seconds()

	var handler lambdaapp.QueueHandler
	if ceiling {
		wa, err := messaging.Of(s.d).WhatsAppClient()
		if err != nil {
			return run, err
		}
		creds := whatsapp.Credentials{AccessToken: s.creds.AccessToken, PhoneNumberID: s.creds.AccountID}
		handler = func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			var (
				mu   sync.Mutex
				resp events.SQSEventResponse
				wg   sync.WaitGroup
			)
			for _, m := range ev.Records {
				wg.Go(func() {
					var task sender.Task
					ok := json.Unmarshal([]byte(m.Body), &task) == nil
					if ok {
						_, err := wa.Send(ctx, creds, byID[task.MessageID])
						ok = err == nil
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
	} else {
		handler = s.registrySender()
	}
	var (
		mu       sync.Mutex
		handles  []time.Duration
		lastDone time.Time
		done     atomic.Int64
	)
	h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		start := time.Now()
		resp, err := handler(ctx, ev)
		end := time.Now()
		ok := len(ev.Records) - len(resp.BatchItemFailures)
		if err != nil {
			ok = 0
		}
		mu.Lock()
		handles = append(handles, end.Sub(start))
		if ok > 0 {
			lastDone = end
		}
		mu.Unlock()
		done.Add(int64(ok))
		return resp, err
	}
	p := &pollers.SQSPoller{Client: s.sqs, QueueURL: s.queues.OutboxURL, QueueARN: s.queues.OutboxARN,
		BatchSize: 10, Concurrency: o.concurrency, WaitTime: time.Second, Handler: h}
	s.calls.Reset()
	pctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	cpu := connector.StartCPU()
	t0 = time.Now()
	go func() { errc <- p.Run(pctx) }()
	deadline := time.Now().Add(o.drain)
	for int(done.Load()) < o.n && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	run.CPU = cpu.End()
	run.Calls = s.calls.Stats()
	cancel()
	if err := <-errc; err != nil && ctx.Err() == nil {
		return run, err
	}
	mu.Lock()
	run.Done, run.Batches, run.Handle = int(done.Load()), len(handles), connector.Summarise(handles)
	if !lastDone.IsZero() {
		run.ElapsedS = lastDone.Sub(t0).Seconds()
	}
	mu.Unlock()
	if run.ElapsedS > 0 {
		run.PerSec = float64(min(run.Done, o.n)) / run.ElapsedS
	}
	st := sb.Stats()
	run.Accepted = st.Accepted
	for _, m := range ms {
		if sb.Sends(m.ID) > 1 {
			run.SentTwice++
		}
	}
	run.LeftVisible, run.LeftInFlight, _ = s.outboxDepth(ctx)
	return run, ctx.Err()
}

// cpuPer is the CPU the benchmark's processes used in a drain, per
// message, in ms.
func cpuPer(r drainRun) float64 {
	total := 0.0
	for _, u := range r.CPU.Ours {
		total += u.CPUS
	}
	if r.Messages == 0 {
		return 0
	}
	return total * 1000 / float64(r.Messages)
}

// senderCallsAlone is the rate of the sender's DynamoDB calls for o.n
// stored messages, per batch of 10 as the sender makes them (the batch's
// claim, its channel's credentials, the batch's outcomes), o.concurrency
// batches at a time, on a fresh stack.
func senderCallsAlone(ctx context.Context, o options) (float64, float64, []connector.OpStats, error) {
	s, err := startStack(ctx, scratchKeep)
	if err != nil {
		return 0, 0, nil, err
	}
	defer s.close()
	ms := make([]messages.Message, o.n)
	for i := range ms {
		ms[i] = s.message("ddb", i)
	}
	if err := s.createMessages(ctx, ms, 8); err != nil {
		return 0, 0, nil, err
	}
	store, creds := messaging.Of(s.d).SenderStore(), messaging.Of(s.d).ProviderCredentials()
	var batches [][]messages.Message
	for i := 0; i < len(ms); i += 10 {
		batches = append(batches, ms[i:min(i+10, len(ms))])
	}
	s.calls.Reset()
	cpu := connector.StartCPU()
	t0 := time.Now()
	err = bench.Parallel(ctx, o.concurrency, len(batches), func(ctx context.Context, i int) error {
		b := batches[i]
		reqs := make([]messages.ClaimRequest, len(b))
		for j, m := range b {
			reqs[j] = messages.ClaimRequest{Key: messages.Key{TenantID: m.TenantID, ID: m.ID}, Queued: sender.NewTask(m).Message()}
		}
		cs := store.ClaimQueued(ctx, reqs, "tok", time.Now(), sender.Lease)
		os := make([]messages.Outcome, len(cs))
		for j, c := range cs {
			if c.Err != nil || c.Done {
				return fmt.Errorf("claim: done %v, %v", c.Done, c.Err)
			}
			os[j] = messages.Outcome{Kind: messages.OutcomeSent, Message: c.Message, ProviderID: "wamid.ddb" + c.Message.ID, At: time.Now()}
		}
		if _, err := creds.ProviderCredentials(ctx, cs[0].Message.TenantID, cs[0].Message.ChannelID); err != nil {
			return err
		}
		for _, err := range store.RecordOutcomes(ctx, os) {
			if err != nil {
				return err
			}
		}
		return nil
	})
	el := time.Since(t0)
	dyn := dynoxideMS(cpu.End(), len(ms))
	if err != nil {
		return 0, 0, nil, err
	}
	return float64(len(ms)) / el.Seconds(), dyn, s.calls.Stats(), nil
}

// callPart is one part of the sender's DynamoDB calls run alone: its rate
// and dynoxide's CPU per message.
type callPart struct {
	Name       string  `json:"name"`
	PerSec     float64 `json:"per_s"`
	DynoxideMS float64 `json:"dynoxide_cpu_ms_per_message"`
}

// senderCallParts runs the sender's calls in parts, each alone
// (o.concurrency batches of 10 at a time), in turn on one fresh stack
// with 2·o.n messages: the claims (the batch's TransactWriteItems of the
// messages' checks and claim items); the sent updates of those messages
// without the provider ids' pointers (the batch's TransactWriteItems of
// the messages' updates: the one data-table write a send makes); and, on
// other messages claimed beforehand, the whole outcomes (the updates and
// the pointers), as the sender records them. Each part runs twice, on
// o.n/2 messages each time.
func senderCallParts(ctx context.Context, o options) ([]callPart, error) {
	s, err := startStack(ctx, scratchKeep)
	if err != nil {
		return nil, err
	}
	defer s.close()
	ms := make([]messages.Message, 2*o.n)
	for i := range ms {
		ms[i] = s.message("part", i)
	}
	if err := s.createMessages(ctx, ms, 8); err != nil {
		return nil, err
	}
	store := messaging.Of(s.d).SenderStore()
	var batches [][]messages.Message
	for i := 0; i < len(ms); i += 10 {
		batches = append(batches, ms[i:min(i+10, len(ms))])
	}
	claimed := make([][]messages.Message, len(batches))
	claim := func(ctx context.Context, i int) error {
		b := batches[i]
		reqs := make([]messages.ClaimRequest, len(b))
		for j, m := range b {
			reqs[j] = messages.ClaimRequest{Key: messages.Key{TenantID: m.TenantID, ID: m.ID}, Queued: sender.NewTask(m).Message()}
		}
		for _, c := range store.ClaimQueued(ctx, reqs, "tok", time.Now(), sender.Lease) {
			if c.Err != nil || c.Done {
				return fmt.Errorf("claim: done %v, %v", c.Done, c.Err)
			}
			claimed[i] = append(claimed[i], c.Message)
		}
		return nil
	}
	record := func(pointers bool) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			os := make([]messages.Outcome, len(claimed[i]))
			for j, m := range claimed[i] {
				os[j] = messages.Outcome{Kind: messages.OutcomeSent, Message: m, At: time.Now()}
				if pointers {
					os[j].ProviderID = "wamid.part" + m.ID
				}
			}
			for _, err := range store.RecordOutcomes(ctx, os) {
				if err != nil {
					return err
				}
			}
			return nil
		}
	}
	// Four sets of batches, each part run on two of them in turn; a part
	// keeps its lower CPU per message (another process's load on the
	// machine only adds to it).
	quarter := len(batches) / 4
	parts := []callPart{{Name: "claims"}, {Name: "sent updates"}, {Name: "outcomes"}}
	run := func(k, set int, f func(ctx context.Context, i int) error) error {
		n := quarter * 10
		cpu := connector.StartCPU()
		t0 := time.Now()
		err := bench.Parallel(ctx, o.concurrency, quarter, func(ctx context.Context, i int) error { return f(ctx, set*quarter+i) })
		el := time.Since(t0)
		ms := dynoxideMS(cpu.End(), n)
		if p := &parts[k]; p.DynoxideMS == 0 || ms < p.DynoxideMS {
			p.DynoxideMS, p.PerSec = ms, float64(n)/el.Seconds()
		}
		return err
	}
	untimed := func(set int, f func(ctx context.Context, i int) error) error {
		return bench.Parallel(ctx, o.concurrency, quarter, func(ctx context.Context, i int) error { return f(ctx, set*quarter+i) })
	}
	for round := range 2 {
		a, b := 2*round, 2*round+1 // a: claims, then sent updates; b: claimed, then outcomes
		if err := run(0, a, claim); err != nil {
			return nil, err
		}
		if err := run(1, a, record(false)); err != nil {
			return nil, err
		}
		if err := untimed(b, claim); err != nil {
			return nil, err
		}
		if err := run(2, b, record(true)); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// dynoxideMS is dynoxide's CPU in a window, per message, in ms.
func dynoxideMS(r connector.CPUReport, n int) float64 {
	for _, u := range r.Ours {
		if u.Process == "dynoxide" && n > 0 {
			return u.CPUS * 1000 / float64(n)
		}
	}
	return 0
}

// partsNote says where the sender's DynamoDB time goes (dynoxide's CPU per
// message in the claims, the sent updates, the whole outcomes) and the
// bound the claims and sent updates set on target 2: the sender's ratio
// were the pointers free, the sender being bound by dynoxide (as the
// calls-alone row shows; the credentials are read once per 30 s).
func partsNote(parts []callPart, ratio float64) string {
	if len(parts) < 3 {
		return ""
	}
	c, u, w := parts[0], parts[1], parts[2]
	bound := 0.0
	if c.DynoxideMS+u.DynoxideMS > 0 {
		bound = ratio * (c.DynoxideMS + w.DynoxideMS) / (c.DynoxideMS + u.DynoxideMS)
	}
	return fmt.Sprintf("where the DynamoDB time goes, dynoxide CPU per message (each part alone, twice in turn on a fresh stack, the lower of the two; batches of 10): the claims' TransactWriteItems (each message's check and claim item) %.3f ms (%s messages/s); the sent updates alone (the outcomes without the provider ids' pointers: the one data-table write per send, streamed, on GSI1) %.3f ms (%s messages/s); the outcomes with their pointers %.3f ms (%s messages/s). Were the pointers free, with the claims and sent updates as they are, the sender would reach about %.2f × (%.3f + %.3f) ÷ (%.3f + %.3f) = %.2f× the ceiling",
		c.DynoxideMS, connector.Num(c.PerSec), u.DynoxideMS, connector.Num(u.PerSec), w.DynoxideMS, connector.Num(w.PerSec),
		ratio, c.DynoxideMS, w.DynoxideMS, c.DynoxideMS, u.DynoxideMS, bound)
}
