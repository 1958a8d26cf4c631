// Package dispatch is the dispatcher: the deliveries queue's consumer. It
// makes one attempt per message (the items of a batch in parallel), logs
// the batch's attempts on their connections' activity in one write, and
// then lets SQS delete each message: delivered, kept as a dead delivery
// (out of attempts, or refused for good), or queued again as a new message
// that carries the attempt count and waits out the retry schedule. When
// the activity log write fails, the attempts stay in the queue until one
// succeeds (keepUnlogged): no message is deleted with its attempt unlogged
// anywhere. A fault of the dispatcher's own (its store failing) reports
// the message failed instead, hidden for a while: it comes back with the
// count it had, so the fault spends none of the delivery's attempts.
package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/netguard"
	"github.com/startmsg/chatbackend/shared/queue"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// Sender makes one HTTP attempt.
type Sender interface {
	Send(ctx context.Context, url string, headers http.Header, body []byte) delivery.Result
}

// QueueAPI is the part of the SQS client the dispatcher uses: it queues
// retries and hides messages it cannot finish yet.
type QueueAPI interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// AttemptBatcher is a store that logs many attempts in one write
// (ddbstore.Connections does: one packed item per connection). The dispatcher logs a
// batch's attempts with it when its store has it, else one by one.
type AttemptBatcher interface {
	AddAttempts(ctx context.Context, as []connections.ConnAttempt) error
}

// MaxSendDelay is the longest SQS delays a message it is sent
// (DelaySeconds ≤ 900). A retry due later is queued with this delay and
// its due time (Task.NotBefore), then hidden until then when received.
const MaxSendDelay = 15 * time.Minute

// Dispatcher holds what an attempt needs.
type Dispatcher struct {
	Store    connections.Store
	Sender   Sender
	Queue    QueueAPI
	QueueURL string
	Now      func() time.Time
	// Jitter returns a number in [-1, 1] for the ±20 % spread of backoffs.
	Jitter func() float64
	Log    *slog.Logger
	// ConnTTL is how long the connections read are reused across batches
	// (New: ConnCacheTTL; 0: read once per batch).
	ConnTTL time.Duration

	connsOnce sync.Once
	conns     *connCache

	// Limits are the circuit breakers, the tenants' delivery rate and the
	// in-flight cap per connection (limits.go); nil: none.
	Limits *Limits
}

// New returns a dispatcher with real time and randomness.
func New(store connections.Store, sender Sender, q QueueAPI, queueURL string) *Dispatcher {
	return &Dispatcher{Store: store, Sender: sender, Queue: q, QueueURL: queueURL, Now: time.Now,
		Jitter: func() float64 { return rand.Float64()*2 - 1 }, Log: slog.Default(), ConnTTL: ConnCacheTTL}
}

// connections is what a batch reads its connections through: each is read
// once for the batch, through the process's cache when ConnTTL is set.
func (d *Dispatcher) connections() *batchConns {
	b := &batchConns{store: d.Store, m: map[string]*batchEntry{}}
	if d.ConnTTL > 0 {
		d.connsOnce.Do(func() { d.conns = newConnCache(d.Store, d.Now, d.ConnTTL) })
		d.conns.sweep()
		b.shared = d.conns
	}
	return b
}

// outcome is what became of one message of a batch.
type outcome struct {
	done bool // finished with: SQS deletes it
	// logged are the attempts to log: the one made, after those the
	// message carried unlogged (connections.Task.Unlogged).
	logged    []connections.ConnAttempt
	relog     bool              // a log-only message (connections.Task.LogOnly)
	attempted bool              // an attempt was made
	retry     *connections.Task // the next attempt's message, to queue
	wait      time.Duration     // until the next attempt is due
	hide      time.Duration     // parked in place: hidden this long (limits.go)
}

// parsed is a message's task, read once for the batch (the gates and the
// attempt both use it); ok is false when no delivery can be read from it.
type parsed struct {
	task connections.Task
	ok   bool
	err  error
}

