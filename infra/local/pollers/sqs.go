package pollers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSPoller receives batches from a queue and hands them to Handler like a
// Lambda SQS event source with ReportBatchItemFailures: after a handler
// error (or panic) nothing is deleted and the whole batch comes back after
// its visibility timeout; otherwise every message is deleted except those
// named in BatchItemFailures, whose visibility is left as the handler set it.
//
// Every ReceiveMessage is sent once: the SDK does not retry it (see
// receiveOnce); a failed receive is logged and the next poll follows. A
// message that the queue hands to a receive whose answer never arrives
// (the connection failed while the answer was on its way) is hidden only
// for ReceiveVisibility, not for the queue's visibility timeout: each
// receive asks for that short visibility, and the poller extends the
// messages of every answer it does read to the queue's visibility timeout
// before the handler sees them (see extend). Cancelling Run's context does
// not abandon the long polls under way (see receive).
type SQSPoller struct {
	Client   *sqs.Client
	QueueURL string
	QueueARN string // eventSourceARN of the records; its region is their awsRegion
	// BatchSize is the most messages per batch, 1 to 10 (default 10).
	BatchSize int
	// Concurrency is how many batches are received and handled at once
	// (default 2).
	Concurrency int
	// WaitTime is the long-polling wait per receive, whole seconds from 1 s
	// to 20 s (default 20 s, as Lambda).
	WaitTime time.Duration
	Handler  func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
	Logger   *slog.Logger // default slog.Default()
	// Drain, when positive, lets the batches in hand finish when Run's
	// context is cancelled, as Lambda lets an invocation run to its end when
	// its event source stops: their handler's context ends Drain later.
	// Default: at once.
	Drain time.Duration
	// Fair shares the pollers between message groups (tenants) as SQS fair
	// queues do, which the emulator does not: see fairQueue. Default: off.
	Fair bool
	// GroupOf names a message's group (default: its MessageGroupId
	// attribute).
	GroupOf func(types.Message) string
	// ReceiveVisibility is how long a receive hides its messages until the
	// poller has read the answer and extended them to the queue's
	// visibility timeout: how long the messages of a lost answer stay
	// hidden. Whole seconds, default 5 s (reading an answer and sending
	// the extension take milliseconds, seconds on a loaded machine; a
	// message whose extension comes too late is left to the queue, not
	// lost). Negative: receives hide their messages for the queue's
	// visibility timeout, as Lambda's do. Not used when the queue's
	// visibility timeout is not longer.
	ReceiveVisibility time.Duration

	// visibility is the queue's visibility timeout in seconds when
	// receives ask for ReceiveVisibility (0: they do not).
	visibility int32
}

// DefaultReceiveVisibility is SQSPoller.ReceiveVisibility's default.
const DefaultReceiveVisibility = 5 * time.Second

