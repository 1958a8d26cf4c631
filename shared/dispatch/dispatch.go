// Package dispatch is the dispatcher: the deliveries queue's consumer. It
// makes one attempt per message (the items of a batch in parallel), logs it
// on the connection's activity, and then either lets SQS delete the message
// (success, or a final failure kept as a dead delivery) or reports it failed
// after pushing its visibility out to the next step of the retry schedule.
package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/netguard"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// Sender makes one HTTP attempt.
type Sender interface {
	Send(ctx context.Context, url string, headers http.Header, body []byte) delivery.Result
}

// Visibility is the part of the SQS client the dispatcher uses.
type Visibility interface {
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Dispatcher holds what an attempt needs.
type Dispatcher struct {
	Store    connections.Store
	Sender   Sender
	Queue    Visibility
	QueueURL string
	Now      func() time.Time
	// Jitter returns a number in [-1, 1] for the ±20 % spread of backoffs.
	Jitter func() float64
	Log    *slog.Logger
}

// New returns a dispatcher with real time and randomness.
func New(store connections.Store, sender Sender, q Visibility, queueURL string) *Dispatcher {
	return &Dispatcher{Store: store, Sender: sender, Queue: q, QueueURL: queueURL, Now: time.Now,
		Jitter: func() float64 { return rand.Float64()*2 - 1 }, Log: slog.Default()}
}

// Handle is the SQS event handler (ReportBatchItemFailures).
func (d *Dispatcher) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu       sync.Mutex
		failures []events.SQSBatchItemFailure
		wg       sync.WaitGroup
	)
	conns := &connCache{store: d.Store, m: map[string]*connEntry{}}
	for _, m := range ev.Records {
		wg.Go(func() {
			if !d.handleMessage(ctx, conns, m) {
				mu.Lock()
				failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return events.SQSEventResponse{BatchItemFailures: failures}, nil
}

// handleMessage reports whether the message is done with (delete it).
func (d *Dispatcher) handleMessage(ctx context.Context, conns *connCache, m events.SQSMessage) bool {
	var del connections.Delivery
	if err := json.Unmarshal([]byte(m.Body), &del); err != nil || del.ID == "" || del.TenantID == "" || del.ConnectionID == "" {
		// Nothing can ever deliver it; keeping it would only loop.
		d.Log.ErrorContext(ctx, "unreadable delivery dropped", "message_id", m.MessageId, "err", err)
		return true
	}
	attempt, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	attempt = max(attempt, 1)
	conn, err := conns.get(ctx, del.TenantID, del.ConnectionID)
	if apperr.Is(err, apperr.KindNotFound) {
		d.Log.InfoContext(ctx, "delivery dropped: connection deleted", "webhook_id", del.ID, "connection", del.ConnectionID)
		return true
	}
	if err != nil {
		d.Log.ErrorContext(ctx, "read connection", "err", err, "webhook_id", del.ID)
		return d.retryLater(ctx, m, connections.Schedule[0])
	}
	if !conn.Enabled {
		// Not sent, not lost: kept as dead, to redrive once it is back on.
		att := connections.Attempt{Time: d.Now().UnixMilli(), WebhookID: del.ID, Attempt: attempt, Outcome: connections.OutcomeDisabled,
			Trigger: del.Trigger, RequestBody: string(del.Payload), Error: "connection switched off: " + conn.DisabledReason, Final: true}
		return d.keepDead(ctx, m, del, att)
	}
	att, res := d.Attempt(ctx, conn, del, attempt)
	switch {
	case att.Outcome == connections.OutcomeSuccess:
		return true
	case !att.Final:
		return d.retryLater(ctx, m, connections.Backoff(attempt, res.RetryAfter, d.Jitter()))
	default:
		return d.keepDead(ctx, m, del, att)
	}
}

// keepDead stores a delivery that will not be attempted again; if that
// fails the message stays queued (SQS tries again, then moves it to the DLQ).
func (d *Dispatcher) keepDead(ctx context.Context, m events.SQSMessage, del connections.Delivery, att connections.Attempt) bool {
	if err := d.Store.AddDead(ctx, connections.Dead{Delivery: del, LastAttempt: att, DiedAt: d.Now().Unix()}); err != nil {
		d.Log.ErrorContext(ctx, "keep dead delivery", "err", err, "webhook_id", del.ID)
		return d.retryLater(ctx, m, connections.Schedule[0])
	}
	return true
}

// Attempt sends a delivery once, records the attempt on the connection's
// activity and the connection's health, and switches the connection off
// when the target said 410 Gone or has failed for DisableAfter.
func (d *Dispatcher) Attempt(ctx context.Context, conn connections.Connection, del connections.Delivery, attempt int) (connections.Attempt, delivery.Result) {
	now := d.Now()
	sig, err := webhook.Sign(conn.Signing(now), del.ID, now, del.Payload)
	var res delivery.Result
	if err != nil {
		res = delivery.Result{Outcome: connections.OutcomeSigning, Err: fmt.Errorf("sign: %w", err)}
	} else {
		res = d.Sender.Send(ctx, conn.URL, webhook.Headers(del.ID, now, sig), del.Payload)
	}
	success := res.Outcome == connections.OutcomeSuccess
	att := connections.Attempt{
		Time: now.UnixMilli(), WebhookID: del.ID, Attempt: attempt, Outcome: res.Outcome, HTTPCode: res.Status,
		DurationMS: res.Duration.Milliseconds(), Trigger: del.Trigger, RequestBody: string(del.Payload),
		ResponseBody: res.Body, Final: success || del.Test || !delivery.Retryable(res) || attempt >= connections.MaxAttempts,
	}
	if res.Err != nil {
		att.Error = res.Err.Error()
	}
	d.Log.InfoContext(ctx, "attempt", "tenant", del.TenantID, "connection", conn.ID, "webhook_id", del.ID, "attempt", attempt,
		"outcome", res.Outcome, "http_code", res.Status, "duration_ms", att.DurationMS, "final", att.Final)
	emitMetric(res.Outcome, att.DurationMS)
	if err := d.Store.AddAttempt(ctx, conn.TenantID, conn.ID, att); err != nil {
		d.Log.ErrorContext(ctx, "log attempt", "err", err, "webhook_id", del.ID)
	}
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
	}
	return att, res
}

// retryLater hides the message until the next attempt is due and reports it
// failed, so SQS keeps it.
func (d *Dispatcher) retryLater(ctx context.Context, m events.SQSMessage, wait time.Duration) bool {
	_, err := d.Queue.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(d.QueueURL),
		ReceiptHandle:     aws.String(m.ReceiptHandle),
		VisibilityTimeout: int32(wait / time.Second),
	})
	if err != nil {
		// The message comes back after the queue's visibility timeout.
		d.Log.ErrorContext(ctx, "change visibility", "err", err, "message_id", m.MessageId)
	}
	return false
}