func parseTasks(ms []events.SQSMessage) []parsed {
	ps := make([]parsed, len(ms))
	for i, m := range ms {
		p := &ps[i]
		p.err = json.Unmarshal([]byte(m.Body), &p.task)
		p.ok = p.err == nil && p.task.ID != "" && p.task.TenantID != "" && p.task.ConnectionID != ""
	}
	return ps
}

// Handle is the SQS event handler (ReportBatchItemFailures).
func (d *Dispatcher) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	outs := make([]outcome, len(ev.Records))
	ps := parseTasks(ev.Records)
	conns := d.connections()
	g := d.admit(ctx, ps)
	b := &batchHold{}
	var wg sync.WaitGroup
	for i, m := range ev.Records {
		wg.Go(func() { outs[i] = d.guarded(ctx, g, b, i, m, ps[i], conns) })
	}
	wg.Wait()
	if err := d.logAttempts(ctx, outs); err != nil {
		d.keepUnlogged(ctx, ev.Records, ps, outs)
	}
	d.queueRetries(ctx, ev.Records, outs)
	d.hideParked(ctx, ev.Records, outs)
	var failures []events.SQSBatchItemFailure
	for i, m := range ev.Records {
		if !outs[i].done {
			failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return events.SQSEventResponse{BatchItemFailures: failures}, nil
}

// handleMessage makes the message's attempt, when one is due, and says what
// is left to do with it.
func (d *Dispatcher) handleMessage(ctx context.Context, conns *batchConns, m events.SQSMessage, p parsed) outcome {
	if !p.ok {
		// Nothing can ever deliver it; keeping it would only loop.
		d.Log.ErrorContext(ctx, "unreadable delivery dropped", "message_id", m.MessageId, "err", p.err)
		return outcome{done: true}
	}
	task := p.task
	del := task.Delivery
	var carried []connections.ConnAttempt
	for _, a := range task.Unlogged {
		carried = append(carried, connections.ConnAttempt{TenantID: del.TenantID, ConnectionID: del.ConnectionID, Attempt: a})
	}
	if task.LogOnly {
		// A delivery done with whose attempts are yet to be logged.
		return outcome{done: true, logged: carried, relog: true}
	}
	if task.NotBefore > 0 {
		// A retry due after the longest delay SQS gives a sent message:
		// hide it for the rest of its wait, without an attempt.
		if due := time.UnixMilli(task.NotBefore).Sub(d.Now()); due >= time.Second {
			d.hide(ctx, m, min(due, connections.MaxDelay))
			return outcome{}
		}
	}
	attempt := task.Attempts + 1
	conn, err := conns.get(ctx, del.TenantID, del.ConnectionID, del.ConnVersion)
	if apperr.Is(err, apperr.KindNotFound) {
		d.Log.InfoContext(ctx, "delivery dropped: connection deleted", "webhook_id", del.ID, "connection", del.ConnectionID)
		return outcome{done: true}
	}
	if err != nil {
		d.Log.ErrorContext(ctx, "read connection", "err", err, "webhook_id", del.ID)
		d.fault(ctx, m)
		return outcome{}
	}
	if !conn.Enabled {
		// Not sent, not lost: kept as dead, to redrive once it is back on.
		att := connections.Attempt{Time: d.Now().UnixMilli(), WebhookID: del.ID, Attempt: attempt, Outcome: connections.OutcomeDisabled,
			Trigger: del.Trigger, RequestBody: string(del.Payload), Error: "connection switched off: " + conn.DisabledReason, Final: true}
		return outcome{done: d.keepDead(ctx, m, del, att), logged: carried}
	}
	att, res := d.try(ctx, conns, conn, del, attempt)
	o := outcome{attempted: true, logged: append(carried, connections.ConnAttempt{TenantID: conn.TenantID, ConnectionID: conn.ID, Attempt: att})}
	switch {
	case att.Outcome == connections.OutcomeSuccess:
		o.done = true
	case !att.Final:
		next := connections.Task{Delivery: del, Attempts: attempt}
		o.wait = connections.Backoff(attempt, res.RetryAfter, d.Jitter())
		if o.wait > MaxSendDelay {
			next.NotBefore = d.Now().Add(o.wait).UnixMilli()
		}
		o.retry = &next
	default:
		o.done = d.keepDead(ctx, m, del, att)
	}
	return o
}

// keepDead stores a delivery that will not be attempted again; if that
// fails the message stays queued (a fault: see fault).
func (d *Dispatcher) keepDead(ctx context.Context, m events.SQSMessage, del connections.Delivery, att connections.Attempt) bool {
	if err := d.Store.AddDead(ctx, connections.Dead{Delivery: del, LastAttempt: att, DiedAt: d.Now().Unix()}); err != nil {
		d.Log.ErrorContext(ctx, "keep dead delivery", "err", err, "webhook_id", del.ID)
		d.fault(ctx, m)
		return false
	}
	return true
}

// Attempt sends a delivery once, logs the attempt on the connection's
// activity, records the connection's health, and switches the connection
// off when the target said 410 Gone or has failed for DisableAfter. (Handle
// logs a batch's attempts together instead.)
func (d *Dispatcher) Attempt(ctx context.Context, conn connections.Connection, del connections.Delivery, attempt int) (connections.Attempt, delivery.Result) {
	att, res := d.try(ctx, nil, conn, del, attempt)
	if err := d.Store.AddAttempt(ctx, conn.TenantID, conn.ID, att); err != nil {
		d.Log.ErrorContext(ctx, "log attempt", "err", err, "webhook_id", del.ID)
	}
	return att, res
}

// try is Attempt without the activity log; the connection's changes it
// writes are told to conns (when not nil).
func (d *Dispatcher) try(ctx context.Context, conns *batchConns, conn connections.Connection, del connections.Delivery, attempt int) (connections.Attempt, delivery.Result) {
	now := d.Now()
	sig, err := webhook.Sign(conn.Signing(now), del.ID, now, del.Payload)
	var (
		res  delivery.Result
		sent map[string]string
	)
	if err != nil {
		res = delivery.Result{Outcome: connections.OutcomeSigning, Err: fmt.Errorf("sign: %w", err)}
	} else {
		hdr := webhook.Headers(del.ID, now, sig)
		res = d.Sender.Send(ctx, conn.URL, hdr, del.Payload)
		sent = sentHeaders(hdr, len(del.Payload))
	}
	success := res.Outcome == connections.OutcomeSuccess
	att := connections.Attempt{
		Time: now.UnixMilli(), WebhookID: del.ID, Attempt: attempt, Outcome: res.Outcome, HTTPCode: res.Status,
		DurationMS: res.Duration.Milliseconds(), Trigger: del.Trigger, RequestBody: string(del.Payload),
		RequestHeaders: sent, ResponseBody: res.Body, Final: success || del.Test || !delivery.Retryable(res) || attempt >= connections.MaxAttempts,
	}
	if res.Err != nil {
		att.Error = res.Err.Error()
	}
	d.Log.InfoContext(ctx, "attempt", "tenant", del.TenantID, "connection", conn.ID, "webhook_id", del.ID, "attempt", attempt,
		"outcome", res.Outcome, "http_code", res.Status, "duration_ms", att.DurationMS, "final", att.Final)
	emitMetric(res.Outcome, att.DurationMS)
	d.noteResult(ctx, conn, res, now)
	if del.Test {
		return att, res
	}
	// The connection's health changes only on the first failure of a run
	// and on the first success after one: most attempts write nothing here.
	after := conn
	if success == (conn.FailingSince != 0) {
		var err error
		if after, err = d.Store.RecordResult(ctx, conn.TenantID, conn.ID, success, now); err != nil {
			d.Log.ErrorContext(ctx, "record result", "err", err, "connection", conn.ID)
			return att, res
		}
		if conns != nil && after.TenantID == conn.TenantID && after.ID == conn.ID {
			conns.put(after)
		}
	}
	reason := ""
	switch {
	case res.Status == http.StatusGone:
		reason = "The target answered 410 Gone (unsubscribed)."
	case !success && after.FailingSince > 0 && now.Sub(time.Unix(after.FailingSince, 0)) >= connections.DisableAfter:
		reason = "Every attempt failed for 5 days."
	}
	if reason != "" && after.Enabled {
		if err := d.Store.Disable(ctx, conn.TenantID, conn.ID, reason, now); err != nil {
			d.Log.ErrorContext(ctx, "disable connection", "err", err, "connection", conn.ID)
		}
		if conns != nil {
			conns.drop(conn.TenantID, conn.ID)
		}
	}
	return att, res
}

// sentHeaders are the headers a request with headers h and a body of n
// bytes carries on the wire, as the activity log keeps them: h's (one
// value each) and the Content-Length Go's transport adds. (The client asks
// for no compression, so no Accept-Encoding is added; Host is the URL's.)
func sentHeaders(h http.Header, n int) map[string]string {
	out := make(map[string]string, len(h)+1)
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	out["Content-Length"] = strconv.Itoa(n)
	return out
}

// logAttempts writes the attempts of a batch to their connections'
// activity, in one call when the store can. A failure is returned (and
// logged): keepUnlogged then keeps the attempts in the queue.
func (d *Dispatcher) logAttempts(ctx context.Context, outs []outcome) error {
	var as []connections.ConnAttempt
	for _, o := range outs {
		as = append(as, o.logged...)
	}
	if len(as) == 0 {
		return nil
	}
	if b, ok := d.Store.(AttemptBatcher); ok {
		err := b.AddAttempts(ctx, as)
		if err != nil {
			d.Log.ErrorContext(ctx, "log attempts", "err", err, "attempts", len(as))
		}
		return err
	}
	var failed error
	for _, a := range as {
		if err := d.Store.AddAttempt(ctx, a.TenantID, a.ConnectionID, a.Attempt); err != nil {
			d.Log.ErrorContext(ctx, "log attempt", "err", err, "webhook_id", a.WebhookID)
			failed = err
		}
	}
	return failed
}

// keepUnlogged keeps the attempts of a batch whose activity log write
// failed in the queue, so that none is lost: each message's attempts
// travel on until a write of them succeeds. A delivery to be tried again
// carries them in its next message (connections.Task.Unlogged; they are
// logged with its next attempt). A delivery done with (delivered, or kept
// as dead) is queued again as a log-only message (LogOnly: nothing is
// sent), delayed by faultBase for the store to recover; its message is
// done with only once that one is queued, else it is hidden for faultBase
// and comes back, and its attempt is made again (the receiver may see it
// twice). A log-only message whose write failed again is a fault: it stays,
// hidden for FaultBackoff of its receives. (With a store that logs one
// attempt at a time, a batch with one failed write is kept whole: the
// attempts written are then logged twice.)
func (d *Dispatcher) keepUnlogged(ctx context.Context, ms []events.SQSMessage, ps []parsed, outs []outcome) {
	for i := range outs {
		o := &outs[i]
		if len(o.logged) == 0 {
			continue
		}
		atts := make([]connections.Attempt, len(o.logged))
		for j, a := range o.logged {
			atts[j] = a.Attempt
		}
		switch {
		case o.relog:
			o.done = false
			d.fault(ctx, ms[i])
		case o.retry != nil:
			o.retry.Unlogged = atts
		case o.done:
			t := ps[i].task
			t.Unlogged, t.LogOnly, t.NotBefore, t.RateSlot = atts, true, 0, 0
			o.done, o.retry, o.wait = false, &t, faultBase
		}
	}
}

// queueRetries queues the next attempt of every delivery of the batch that
// is to be tried again, as new messages carrying the attempt count, delayed
// by their wait (at most MaxSendDelay; longer waits are finished by
// hiding, see handleMessage); the old messages are then done with. One
// SendMessageBatch for a batch; if it fails, each entry is sent alone. A
// delivery whose new message could not be queued keeps its old message,
// hidden for the wait: it comes back with its old count, and the attempt
// just made is made again under the same number (the queue's redrive limit
// bounds such repeats).
func (d *Dispatcher) queueRetries(ctx context.Context, ms []events.SQSMessage, outs []outcome) {
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, o := range outs {
		if o.retry == nil {
			continue
		}
		body, err := json.Marshal(o.retry)
		if err != nil {
			d.Log.ErrorContext(ctx, "queue retry", "err", err, "webhook_id", o.retry.ID)
			d.hide(ctx, ms[i], o.wait)
			continue
		}
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)), DelaySeconds: delaySeconds(o.wait),
			MessageGroupId: queue.GroupID(o.retry.TenantID),
		})
	}
	for start := 0; start < len(entries); start += 10 {
		chunk := entries[start:min(start+10, len(entries))]
		sent := d.send(ctx, chunk)
		if sent == nil && len(chunk) > 1 {
			// The call failed (not its entries): one entry may have made it
			// too long, or the queue was briefly unavailable.
			sent = map[string]bool{}
			for _, e := range chunk {
				for id := range d.send(ctx, []sqstypes.SendMessageBatchRequestEntry{e}) {
					sent[id] = true
				}
			}
		}
		for _, e := range chunk {
			i, _ := strconv.Atoi(aws.ToString(e.Id))
			if sent[aws.ToString(e.Id)] {
				outs[i].done = true
				continue
			}
			d.hide(ctx, ms[i], outs[i].wait)
		}
	}
}