// Run polls until ctx is cancelled, then returns nil once the batches in
// hand are finished and the pending long polls have ended (within
// WaitTime; what they bring is put back on the queue). It returns an error
// only for an invalid configuration.
func (p *SQSPoller) Run(ctx context.Context) error {
	c := *p
	if c.BatchSize == 0 {
		c.BatchSize = 10
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.WaitTime == 0 {
		c.WaitTime = 20 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.Client == nil || c.QueueURL == "" || c.Handler == nil:
		return errors.New("sqs poller: Client, QueueURL and Handler are required")
	case c.BatchSize < 1 || c.BatchSize > 10:
		return fmt.Errorf("sqs poller: BatchSize %d not in 1..10", c.BatchSize)
	case c.WaitTime < time.Second || c.WaitTime > 20*time.Second:
		return fmt.Errorf("sqs poller: WaitTime %s not in 1s..20s", c.WaitTime)
	}
	if d, ok := httpTimeout(c.Client.Options().HTTPClient); ok && d < c.WaitTime+longPollMargin {
		// The client would give up on long polls that the queue still
		// answers, with the messages it hands them.
		return fmt.Errorf("sqs poller: the SQS client's HTTP timeout %s cuts a %s long poll short (want at least %s)",
			d, c.WaitTime, c.WaitTime+longPollMargin)
	}
	if c.ReceiveVisibility == 0 {
		c.ReceiveVisibility = DefaultReceiveVisibility
	}
	if c.ReceiveVisibility > 0 && (c.ReceiveVisibility < time.Second || c.ReceiveVisibility%time.Second != 0) {
		return fmt.Errorf("sqs poller: ReceiveVisibility %s is not a whole number of seconds", c.ReceiveVisibility)
	}
	if c.ReceiveVisibility > 0 {
		c.visibility = c.queueVisibility(ctx)
	}
	if c.Fair {
		c.runFair(ctx)
		return nil
	}
	var wg sync.WaitGroup
	for range c.Concurrency {
		wg.Go(func() { c.poll(ctx) })
	}
	wg.Wait()
	return nil
}

func (p *SQSPoller) poll(ctx context.Context) {
	for ctx.Err() == nil {
		out, err := p.receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				msg := "sqs poller: receive"
				var answered interface{ HTTPStatusCode() int }
				if errors.As(err, &answered) && answered.HTTPStatusCode()/100 == 2 {
					msg = "sqs poller: receive answer lost; the messages it held stay invisible until the queue's visibility timeout"
					if p.visibility > 0 {
						msg = "sqs poller: receive answer lost; the messages it held come back after ReceiveVisibility"
					}
				}
				p.Logger.ErrorContext(ctx, msg, "queue", p.QueueURL, "err", err)
				_ = sleep(ctx, time.Second)
			}
			continue
		}
		msgs := out.Messages
		if len(msgs) > 0 && ctx.Err() != nil {
			// Received after Run's context ended: back to the queue.
			p.release(ctx, msgs)
			return
		}
		if len(msgs) > 0 && p.visibility > 0 {
			msgs = p.extend(ctx, msgs)
		}
		if len(msgs) > 0 {
			p.handle(ctx, msgs)
		}
	}
}

// receive sends one ReceiveMessage. Run's cancellation does not cut a long
// poll short: the queue would still answer the abandoned poll when a
// message arrives (fauxqs does; so may SQS), handing the message to nobody,
// and the message would stay invisible for its visibility timeout. The
// poll ends on its own within WaitTime; after the cancellation it is given
// WaitTime plus longPollMargin at most.
func (p *SQSPoller) receive(ctx context.Context) (*sqs.ReceiveMessageOutput, error) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(p.WaitTime+longPollMargin, cancel) })
	defer stop()
	in := &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.QueueURL),
		MaxNumberOfMessages:         int32(p.BatchSize),
		WaitTimeSeconds:             int32(p.WaitTime / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	}
	if p.visibility > 0 {
		in.VisibilityTimeout = int32(p.ReceiveVisibility / time.Second)
	}
	return p.Client.ReceiveMessage(rctx, in, receiveOnce)
}

// queueVisibility reads the queue's visibility timeout (a few tries) and
// returns it when it is longer than ReceiveVisibility, else 0: receives
// then hide their messages for the queue's visibility timeout.
func (p *SQSPoller) queueVisibility(ctx context.Context) int32 {
	var err error
	for try := range 3 {
		if try > 0 && sleep(ctx, time.Second) != nil {
			break
		}
		var out *sqs.GetQueueAttributesOutput
		out, err = p.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl:       aws.String(p.QueueURL),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout},
		})
		if err != nil {
			continue
		}
		v, perr := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameVisibilityTimeout)])
		if perr != nil {
			err = fmt.Errorf("VisibilityTimeout %q: %w", out.Attributes[string(types.QueueAttributeNameVisibilityTimeout)], perr)
			continue
		}
		if time.Duration(v)*time.Second <= p.ReceiveVisibility {
			return 0
		}
		return int32(v)
	}
	if ctx.Err() == nil {
		p.Logger.ErrorContext(ctx, "sqs poller: the queue's visibility timeout is unknown; receives hide their messages for it, and those of a lost answer stay hidden as long",
			"queue", p.QueueURL, "err", err)
	}
	return 0
}

