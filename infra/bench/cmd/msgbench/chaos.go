package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/queue"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/sender"
)

// chaosConfig is scenario 3.
type chaosConfig struct {
	N           int     `json:"n"`
	Concurrency int     `json:"concurrency"`
	Fail429     float64 `json:"fail_429_pct"`
	Fail500     float64 `json:"fail_500_pct"`
	Hang        float64 `json:"hang_pct"`
	// Retry is the sender's retry schedule, "base,cap".
	Retry     string        `json:"retry"`
	RetryBase time.Duration `json:"-"`
	RetryCap  time.Duration `json:"-"`
	// Timeout is the sender's provider timeout (0: its own).
	Timeout time.Duration `json:"provider_timeout"`
	// Settle bounds the wait for the outbox to empty.
	Settle time.Duration `json:"-"`
	// InMemory keeps dynoxide's data in memory, its stream untrimmed
	// (diagnostic: the writes slow down with every stream record).
	InMemory bool `json:"in_memory"`
}

func (c *chaosConfig) parse() error {
	base, capStr, ok := strings.Cut(c.Retry, ",")
	if !ok {
		return fmt.Errorf("-chaos-retry %q: want base,cap such as 1s,4s", c.Retry)
	}
	var err error
	if c.RetryBase, err = time.ParseDuration(strings.TrimSpace(base)); err != nil || c.RetryBase <= 0 {
		return fmt.Errorf("-chaos-retry %q: base: want a duration above 0", c.Retry)
	}
	if c.RetryCap, err = time.ParseDuration(strings.TrimSpace(capStr)); err != nil || c.RetryCap < c.RetryBase {
		return fmt.Errorf("-chaos-retry %q: cap: want a duration at least the base", c.Retry)
	}
	if c.Fail429 < 0 || c.Fail500 < 0 || c.Hang < 0 || c.Fail429+c.Fail500+c.Hang > 100 {
		return fmt.Errorf("the chaos fault shares must be 0 to 100 %% and add up to at most 100 %%")
	}
	return nil
}

// schedule is the compressed retry schedule: the provider's Retry-After as
// it is (the sender's rule), else base·2^(n-1) at most cap.
func (c chaosConfig) schedule(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, sender.RetryCap)
	}
	return min(c.RetryBase<<min(max(n, 1)-1, 16), c.RetryCap)
}

// chaosResult is what became of the messages.
type chaosResult struct {
	Messages int            `json:"messages"`
	ByStatus map[string]int `json:"by_status"`
	// Lost: no message in the store, or one still queued once the outbox
	// is empty (nothing will send it).
	Lost    int      `json:"lost"`
	LostIDs []string `json:"lost_ids,omitempty"`
	// SentTwice: messages the sandbox accepted more than once (by our
	// message id, biz_opaque_callback_data).
	SentTwice    int      `json:"sent_twice"`
	SentTwiceIDs []string `json:"sent_twice_ids,omitempty"`
	// Mismatched: status sent without an accepted send at the sandbox, or
	// an accepted send on a message not recorded sent (or not with the
	// sandbox's wamid).
	Mismatched    int                 `json:"mismatched"`
	MismatchedIDs []string            `json:"mismatched_ids,omitempty"`
	FailedCodes   map[string]int      `json:"failed_codes"`
	Attempts      map[int]int         `json:"attempts"` // messages by provider calls
	Routed        int                 `json:"routed"`   // tasks the router queued (copies included)
	Sandbox       sandbox.Stats       `json:"sandbox"`
	Batches       int                 `json:"sender_batches"`
	DrainS        float64             `json:"first_create_to_outbox_empty_s"`
	CreateS       float64             `json:"create_s"`
	LeftVisible   string              `json:"left_visible"`
	LeftInFlight  string              `json:"left_in_flight"`
	LeftDLQ       string              `json:"outbox_dlq"`
	TimedOut      bool                `json:"timed_out"`
	Trimmed       int                 `json:"stream_records_trimmed"`
	StreamRecords int                 `json:"stream_records_to_router"`
	StreamAgain   int                 `json:"stream_records_handed_again"`
	TrimError     string              `json:"trim_error,omitempty"`
	InMemory      bool                `json:"in_memory"`
	CPU           connector.CPUReport `json:"cpu"`
	Calls         []connector.OpStats `json:"sdk_calls"`
}