// send makes one SendMessageBatch call and returns the IDs of the entries
// SQS accepted, or nil when the call failed.
func (d *Dispatcher) send(ctx context.Context, entries []sqstypes.SendMessageBatchRequestEntry) map[string]bool {
	out, err := d.Queue.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(d.QueueURL), Entries: entries})
	if err != nil {
		d.Log.ErrorContext(ctx, "queue retries", "err", err, "messages", len(entries))
		return nil
	}
	sent := make(map[string]bool, len(out.Successful))
	for _, s := range out.Successful {
		sent[aws.ToString(s.Id)] = true
	}
	for _, f := range out.Failed {
		d.Log.ErrorContext(ctx, "queue retry", "code", aws.ToString(f.Code), "message", aws.ToString(f.Message))
	}
	return sent
}

// delaySeconds is a wait as SendMessage's DelaySeconds: whole seconds,
// rounded up, at most MaxSendDelay.
func delaySeconds(wait time.Duration) int32 {
	return int32((min(wait, MaxSendDelay) + time.Second - 1) / time.Second)
}

// Fault backoff: the dispatcher's own faults hide a message for
// faultBase, doubling with each receive of it, at most faultCap.
const (
	faultBase = 5 * time.Second
	faultCap  = 15 * time.Minute
)

// FaultBackoff is how long a message is hidden after the dispatcher failed
// on it at its receives-th receive (from 1): 5 s, 10 s, 20 s, … at most
// 15 minutes. Over the queue's redrive limit (queue.MaxReceiveCount
// receives) that rides out about two hours of failure before SQS moves the
// message to the DLQ.
func FaultBackoff(receives int) time.Duration {
	n := min(max(receives, 1), 16) - 1
	return min(faultBase<<n, faultCap)
}

