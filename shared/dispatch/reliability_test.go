package dispatch_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/netguard"
	"github.com/startmsg/chatbackend/shared/router"
	"github.com/startmsg/chatbackend/shared/webhook"
)

func TestMain(m *testing.M) { emulators.Main(m) }

// The reliability run, scaled down from the to fit `make test`.
const (
	relEvents      = 1000
	relConnections = 5
	relTenant      = "ten_reliability"
	// relDoomedEvery: every 50th delivery (20 of them) goes to a target
	// that fails every attempt. At 35 % failures per attempt, the chance
	// that one of the other deliveries fails 8 times in a row is 0.35^8,
	// about 0.2 deliveries per run, so without these the dead path would
	// hardly ever run.
	relDoomedEvery = 50
	relTimeout     = 300 * time.Millisecond // per attempt: a hang costs this much
	relDeadline    = 90 * time.Second
)

// answer is what the target does with one request.
type answer int

const (
	answerOK    answer = iota // 200
	answer500                 // 500
	answerReset               // hijack and close with RST
	answerHang                // never answer; return when the client gives up
)

// received is one request as the target saw it.
type received struct {
	seq       int // order among the requests of its webhook-id, from 1
	conn      string
	answer    answer
	body      []byte
	timestamp int64
	sigErr    error
}

// target is the webhook receiver: one server for every connection, routed by
// path (/hook/<connection id>). It decides each request with a seeded
// random source: 30 % fail (half 500, half reset), 5 % hang, else 200;
// requests of doomed deliveries always fail (in the same 500:reset:hang
// proportions).
type target struct {
	mu      sync.Mutex
	rnd     *rand.Rand
	secrets map[string]string // connection id → secret
	doomed  map[string]bool   // webhook-id → always fail
	byID    map[string][]received
}

func (tg *target) decide(doomed bool) answer {
	x := tg.rnd.Float64()
	if doomed {
		x *= 0.35 // only the failing part of the range
	}
	switch {
	case x < 0.15:
		return answer500
	case x < 0.30:
		return answerReset
	case x < 0.35:
		return answerHang
	}
	return answerOK
}

func (tg *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get(webhook.HeaderID)
	conn := strings.TrimPrefix(r.URL.Path, "/hook/")
	ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)

	tg.mu.Lock()
	secret, known := tg.secrets[conn]
	a := tg.decide(tg.doomed[id])
	tg.mu.Unlock()
	rec := received{conn: conn, answer: a, body: body, timestamp: ts}
	rec.sigErr = fmt.Errorf("unknown path %q", r.URL.Path)
	if known {
		rec.sigErr = webhook.Verify(secret, id, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute)
	}
	tg.mu.Lock()
	rec.seq = len(tg.byID[id]) + 1
	tg.byID[id] = append(tg.byID[id], rec)
	tg.mu.Unlock()

	switch a {
	case answerOK:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok")
	case answer500:
		http.Error(w, "boom", http.StatusInternalServerError)
	case answerReset:
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if tcp, ok := c.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // RST, not FIN
		}
		_ = c.Close()
	case answerHang:
		<-r.Context().Done()
	}
}

// snapshot copies what the target saw.
func (tg *target) snapshot() map[string][]received {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := make(map[string][]received, len(tg.byID))
	for id, rs := range tg.byID {
		out[id] = slices.Clone(rs)
	}
	return out
}

// delivered returns the webhook-ids the target answered 2xx at least once.
func (tg *target) delivered() map[string]bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := map[string]bool{}
	for id, rs := range tg.byID {
		for _, r := range rs {
			if r.answer == answerOK {
				out[id] = true
			}
		}
	}
	return out
}