// extend gives the messages of a receive's answer the queue's visibility
// timeout, which the handler counts on, and returns those it holds: a
// message whose short visibility ended before the extension (the answer
// was slow to arrive or to be read) is back on the queue, or already with
// another receive, and is left to it. When the call itself fails, every
// message is handed on: its extension may have been made, and a message
// kept back then would stay hidden for the queue's visibility timeout;
// handed on, it is at worst handled twice (the handler's deliveries are
// at least once), never stranded.
//
// This is what makes a lost answer cost ReceiveVisibility rather than the
// queue's visibility timeout: the queue hides the messages of a receive
// whether or not its answer arrives, and nothing in the answer's absence
// names them.
func (p *SQSPoller) extend(ctx context.Context, msgs []types.Message) []types.Message {
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: p.visibility}
	}
	// Bookkeeping of messages in hand: finished even when shutting down.
	out, err := p.Client.ChangeMessageVisibilityBatch(context.WithoutCancel(ctx), &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries})
	if err != nil {
		p.Logger.ErrorContext(ctx, "sqs poller: extend the visibility of received messages; handled anyway", "queue", p.QueueURL, "messages", len(msgs), "err", err)
		return msgs
	}
	if len(out.Failed) == 0 {
		return msgs
	}
	gone := make(map[int]bool, len(out.Failed))
	for _, f := range out.Failed {
		i, err := strconv.Atoi(aws.ToString(f.Id))
		if err != nil || i < 0 || i >= len(msgs) {
			continue
		}
		gone[i] = true
		p.Logger.WarnContext(ctx, "sqs poller: a received message's visibility ended before it was extended; left to the queue",
			"queue", p.QueueURL, "message", aws.ToString(msgs[i].MessageId), "code", aws.ToString(f.Code))
	}
	kept := make([]types.Message, 0, len(msgs)-len(gone))
	for i, m := range msgs {
		if !gone[i] {
			kept = append(kept, m)
		}
	}
	return kept
}

// releaseVisibility is how long released messages stay hidden: 1 s, not
// 0 (fauxqs 2.4.1 keeping its queues on disk answers 500 to a visibility
// of 0 and loses the message until it restarts).
const releaseVisibility = 1

// release puts messages received while shutting down back on the queue.
func (p *SQSPoller) release(ctx context.Context, msgs []types.Message) {
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: releaseVisibility}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	out, err := p.Client.ChangeMessageVisibilityBatch(rctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries})
	switch {
	case err != nil:
		p.Logger.ErrorContext(ctx, "sqs poller: release at shutdown; the messages come back after their visibility timeout", "queue", p.QueueURL, "messages", len(msgs), "err", err)
	case len(out.Failed) > 0:
		p.Logger.ErrorContext(ctx, "sqs poller: release at shutdown", "queue", p.QueueURL, "failed", len(out.Failed), "code", aws.ToString(out.Failed[0].Code))
	}
}

// receiveOnce keeps the SDK from retrying a ReceiveMessage. A receive is
// not idempotent: the queue hides the messages it hands out whether or not
// its answer arrives. When the answer is lost on the way (the connection
// fails while the body is read: "connection reset", "use of closed network
// connection", which the SDK's standard retryer retries), a retry by the
// SDK receives other messages and returns as if nothing had happened, and
// the lost batch stays in flight, unseen, until its visibility timeout. Sent
// once, the failure reaches poll, which logs it and polls again.
//
// A retry would be harmless only when the queue cannot have taken the
// request: the connection was refused, or nothing of it was written. A
// failure on a reused connection before any byte of the answer (EOF,
// reset) is not such a case: the queue may have dequeued a batch and died,
// or closed, before answering. poll's next receive, a second later, is the retry for
// every case, and the log says which case it was.
func receiveOnce(o *sqs.Options) { o.Retryer = aws.NopRetryer{} }

// longPollMargin is how much longer than a long poll the HTTP client must
// be willing to wait for its answer.
const longPollMargin = 5 * time.Second