// fault handles a fault of the dispatcher's own on a message (its store
// failed): the message is reported failed, hidden for FaultBackoff of its
// receive count. Its attempt count is unchanged, so the fault spends none
// of the delivery's attempts.
func (d *Dispatcher) fault(ctx context.Context, m events.SQSMessage) {
	receives, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	d.hide(ctx, m, FaultBackoff(receives))
}

// hide keeps a message invisible for wait (whole seconds, rounded up, at
// least 1 s, at most MaxDelay); the caller reports it failed, so SQS keeps
// it. Never 0 s: fauxqs 2.4.1 keeping its queues on disk (make run)
// answers 500 to VisibilityTimeout 0 after taking the message out of
// flight without putting it back, which loses it until the emulator
// restarts; a second costs next to nothing.
func (d *Dispatcher) hide(ctx context.Context, m events.SQSMessage, wait time.Duration) {
	_, err := d.Queue.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(d.QueueURL),
		ReceiptHandle:     aws.String(m.ReceiptHandle),
		VisibilityTimeout: max(1, int32((min(wait, connections.MaxDelay)+time.Second-1)/time.Second)),
	})
	if err != nil {
		// The message comes back after the queue's visibility timeout.
		d.Log.ErrorContext(ctx, "change visibility", "err", err, "message_id", m.MessageId)
	}
}