// runChaos is scenario 3 on a fresh stack: the messages are stored as the
// API stores them, with the trigger router on the stream and the sender on
// the outbox, while the sandbox fails sends.
func runChaos(ctx context.Context, c chaosConfig, sb *sandbox.Server, logf func(string, ...any)) (*chaosResult, error) {
	keep := streamKeep
	if c.InMemory {
		keep = 0
	}
	s, err := startStack(ctx, keep)
	if err != nil {
		return nil, err
	}
	// Nothing is trimmed until the router has read what was stored.
	start := time.Now()
	s.readTo.Store(&start)
	defer s.close()
	sb.Reset()
	if err := sb.SetFaults(sandbox.Faults{Fail429Pct: c.Fail429, Fail500Pct: c.Fail500, HangPct: c.Hang,
		// Longer than the sender waits: every hang is a timeout.
		HangFor: 2 * queue.ProviderTimeout}); err != nil {
		return nil, err
	}
	defer func() { _ = sb.SetFaults(sandbox.Faults{}) }()

	var routed atomic.Int64
	var (
		qMu     sync.Mutex
		queuedM = map[string]bool{} // message ids the router queued
	)
	onQueued := func(bodies []string, _ time.Time) {
		routed.Add(int64(len(bodies)))
		qMu.Lock()
		for _, b := range bodies {
			var t sender.Task
			if json.Unmarshal([]byte(b), &t) == nil {
				queuedM[t.MessageID] = true
			}
		}
		qMu.Unlock()
	}
	s.onQueued.Store(&onQueued)
	tmp, err := os.MkdirTemp("", "msgbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	snd := s.sender()
	snd.Schedule = c.schedule
	snd.Timeout = c.Timeout
	var batches, handling atomic.Int64
	h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		batches.Add(1)
		handling.Add(1)
		defer handling.Add(-1)
		return snd.Handle(ctx, ev)
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pwg sync.WaitGroup
	perrs := make(chan error, 2)
	// The trigger router on the stream (the other stream consumers have
	// nothing to do: no webhooks come back), the sender on the outbox, as
	// make run polls them.
	router := registry.Streams["trigger-router"](s.d)
	var (
		seqMu sync.Mutex
		seqs  = map[string]int{} // times each stream record was handed to the router
	)
	routerH := func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		seqMu.Lock()
		for _, r := range ev.Records {
			seqs[r.Change.SequenceNumber]++
		}
		seqMu.Unlock()
		return router(ctx, ev)
	}
	sp := &pollers.StreamPoller{DDB: s.d.DDB, Streams: dynamodbstreams.NewFromConfig(s.d.AWS), Table: s.d.DataTable,
		BatchSize: 100, Handler: routerH, Checkpoints: filepath.Join(tmp, "checkpoints.json")}
	qp := &pollers.SQSPoller{Client: s.pollSQS, QueueURL: s.queues.OutboxURL, QueueARN: s.queues.OutboxARN, BatchSize: 10,
		Concurrency: c.Concurrency, WaitTime: time.Second, Handler: h, Fair: true, GroupOf: outboxGroup}
	pwg.Go(func() { perrs <- sp.Run(pctx) })
	pwg.Go(func() { perrs <- qp.Run(pctx) })
	stop := func() error {
		for deadline := time.Now().Add(30 * time.Second); handling.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		pwg.Wait()
		close(perrs)
		for err := range perrs {
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
		}
		return nil
	}

	ms := make([]messages.Message, c.N)
	for i := range ms {
		ms[i] = s.message("chaos", i)
	}
	res := &chaosResult{Messages: c.N, InMemory: c.InMemory, ByStatus: map[string]int{}, FailedCodes: map[string]int{}, Attempts: map[int]int{}}
	cpu := connector.StartCPU()
	t0 := time.Now()
	logf("chaos: storing %d messages; the sandbox fails 429 %.0f %%, 500 %.0f %%, hangs %.0f %%", c.N, c.Fail429, c.Fail500, c.Hang)
	var created atomic.Int64
	storedAt := make([]atomic.Int64, len(ms)) // when each message's write began (0: not stored yet)
	createErr := make(chan error, 1)
	go func() {
		store := s.d.Messages()
		err := bench.Parallel(ctx, 8, len(ms), func(ctx context.Context, i int) error {
			at := time.Now()
			err := store.CreateMessage(ctx, ms[i])
			if err == nil {
				storedAt[i].Store(at.UnixNano())
				created.Add(1)
			}
			return err
		})
		res.CreateS = time.Since(t0).Seconds()
		createErr <- err
	}()
	// Done when every message was stored and queued at least once and the
	// outbox (visible and in flight) stayed empty for two checks in a row.
	empty, lastLog, stored := 0, time.Now(), false
	deadline := t0.Add(c.Settle)
	for {
		if ctx.Err() != nil {
			_ = stop()
			return nil, ctx.Err()
		}
		if !stored {
			select {
			case err := <-createErr:
				if err != nil {
					_ = stop()
					return nil, fmt.Errorf("store messages: %w", err)
				}
				stored = true
			default:
			}
		}
		// The stream records before the oldest message the router has not
		// queued yet may be trimmed.
		if t := oldestUnqueued(ms, storedAt, queuedM, &qMu); !t.IsZero() {
			s.readTo.Store(&t)
		}
		vis, inf, _ := s.outboxDepth(ctx)
		if stored && int(routed.Load()) >= c.N && vis == "0" && inf == "0" {
			empty++
		} else {
			empty = 0
		}
		if empty >= 2 {
			break
		}
		if time.Now().After(deadline) {
			res.TimedOut = true
			break
		}
		if time.Since(lastLog) >= 10*time.Second {
			st := sb.Stats()
			logf("chaos: %.0f s: stored %d, routed %d, sandbox accepted %d of %d requests (429 %d, 500 %d, hangs %d), outbox %s visible, %s in flight",
				time.Since(t0).Seconds(), created.Load(), routed.Load(), st.Accepted, st.Requests, st.Faults429, st.Faults500, st.Hangs, vis, inf)
			lastLog = time.Now()
		}
		time.Sleep(500 * time.Millisecond)
	}
	res.DrainS = time.Since(t0).Seconds()
	res.CPU = cpu.End()
	res.Calls = s.calls.Stats()
	if err := stop(); err != nil {
		return nil, err
	}
	res.LeftVisible, res.LeftInFlight, res.LeftDLQ = s.outboxDepth(ctx)
	seqMu.Lock()
	for _, n := range seqs {
		res.StreamRecords++
		if n > 1 {
			res.StreamAgain++
		}
	}
	seqMu.Unlock()
	res.Routed, res.Batches, res.Trimmed = int(routed.Load()), int(batches.Load()), int(s.trimmed.Load())
	if p := s.trimErr.Load(); p != nil {
		res.TrimError = (*p).Error()
	}
	sb.Wait()
	res.Sandbox = sb.Stats()
	wamids := map[string][]string{}
	for _, r := range sb.Messages() {
		wamids[r.Opaque] = append(wamids[r.Opaque], r.WAMID)
	}

	// Every message's final status, from the store.
	logf("chaos: reading %d messages' statuses", c.N)
	store := s.d.Messages()
	final := make([]messages.Message, c.N)
	missing := make([]bool, c.N)
	if err := bench.Parallel(ctx, 16, c.N, func(ctx context.Context, i int) error {
		m, err := store.GetMessage(ctx, s.tenantID, ms[i].ID)
		if err != nil {
			if apperr.Is(err, apperr.KindNotFound) {
				missing[i] = true
				return nil
			}
			return err
		}
		final[i] = m
		return nil
	}); err != nil {
		return nil, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	res.tally(ids, final, missing, wamids)
	return res, nil
}

// tally judges each message: its final status in the store (final[i];
// missing[i] when there is none) against the sends the sandbox accepted
// for its id (the wamids it answered).
func (r *chaosResult) tally(ids []string, final []messages.Message, missing []bool, wamids map[string][]string) {
	for i, m := range final {
		id := ids[i]
		sends := wamids[id]
		if missing[i] {
			r.ByStatus["missing"]++
			r.Lost++
			r.LostIDs = appendID(r.LostIDs, id)
			continue
		}
		r.ByStatus[string(m.Status)]++
		r.Attempts[m.Attempts]++
		switch {
		case m.Status == messages.StatusFailed:
			code := "?"
			if m.Failure != nil {
				code = m.Failure.Code
			}
			r.FailedCodes[code]++
		case !messages.Final(m.Status):
			r.Lost++
			r.LostIDs = appendID(r.LostIDs, id)
		}
		if len(sends) > 1 {
			r.SentTwice++
			r.SentTwiceIDs = appendID(r.SentTwiceIDs, id)
		}
		sent := m.Status != messages.StatusFailed && messages.Final(m.Status) // sent, delivered or read
		if (sent && (len(sends) == 0 || !slices.Contains(sends, m.ProviderID))) || (!sent && len(sends) > 0) {
			r.Mismatched++
			r.MismatchedIDs = appendID(r.MismatchedIDs, id)
		}
	}
}

func trimNote(r *chaosResult) string {
	if r.InMemory {
		return "dynoxide in memory, its stream untrimmed (-chaos-in-memory)"
	}
	note := fmt.Sprintf("dynoxide on a temporary file (tmpfs where there is one), stream records older than %s and read by the router trimmed every %s (%d trimmed; dynoxide reads every record it holds on each write)", streamKeep, trimEvery(streamKeep), r.Trimmed)
	if r.TrimError != "" {
		note += "; trim error: " + r.TrimError
	}
	return note
}

// oldestUnqueued is when the write of the oldest stored message the
// router has not queued began (now when it queued every stored one; zero
// before anything is stored).
func oldestUnqueued(ms []messages.Message, storedAt []atomic.Int64, queued map[string]bool, mu *sync.Mutex) time.Time {
	now := time.Now()
	oldest, any := now, false
	mu.Lock()
	defer mu.Unlock()
	for i, m := range ms {
		at := storedAt[i].Load()
		if at == 0 {
			continue
		}
		any = true
		if !queued[m.ID] && at < oldest.UnixNano() {
			oldest = time.Unix(0, at)
		}
	}
	if !any {
		return time.Time{}
	}
	return oldest
}

// appendID keeps the first 20 ids of a list.
func appendID(ids []string, id string) []string {
	if len(ids) < 20 {
		return append(ids, id)
	}
	return ids
}

// outboxGroup is an outbox task's tenant (make run's GroupOf).
func outboxGroup(m sqstypes.Message) string {
	if g := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]; g != "" {
		return g
	}
	return aws.ToString(queue.GroupOfBody(aws.ToString(m.Body)))
}