// noteLog keeps the warnings and errors the dispatcher and the poller log,
// and the dispatcher's "delivery dropped" lines.
type noteLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *noteLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *noteLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *noteLog) WithGroup(string) slog.Handler            { return l }
func (l *noteLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn && !strings.Contains(r.Message, "dropped") {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

func (l *noteLog) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

// noisyRetryer notes every error the SDK is about to retry.
type noisyRetryer struct {
	aws.RetryerV2
	notes *noteLog
}

func (r noisyRetryer) IsErrorRetryable(err error) bool {
	ok := r.RetryerV2.IsErrorRetryable(err)
	if ok {
		r.notes.add(fmt.Sprintf("SDK retries SQS call after: %v", err))
	}
	return ok
}

func (l *noteLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// TestReliability is the reliability run, scaled down: 1,000
// deliveries through the real queue, poller, dispatcher, HTTP client and
// store, to targets that fail 30 % of attempts and hang 5 %. Every delivery
// must end delivered or dead, counted exactly, none lost, every repeat with
// the same webhook-id and body.
func TestReliability(t *testing.T) {
	began := time.Now()
	e := emulators.ForTest(t)
	ctx := t.Context()
	store := &ddbstore.Connections{API: e.DDB, Table: e.Table, OpsTable: e.OpsTable}

	// Seven 1 s steps (SQS visibility is whole seconds): 8 attempts fit.
	fastRetries(t, 0)
	if connections.MaxAttempts != len(connections.Schedule)+1 {
		t.Fatalf("MaxAttempts = %d with a %d-step schedule", connections.MaxAttempts, len(connections.Schedule))
	}
	maxAttempts := connections.MaxAttempts

	seed := uint64(time.Now().UnixNano())
	t.Logf("target seed %d", seed)
	tg := &target{rnd: rand.New(rand.NewPCG(seed, 0x5eed)), secrets: map[string]string{}, doomed: map[string]bool{}, byID: map[string][]received{}}
	srv := httptest.NewServer(tg)
	t.Cleanup(srv.Close)

	// Connections on one tenant, all pointing at the target.
	now := time.Now()
	var conns []connections.Connection
	for i := range relConnections {
		c := connections.Connection{
			ID: fmt.Sprintf("con_rel%d", i+1), TenantID: relTenant, ChannelID: "chan_rel", Name: fmt.Sprintf("target %d", i+1),
			Triggers: []connections.Trigger{connections.TriggerEmail}, Fields: []string{},
			Secrets: []connections.Secret{{Value: webhook.NewSecret()}}, Source: connections.SourceAPI, Enabled: true,
			CreatedAt: now.Unix(), UpdatedAt: now.Unix(),
		}
		c.URL = srv.URL + "/hook/" + c.ID
		if err := store.CreateConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		tg.secrets[c.ID] = c.Secrets[0].Value
		conns = append(conns, c)
	}

	// 1,000 deliveries, distinct IDs and bodies, spread over the connections.
	byID := map[string]connections.Delivery{}
	var ds []connections.Delivery
	for i := range relEvents {
		c := conns[i%relConnections]
		d := connections.Delivery{
			ID: router.DeliveryID(fmt.Sprintf("rel-%06d", i), c.ID, connections.TriggerEmail), TenantID: relTenant,
			ConnectionID: c.ID, Trigger: connections.TriggerEmail, CreatedAt: now.Unix(),
			Payload: fmt.Appendf(nil, `{"psid":"%d","email":"user%d@example.com","page_id":"chan_rel"}`, 1_000_000+i, i),
		}
		if _, dup := byID[d.ID]; dup {
			t.Fatalf("delivery ID %s twice", d.ID)
		}
		byID[d.ID] = d
		if i%relDoomedEvery == 0 {
			tg.doomed[d.ID] = true
		}
		ds = append(ds, d)
	}
	notes := &noteLog{}
	// One SQS client for the test, the poller and the dispatcher; it notes
	// the calls the SDK retries.
	queue := sqs.NewFromConfig(e.Config, func(o *sqs.Options) {
		o.Retryer = noisyRetryer{RetryerV2: retry.NewStandard(), notes: notes}
	})
	// The deliveries queue hides a received batch for 180 s (6 × the
	// dispatcher Lambda's timeout). A ReceiveMessage answer lost on the way
	// back (the poller sends each receive once and logs the loss) leaves its
	// batch hidden that long, past this test's deadline; 10 s still dwarfs a batch's work here
	// (at most a 300 ms attempt plus a few store calls per message).
	if _, err := queue.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl: aws.String(e.Queues.DeliveriesURL), Attributes: map[string]string{"VisibilityTimeout": "10"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := router.Enqueue(ctx, queue, e.Queues.DeliveriesURL, ds); err != nil {
		t.Fatal(err)
	}

	// The dispatcher behind a poller with Lambda's batch semantics.
	sender := delivery.New(netguard.Policy{AllowLoopback: true}, relTimeout)
	t.Cleanup(sender.HTTP.CloseIdleConnections)
	d := &dispatch.Dispatcher{
		Store: store, Sender: sender, Queue: queue, QueueURL: e.Queues.DeliveriesURL,
		Now: time.Now, Jitter: func() float64 { return 0 }, Log: slog.New(notes),
	}
	p := &pollers.SQSPoller{
		Client: queue, QueueURL: e.Queues.DeliveriesURL, QueueARN: e.Queues.DeliveriesARN,
		BatchSize: 10, Concurrency: 6, WaitTime: time.Second, Handler: d.Handle, Logger: slog.New(notes),
	}
	pctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- p.Run(pctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-stopped:
				if err != nil {
					t.Errorf("poller: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("poller did not stop within 15 s")
			}
		})
	}
	t.Cleanup(stop) // before srv.Close (cleanups run last first)

	// Wait until every delivery is accounted for and the queue is empty
	// (the dispatcher has finished with every message).
	dlq := map[string]int{} // delivery ID → messages in the DLQ
	var dead []connections.Dead
	deadline := time.Now().Add(relDeadline)
	for {
		queued := queueDepth(t, queue, e.Queues.DeliveriesURL)
		accounted := 0
		if queued == 0 {
			drainDLQ(t, queue, e.Queues.DLQURL, dlq)
			var err error
			if dead, err = listAllDead(ctx, store, relTenant); err != nil {
				t.Fatal(err)
			}
			accounted = len(coverage(tg.delivered(), dead, dlq))
			if accounted == relEvents {
				break
			}
		}
		if time.Now().After(deadline) {
			var err error
			if dead, err = listAllDead(ctx, store, relTenant); err != nil {
				t.Fatal(err)
			}
			covered := coverage(tg.delivered(), dead, dlq)
			seen := tg.snapshot()
			n := 0
			for id := range byID {
				if !covered[id] && n < 10 {
					n++
					as, _ := store.Attempts(ctx, relTenant, byID[id].ConnectionID, 100*relEvents)
					as = slices.DeleteFunc(as, func(a connections.Attempt) bool { return a.WebhookID != id })
					t.Logf("unaccounted: %s: target answers %v; attempts, newest first, %v", id, answers(seen[id]), outcomes(as))
				}
			}
			t.Fatalf("after %s: %s queued; delivered %d, dead %d, DLQ %d, accounted for %d of %d\nnotes: %v\n%s",
				relDeadline, queueAttrs(t, queue, e.Queues.DeliveriesURL), len(tg.delivered()), len(dead), len(dlq), len(covered), relEvents,
				first(notes.all(), 10), stuck())
		}
		time.Sleep(250 * time.Millisecond)
	}
	drained := time.Since(began)
	stop()
	if n := queueDepth(t, queue, e.Queues.DeliveriesURL); n != 0 {
		t.Errorf("deliveries queue holds %d messages after the run", n)
	}
	drainDLQ(t, queue, e.Queues.DLQURL, dlq)

	// What everyone saw: the target, the activity log, the dead list.
	seen := tg.snapshot()
	delivered := tg.delivered()
	logged := map[string][]connections.Attempt{} // webhook-id → attempts, oldest first
	loggedTotal := 0
	for _, c := range conns {
		all, err := store.Attempts(ctx, relTenant, c.ID, 100*relEvents)
		if err != nil {
			t.Fatal(err)
		}
		loggedTotal += len(all)
		for _, a := range slices.Backward(all) {
			logged[a.WebhookID] = append(logged[a.WebhookID], a)
		}
	}
	confirmed := map[string]bool{} // the dispatcher saw a 2xx
	for id, as := range logged {
		if slices.ContainsFunc(as, func(a connections.Attempt) bool { return a.Outcome == connections.OutcomeSuccess }) {
			confirmed[id] = true
		}
	}
	// ListDead reads GSI1: give it a moment to list every delivery that
	// the dispatcher neither saw through nor left in the DLQ.
	var deadSet map[string]connections.Dead
	for settle := time.Now().Add(5 * time.Second); ; {
		deadSet = map[string]connections.Dead{}
		for _, x := range dead {
			deadSet[x.ID] = x
		}
		missing := 0
		for id := range byID {
			if !confirmed[id] && dlq[id] == 0 && deadSet[id].ID == "" {
				missing++
			}
		}
		if missing == 0 || time.Now().After(settle) {
			break
		}
		time.Sleep(200 * time.Millisecond)
		var err error
		if dead, err = listAllDead(ctx, store, relTenant); err != nil {
			t.Fatal(err)
		}
	}
	if len(deadSet) != len(dead) {
		t.Errorf("ListDead returned %d entries for %d deliveries", len(dead), len(deadSet))
	}

	// The target: only our webhook-ids; every repeat with the same body
	// (so the same webhook-id for the same delivery: bodies are distinct),
	// correctly signed for its connection, at most MaxAttempts times.
	requests, hangs, resets, fives, oks, okAgain := 0, 0, 0, 0, 0, 0
	plainReq, plainFail, plainHang := 0, 0, 0
	for id, rs := range seen {
		want, ok := byID[id]
		if !ok {
			t.Errorf("target got webhook-id %q, not one of the %d deliveries (%d requests)", id, relEvents, len(rs))
			continue
		}
		if len(rs) > maxAttempts {
			t.Errorf("%s: %d requests, more than MaxAttempts %d", id, len(rs), maxAttempts)
		}
		oked := false
		for i, r := range rs {
			requests++
			switch r.answer {
			case answerOK:
				oks++
				if oked {
					okAgain++
				}
				oked = true
			case answer500:
				fives++
			case answerReset:
				resets++
			case answerHang:
				hangs++
			}
			if !tg.doomed[id] {
				plainReq++
				if r.answer == answer500 || r.answer == answerReset {
					plainFail++
				}
				if r.answer == answerHang {
					plainHang++
				}
			}
			if r.seq != i+1 {
				t.Errorf("%s: request %d recorded as %d", id, i+1, r.seq)
			}
			if !bytes.Equal(r.body, want.Payload) {
				t.Errorf("%s: request %d body %q, want %q", id, r.seq, r.body, want.Payload)
			}
			if r.conn != want.ConnectionID {
				t.Errorf("%s: request %d to connection %q, want %q", id, r.seq, r.conn, want.ConnectionID)
			}
			if r.sigErr != nil {
				t.Errorf("%s: request %d signature: %v", id, r.seq, r.sigErr)
			}
			if i > 0 && r.timestamp < rs[i-1].timestamp {
				t.Errorf("%s: request %d timestamp %d before the previous one's %d", id, r.seq, r.timestamp, rs[i-1].timestamp)
			}
		}
	}

	// The activity log, per delivery: attempts numbered upwards, at most
	// MaxAttempts, one for every request the target saw, and at most one
	// success, which ends the delivery.
	timeouts := 0
	for id, as := range logged {
		want, ok := byID[id]
		if !ok {
			t.Errorf("activity log has webhook-id %q, not one of the deliveries", id)
			continue
		}
		if len(as) > maxAttempts {
			t.Errorf("%s: %d attempts logged, more than MaxAttempts %d", id, len(as), maxAttempts)
		}
		// Every request the target saw is a logged attempt; under load an
		// attempt can also time out before its request reaches the handler.
		lost := 0
		for _, a := range as {
			if a.Outcome == connections.OutcomeTimeout || a.Outcome == connections.OutcomeConnect {
				lost++
			}
		}
		if len(seen[id]) > len(as) || len(as)-len(seen[id]) > lost {
			t.Errorf("%s: %d attempts logged %v, the target saw %d requests %v", id, len(as), outcomes(as), len(seen[id]), answers(seen[id]))
		}
		for i, a := range as {
			if a.Outcome == connections.OutcomeTimeout {
				timeouts++
			}
			if a.Attempt < 1 || a.Attempt > maxAttempts || (i > 0 && a.Attempt <= as[i-1].Attempt) {
				t.Errorf("%s: attempt numbers %v", id, attemptNumbers(as))
			}
			if a.RequestBody != string(want.Payload) || a.Trigger != want.Trigger {
				t.Errorf("%s: attempt %d logged body %q trigger %q", id, a.Attempt, a.RequestBody, a.Trigger)
			}
			last := i == len(as)-1
			if a.Outcome == connections.OutcomeSuccess {
				if !last {
					t.Errorf("%s: attempt %d succeeded, yet attempts followed: %v", id, a.Attempt, outcomes(as))
				}
				if !a.Final {
					t.Errorf("%s: successful attempt %d not final", id, a.Attempt)
				}
			} else if a.Final != (last && a.Attempt == maxAttempts) {
				// Every failure here is retryable (500, reset, timeout): only
				// the attempt numbered MaxAttempts may be final.
				t.Errorf("%s: attempt %d (%s) final=%v: %v", id, a.Attempt, a.Outcome, a.Final, outcomes(as))
			}
		}
	}

	// Dead deliveries: ran out of attempts, recorded whole.
	for id, x := range deadSet {
		want, ok := byID[id]
		if !ok {
			t.Errorf("dead delivery %q is not one of ours", id)
			continue
		}
		if !bytes.Equal(x.Payload, want.Payload) || x.ConnectionID != want.ConnectionID || x.TenantID != relTenant || x.Trigger != want.Trigger {
			t.Errorf("dead %s: %+v, want %+v", id, x.Delivery, want)
		}
		as := logged[id]
		if x.LastAttempt.WebhookID != id || !x.LastAttempt.Final || x.LastAttempt.Outcome == connections.OutcomeSuccess ||
			len(as) == 0 || x.LastAttempt.Attempt != as[len(as)-1].Attempt {
			t.Errorf("dead %s: last attempt %+v; logged %v", id, x.LastAttempt, outcomes(as))
		}
		if _, err := store.GetDead(ctx, relTenant, id); err != nil {
			t.Errorf("dead %s listed but GetDead: %v", id, err)
		}
	}

	// "Counted exactly". The receiver's count (webhook-ids it answered 2xx)
	// and the dead count may overlap: a 2xx that reached the client after
	// its 300 ms timeout counts as a timeout, so the delivery is retried and
	// can still die (or be delivered a second time: at-least-once). The
	// exact statement is the dispatcher's: every delivery ends in exactly
	// one of confirmed (it saw a 2xx), dead (store) or DLQ, and
	// confirmed + dead + DLQ = 1,000. On the receiver's side: nothing is
	// lost (delivered ∪ dead ∪ DLQ covers all 1,000), every confirmed
	// delivery was answered 2xx, and a delivery both 2xx'd and dead is
	// one whose every 2xx the dispatcher missed, i.e.
	// delivered + dead + DLQ = 1,000 + (2xx'd but unconfirmed).
	for id := range byID {
		ends := 0
		for _, in := range []bool{confirmed[id], deadSet[id].ID != "", dlq[id] > 0} {
			if in {
				ends++
			}
		}
		if ends != 1 {
			t.Errorf("%s: confirmed=%v dead=%v dlq=%d; want exactly one; attempts %v; requests %d",
				id, confirmed[id], deadSet[id].ID != "", dlq[id], outcomes(logged[id]), len(seen[id]))
		}
		if confirmed[id] && !delivered[id] {
			t.Errorf("%s: the dispatcher saw a 2xx the target never sent", id)
		}
		if !delivered[id] && deadSet[id].ID == "" && dlq[id] == 0 {
			t.Errorf("%s lost: neither delivered nor dead; attempts %v", id, outcomes(logged[id]))
		}
	}
	for id, n := range dlq {
		if n != 1 {
			t.Errorf("%s: %d messages in the DLQ", id, n)
		}
	}
	unconfirmed := 0
	for id := range delivered {
		if !confirmed[id] {
			unconfirmed++
		}
	}
	if len(confirmed)+len(deadSet)+len(dlq) != relEvents {
		t.Errorf("confirmed %d + dead %d + DLQ %d = %d, want %d", len(confirmed), len(deadSet), len(dlq),
			len(confirmed)+len(deadSet)+len(dlq), relEvents)
	}
	if len(delivered)+len(deadSet)+len(dlq) != relEvents+unconfirmed {
		t.Errorf("delivered %d + dead %d + DLQ %d = %d, want %d + %d unconfirmed 2xx", len(delivered), len(deadSet), len(dlq),
			len(delivered)+len(deadSet)+len(dlq), relEvents, unconfirmed)
	}
	if requests > loggedTotal {
		t.Errorf("the target saw %d requests, the activity log holds %d attempts", requests, loggedTotal)
	}
	for id := range tg.doomed {
		if deadSet[id].ID == "" && dlq[id] == 0 {
			t.Errorf("doomed delivery %s did not die", id)
		}
	}

	// The harness did what it claims: about 30 % failures and 5 % hangs.
	if plainReq < relEvents {
		t.Errorf("only %d requests for %d deliveries", plainReq, relEvents)
	} else if f, h := float64(plainFail)/float64(plainReq), float64(plainHang)/float64(plainReq); f < 0.22 || f > 0.38 || h < 0.02 || h > 0.09 {
		t.Errorf("target failed %.1f %% and hung %.1f %% of %d requests, want about 30 %% and 5 %%", 100*f, 100*h, plainReq)
	}

	// The activity report of one connection: newest first, at most 10.
	full, err := store.Attempts(ctx, relTenant, conns[0].ID, 100*relEvents)
	if err != nil {
		t.Fatal(err)
	}
	last10, err := store.Attempts(ctx, relTenant, conns[0].ID, connections.ActivityKept)
	if err != nil {
		t.Fatal(err)
	}
	if len(last10) != min(connections.ActivityKept, len(full)) {
		t.Errorf("Attempts(10) returned %d of %d", len(last10), len(full))
	}
	if !slices.IsSortedFunc(full, func(a, b connections.Attempt) int { return cmp.Compare(b.Time, a.Time) }) {
		t.Errorf("attempts of %s not newest first", conns[0].ID)
	}
	for i, a := range last10 {
		if b := full[i]; a.Time != b.Time || a.WebhookID != b.WebhookID || a.Attempt != b.Attempt {
			t.Errorf("Attempts(10)[%d] = %s #%d at %d, want the %d-th newest %s #%d at %d", i, a.WebhookID, a.Attempt, a.Time, i+1, b.WebhookID, b.Attempt, b.Time)
		}
	}

	// Deliveries that died though their target was not doomed (expected:
	// about 980 × 0.35^8 ≈ 0.2 per run, more when 2xx answers arrive late).
	for id := range deadSet {
		if !tg.doomed[id] {
			t.Logf("died without a doomed target: %s, target answers %v, attempts %v", id, answers(seen[id]), outcomes(logged[id]))
		}
	}

	notesAll := notes.all()
	for _, n := range first(notesAll, 20) {
		t.Logf("logged: %s", n)
	}
	t.Logf("%d deliveries in %s (all accounted for after %s): delivered %d (dispatcher-confirmed %d; 2xx it missed %d; 2xx again %d), dead %d (+%d in the DLQ); "+
		"%d requests: %d 200, %d 500, %d resets, %d hangs; %d attempts logged, %d timeouts; %d log lines",
		relEvents, time.Since(began).Round(time.Millisecond), drained.Round(time.Millisecond), len(delivered), len(confirmed), unconfirmed, okAgain,
		len(deadSet), len(dlq), requests, oks, fives, resets, hangs, loggedTotal, timeouts, len(notesAll))
}

// coverage is the set of deliveries delivered, dead or in the DLQ.
func coverage(delivered map[string]bool, dead []connections.Dead, dlq map[string]int) map[string]bool {
	out := map[string]bool{}
	for id := range delivered {
		out[id] = true
	}
	for _, x := range dead {
		out[x.ID] = true
	}
	for id := range dlq {
		out[id] = true
	}
	return out
}

// queueDepth is the number of messages in a queue, visible, in flight or
// delayed.
func queueDepth(t *testing.T, q *sqs.Client, url string) int {
	t.Helper()
	out, err := q.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"} {
		v, err := strconv.Atoi(out.Attributes[k])
		if err != nil {
			t.Fatalf("%s = %q", k, out.Attributes[k])
		}
		n += v
	}
	return n
}

// queueAttrs describes what a queue holds.
func queueAttrs(t *testing.T, q *sqs.Client, url string) string {
	out, err := q.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		return err.Error()
	}
	return fmt.Sprint(out.Attributes)
}

// stuck returns the stacks of the goroutines inside the dispatcher or the
// poller.
func stuck() string {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	var out []string
	for g := range strings.SplitSeq(b.String(), "\n\n") {
		if strings.Contains(g, "shared/dispatch.") || strings.Contains(g, "pollers.(*SQSPoller)") {
			out = append(out, g)
		}
	}
	return fmt.Sprintf("%d goroutines in the dispatcher or poller:\n%s", len(out), strings.Join(first(out, 8), "\n\n"))
}

// drainDLQ receives (and deletes) every message in the DLQ, counting them
// by delivery ID.
func drainDLQ(t *testing.T, q *sqs.Client, url string, into map[string]int) {
	t.Helper()
	for {
		out, err := q.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return
		}
		for _, m := range out.Messages {
			var del connections.Delivery
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &del); err != nil {
				t.Errorf("DLQ message %s: %v", aws.ToString(m.Body), err)
			}
			into[del.ID]++
			if _, err := q.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func attemptNumbers(as []connections.Attempt) []int {
	out := make([]int, len(as))
	for i, a := range as {
		out[i] = a.Attempt
	}
	return out
}

func outcomes(as []connections.Attempt) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = fmt.Sprintf("#%d %s %dms final=%v", a.Attempt, a.Outcome, a.DurationMS, a.Final)
		if a.Error != "" {
			out[i] += " (" + a.Error + ")"
		}
	}
	return out
}

func answers(rs []received) []string {
	names := map[answer]string{answerOK: "200", answer500: "500", answerReset: "reset", answerHang: "hang"}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = names[r.answer]
	}
	return out
}

func first[T any](s []T, n int) []T { return s[:min(n, len(s))] }

// listAllDead follows ListDead's cursor to the end.
func listAllDead(ctx context.Context, store *ddbstore.Connections, tenant string) ([]connections.Dead, error) {
	var all []connections.Dead
	cursor := ""
	for {
		page, err := store.ListDead(ctx, tenant, 100, cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			return all, nil
		}
		cursor = page.Next
	}
}