// emitMetric writes a CloudWatch Embedded Metric Format line: the bytes
// json.Marshal makes of the document emfDocument describes, written out
// directly (one per attempt; marshalling the maps cost as much CPU as the
// rest of the attempt's own work).
func emitMetric(outcome connections.Outcome, ms int64) {
	metricsOut(appendMetric(make([]byte, 0, 320), outcome, ms, time.Now().UnixMilli()))
}

// appendMetric appends the EMF line of one attempt.
func appendMetric(b []byte, outcome connections.Outcome, ms, at int64) []byte {
	if !plainJSON(string(outcome)) {
		doc, _ := json.Marshal(emfDocument(outcome, ms, at))
		return append(b, doc...)
	}
	b = append(b, `{"Deliveries":1,"DeliveryLatency":`...)
	b = strconv.AppendInt(b, ms, 10)
	b = append(b, `,"Outcome":"`...)
	b = append(b, outcome...)
	b = append(b, `","_aws":{"CloudWatchMetrics":[{"Dimensions":[["Outcome"]],"Metrics":[{"Name":"Deliveries","Unit":"Count"},{"Name":"DeliveryLatency","Unit":"Milliseconds"}],"Namespace":"ChatBackend"}],"Timestamp":`...)
	b = strconv.AppendInt(b, at, 10)
	return append(b, "}}"...)
}