// emitMetric writes a CloudWatch Embedded Metric Format line.
func emitMetric(outcome connections.Outcome, ms int64) {
	b, _ := json.Marshal(map[string]any{
		"_aws": map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "ChatBackend",
				"Dimensions": [][]string{{"Outcome"}},
				"Metrics":    []any{map[string]string{"Name": "Deliveries", "Unit": "Count"}, map[string]string{"Name": "DeliveryLatency", "Unit": "Milliseconds"}},
			}},
		},
		"Outcome":         string(outcome),
		"Deliveries":      1,
		"DeliveryLatency": ms,
	})
	metricsOut(b)
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
	return disp.Handle
}

// connCache reads each connection of a batch once, however many of the
// batch's deliveries are for it.
type connCache struct {
	store connections.Store
	mu    sync.Mutex
	m     map[string]*connEntry
}

type connEntry struct {
	once sync.Once
	conn connections.Connection
	err  error
}

func (c *connCache) get(ctx context.Context, tenantID, id string) (connections.Connection, error) {
	c.mu.Lock()
	e, ok := c.m[tenantID+"#"+id]
	if !ok {
		e = &connEntry{}
		c.m[tenantID+"#"+id] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.conn, e.err = c.store.GetConnection(ctx, tenantID, id) })
	return e.conn, e.err
}