// measureChaos is scenario 3: targets 3 (none lost) and 4 (none sent twice).
func measureChaos(ctx context.Context, o options, sb *sandbox.Server, logf func(string, ...any)) ([]connector.Target, error) {
	c := o.chaos
	r, err := runChaos(ctx, c, sb, logf)
	if err != nil {
		return nil, err
	}
	lost := connector.Target{Number: 3, Name: fmt.Sprintf("chaos, %s messages, sandbox failing %.0f %% (429/500) and timing out %.0f %%: messages not ending sent or failed (lost)",
		connector.Num(float64(c.N)), c.Fail429+c.Fail500, c.Hang), Value: float64(r.Lost + r.Mismatched), Unit: "messages", Cmp: connector.AtMost, Limit: 0, Valid: true}
	twice := connector.Target{Number: 4, Name: "chaos: messages sent twice (sends per our message id at the sandbox)",
		Value: float64(r.SentTwice), Unit: "messages", Cmp: connector.AtMost, Limit: 0, Valid: true, Data: r}
	if r.TimedOut {
		lost.Valid = false
		lost.Invalid = fmt.Sprintf("the outbox did not empty within %s (%s visible, %s in flight)", c.Settle, r.LeftVisible, r.LeftInFlight)
	}
	notes := chaosNotes(r, c)
	lost.Notes, twice.Notes = notes, []string{fmt.Sprintf("sandbox: %d accepted sends for %d messages sent; duplicates by biz_opaque_callback_data %d; ids sent twice %v",
		r.Sandbox.Accepted, r.ByStatus["sent"], r.Sandbox.Duplicates, r.SentTwiceIDs)}
	return []connector.Target{lost, twice}, nil
}