// httpTimeout is the shortest time limit c puts on a request or on a
// silence of the connection, when it has one that can be read.
func httpTimeout(c any) (time.Duration, bool) {
	var limits []time.Duration
	switch c := c.(type) {
	case *awshttp.BuildableClient:
		limits = append(limits, c.GetTimeout())
		if d, ok := c.GetReadTimeout(); ok {
			limits = append(limits, d)
		}
	case *http.Client:
		limits = append(limits, c.Timeout)
	}
	var shortest time.Duration
	for _, d := range limits {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	return shortest, shortest > 0
}

// handle invokes the handler with one batch and deletes what succeeded.
func (p *SQSPoller) handle(ctx context.Context, msgs []types.Message) {
	start := time.Now()
	region := arnRegion(p.QueueARN)
	event := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		event.Records[i] = sqsMessage(m, p.QueueARN, region)
	}
	hctx, done := drainContext(ctx, p.Drain)
	defer done()
	resp, err := invoke(hctx, p.Handler, event)
	var failed map[string]bool
	if err == nil {
		failed, err = sqsFailures(event.Records, resp)
	}
	var del []types.DeleteMessageBatchRequestEntry
	if err == nil {
		for i, m := range event.Records {
			if !failed[m.MessageId] {
				del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.ReceiptHandle)})
			}
		}
	}
	deleted := 0
	if len(del) > 0 {
		// Deleting is bookkeeping after the handler ran: finish it even
		// when shutting down.
		out, derr := p.Client.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: del})
		if derr != nil {
			p.Logger.ErrorContext(ctx, "sqs poller: delete", "queue", p.QueueURL, "err", derr)
		} else {
			deleted = len(out.Successful)
			for _, f := range out.Failed {
				p.Logger.ErrorContext(ctx, "sqs poller: delete", "queue", p.QueueURL, "code", aws.ToString(f.Code), "message", aws.ToString(f.Message))
			}
		}
	}
	attrs := []any{"queue", p.QueueURL, "messages", len(msgs), "deleted", deleted, "duration", time.Since(start)}
	if err != nil {
		p.Logger.ErrorContext(ctx, "sqs batch failed", append(attrs, "err", err)...)
		return
	}
	p.Logger.InfoContext(ctx, "sqs batch", append(attrs, "failed", len(failed))...)
}

// drainContext is the handler's context: ctx itself, or with drain > 0 one
// that ends drain after ctx does.
func drainContext(ctx context.Context, drain time.Duration) (context.Context, context.CancelFunc) {
	if drain <= 0 {
		return ctx, func() {}
	}
	h, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(drain, cancel) })
	return h, func() {
		stop()
		cancel()
	}
}

// sqsFailures returns the message IDs the handler reported as failed. As in
// Lambda, an identifier that names no message of the batch fails the whole
// batch.
func sqsFailures(records []events.SQSMessage, resp events.SQSEventResponse) (map[string]bool, error) {
	inBatch := make(map[string]bool, len(records))
	for _, r := range records {
		inBatch[r.MessageId] = true
	}
	failed := make(map[string]bool, len(resp.BatchItemFailures))
	for _, f := range resp.BatchItemFailures {
		if !inBatch[f.ItemIdentifier] {
			return nil, fmt.Errorf("batchItemFailures names %q, not a message of the batch", f.ItemIdentifier)
		}
		failed[f.ItemIdentifier] = true
	}
	return failed, nil
}

// sqsMessage shapes a received message as Lambda delivers it.
func sqsMessage(m types.Message, queueARN, region string) events.SQSMessage {
	attrs := make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes))
	for name, a := range m.MessageAttributes {
		attrs[name] = events.SQSMessageAttribute{
			StringValue:      a.StringValue,
			BinaryValue:      a.BinaryValue,
			StringListValues: orEmpty(a.StringListValues),
			BinaryListValues: orEmpty(a.BinaryListValues),
			DataType:         aws.ToString(a.DataType),
		}
	}
	return events.SQSMessage{
		MessageId:              aws.ToString(m.MessageId),
		ReceiptHandle:          aws.ToString(m.ReceiptHandle),
		Body:                   aws.ToString(m.Body),
		Md5OfBody:              aws.ToString(m.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
		Attributes:             m.Attributes,
		MessageAttributes:      attrs,
		EventSourceARN:         queueARN,
		EventSource:            "aws:sqs",
		AWSRegion:              region,
	}
}

// orEmpty makes a nil list empty: Lambda sends [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// arnRegion returns the region field of an ARN (arn:partition:service:region:...).
func arnRegion(arn string) string {
	if parts := strings.SplitN(arn, ":", 5); len(parts) == 5 {
		return parts[3]
	}
	return ""
}