// emfDocument is the EMF document of one attempt.
func emfDocument(outcome connections.Outcome, ms, at int64) map[string]any {
	return map[string]any{
		"_aws": map[string]any{
			"Timestamp": at,
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "ChatBackend",
				"Dimensions": [][]string{{"Outcome"}},
				"Metrics":    []any{map[string]string{"Name": "Deliveries", "Unit": "Count"}, map[string]string{"Name": "DeliveryLatency", "Unit": "Milliseconds"}},
			}},
		},
		"Outcome":         string(outcome),
		"Deliveries":      1,
		"DeliveryLatency": ms,
	}
}

// plainJSON reports whether json.Marshal writes s as it is, in quotes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// Policy is the SSRF guard's policy for this deployment: loopback targets
// only under `make run` (ALLOW_LOOPBACK_TARGETS=true), HTTPS everywhere else.
func Policy(getenv func(string) string) netguard.Policy {
	dev := getenv(appenv.AllowLoopbackTargets) == "true"
	return netguard.Policy{AllowLoopback: dev, RequireHTTPS: !dev}
}

// Ports are what the dispatcher is built from; shared/wiring provides them.
type Ports interface {
	ConnectionStore() connections.Store
	Setting(key string) string
	AWSConfig() aws.Config
	Queues() (deliveries, dlq string)
	Clock() func() time.Time
}

// Build wires the dispatcher for Lambda and the local poller.
func Build(p Ports) lambdaapp.QueueHandler {
	deliveries, _ := p.Queues()
	disp := New(p.ConnectionStore(), delivery.New(Policy(p.Setting), delivery.AttemptTimeout),
		sqs.NewFromConfig(p.AWSConfig()), deliveries)
	disp.Now = p.Clock()
	disp.Limits = NewLimits(disp.Store, connections.DeliveryLimitsFrom(p.Setting))
	connections.ApplyProbeSettings(p.Setting)
	return disp.Handle
}

// ConnCacheTTL is how long a dispatcher process reuses a connection it
// read (New sets it; a Dispatcher built without New reads each connection
// once per batch). Within it a change made elsewhere reaches deliveries
// late: a connection deleted, switched off, or given a new URL, fields or
// secrets is still used as read for at most ConnCacheTTL by the deliveries
// that were routed before the change (a delivery carries the connection's
// Version the router saw, and a cached copy older than that is read
// again); the dispatcher's own writes (health, switching off) update or
// drop the cached copy at once. A rotated secret keeps the old one valid
// for far longer than this, so receivers accept either.
const ConnCacheTTL = time.Second

// connCache is the dispatcher's connections: each is read once however
// many deliveries of a batch, or of batches handled at once, are for it,
// and reused for ttl (0: for the batch only; see ConnCacheTTL). Errors are
// not kept beyond the read that met them.
type connCache struct {
	store connections.Store
	now   func() time.Time
	ttl   time.Duration
	mu    sync.Mutex
	m     map[string]*connEntry
}