func chaosNotes(r *chaosResult, c chaosConfig) []string {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = queue.ProviderTimeout
	}
	var att []string
	keys := make([]int, 0, len(r.Attempts))
	for k := range r.Attempts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		att = append(att, fmt.Sprintf("%d: %d", k, r.Attempts[k]))
	}
	st := r.Sandbox
	return []string{
		fmt.Sprintf("final statuses from the store: %v; lost (missing or still queued) %d %v; status and sandbox disagree %d %v",
			r.ByStatus, r.Lost, r.LostIDs, r.Mismatched, r.MismatchedIDs),
		fmt.Sprintf("failed by code: %v; messages by provider calls made: %s", r.FailedCodes, strings.Join(att, ", ")),
		fmt.Sprintf("sandbox: %d send requests: %d accepted, 429 %d, 500 %d, timed out %d", st.Requests, st.Accepted, st.Faults429, st.Faults500, st.Hangs),
		fmt.Sprintf("stored in %.1f s; first store → outbox empty %.1f s; router queued %d tasks; %d sender batches on %d pollers; sender timeout %s; retry schedule %s·2^(n-1) at most %s (Retry-After as given) instead of the sender's 5 s·2^(n-1) at most 15 min",
			r.CreateS, r.DrainS, r.Routed, r.Batches, c.Concurrency, timeout, c.RetryBase, c.RetryCap),
		fmt.Sprintf("stream: %d records handed to the router, %d of them more than once; the router queued %d tasks for %d messages (copies wait out the claim, then are dropped)",
			r.StreamRecords, r.StreamAgain, r.Routed, r.Messages),
		fmt.Sprintf("left on the outbox: %s visible, %s in flight; outbox DLQ %s", r.LeftVisible, r.LeftInFlight, r.LeftDLQ),
		trimNote(r),
		r.CPU.String(),
		"SDK calls:\n" + callLines(r.Calls, 10),
	}
}

// callLines lists the n most frequent SDK calls.
func callLines(calls []connector.OpStats, n int) string {
	var b strings.Builder
	for i, c := range calls {
		if i == n {
			break
		}
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("  " + c.String())
	}
	return b.String()
}