type connEntry struct {
	ready chan struct{} // closed once conn and err are set
	conn  connections.Connection
	err   error
	at    time.Time // when the read was made
}

func newConnCache(store connections.Store, now func() time.Time, ttl time.Duration) *connCache {
	return &connCache{store: store, now: now, ttl: ttl, m: map[string]*connEntry{}}
}

func connKey(tenantID, id string) string { return tenantID + "#" + id }

// get returns the connection, read now unless a read of it at least
// minVersion new was made less than ttl ago (or is under way).
func (c *connCache) get(ctx context.Context, tenantID, id string, minVersion int64) (connections.Connection, error) {
	k := connKey(tenantID, id)
	c.mu.Lock()
	e, ok := c.m[k]
	if ok {
		select {
		case <-e.ready:
			if e.err != nil || c.now().Sub(e.at) >= c.ttl || e.conn.Version < minVersion {
				ok = false
			}
		default: // a read under way: share it
		}
	}
	if ok {
		c.mu.Unlock()
		<-e.ready
		return e.conn, e.err
	}
	e = &connEntry{ready: make(chan struct{}), at: c.now()}
	c.m[k] = e
	c.mu.Unlock()
	e.conn, e.err = c.store.GetConnection(ctx, tenantID, id)
	close(e.ready)
	if e.err != nil {
		c.drop(tenantID, id, e)
	}
	return e.conn, e.err
}

// put replaces the cached copy with a newer one the dispatcher wrote.
func (c *connCache) put(conn connections.Connection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := connKey(conn.TenantID, conn.ID)
	if e, ok := c.m[k]; ok {
		select {
		case <-e.ready:
			if e.err != nil || e.conn.Version > conn.Version {
				return
			}
		default:
			return // a read under way will bring it
		}
	}
	e := &connEntry{ready: make(chan struct{}), conn: conn, at: c.now()}
	close(e.ready)
	c.m[k] = e
}

// drop forgets a connection (only entry e of it, when e is not nil), so
// that the next delivery for it reads it again.
func (c *connCache) drop(tenantID, id string, e *connEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := connKey(tenantID, id)
	if e == nil || c.m[k] == e {
		delete(c.m, k)
	}
}

// sweep forgets the entries older than ttl, so that a long-lived process
// does not keep every connection it ever served.
func (c *connCache) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, e := range c.m {
		select {
		case <-e.ready:
			if now.Sub(e.at) >= c.ttl {
				delete(c.m, k)
			}
		default:
		}
	}
}

// batchConns reads each connection of a batch once, however many of the
// batch's deliveries are for it (a failed read included), through the
// process's cache when there is one.
type batchConns struct {
	store  connections.Store
	shared *connCache // nil: none
	mu     sync.Mutex
	m      map[string]*batchEntry
}

type batchEntry struct {
	once sync.Once
	conn connections.Connection
	err  error
}

func (b *batchConns) get(ctx context.Context, tenantID, id string, minVersion int64) (connections.Connection, error) {
	k := connKey(tenantID, id) + "#" + strconv.FormatInt(minVersion, 10)
	b.mu.Lock()
	e, ok := b.m[k]
	if !ok {
		e = &batchEntry{}
		b.m[k] = e
	}
	b.mu.Unlock()
	e.once.Do(func() {
		if b.shared != nil {
			e.conn, e.err = b.shared.get(ctx, tenantID, id, minVersion)
			return
		}
		e.conn, e.err = b.store.GetConnection(ctx, tenantID, id)
	})
	return e.conn, e.err
}

// put tells the process's cache of a newer copy the dispatcher wrote.
func (b *batchConns) put(conn connections.Connection) {
	if b.shared != nil {
		b.shared.put(conn)
	}
}

// drop makes the process's cache forget a connection the dispatcher
// changed without reading it back.
func (b *batchConns) drop(tenantID, id string) {
	if b.shared != nil {
		b.shared.drop(tenantID, id, nil)
	}
}
