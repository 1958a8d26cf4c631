package router

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/queue"
	"github.com/startmsg/chatbackend/shared/sender"
)

// MessageKeyPrefix is ddbstore.MessageKeyPrefix: a message item's
// partition key starts with it.
const MessageKeyPrefix = "MSG#"

// outboxTask is one message to queue for the sender, and the index of the
// stream record it came from.
type outboxTask struct {
	task sender.Task
	from int
}

// outboxTaskOf is the outbox task of a stream record: the INSERT of an
// outbound message, queued, with the message's image. The stream is the message's only way to the
// sender (the API writes the message and nothing else), so a record whose
// task cannot be queued is retried from the stream.
func outboxTaskOf(rec events.DynamoDBEventRecord) (sender.Task, bool, error) {
	pk, ok := rec.Change.Keys["PK"]
	if rec.EventName != "INSERT" || !ok || pk.DataType() != events.DataTypeString || !strings.HasPrefix(pk.String(), MessageKeyPrefix) {
		return sender.Task{}, false, nil
	}
	img := rec.Change.NewImage
	str := func(name string) string {
		v, ok := img[name]
		if !ok || v.DataType() != events.DataTypeString {
			return ""
		}
		return v.String()
	}
	if str("direction") != string(messages.Outbound) || str("status") != string(messages.StatusQueued) {
		return sender.Task{}, false, nil
	}
	if str("installation_id") != "" {
		return sender.Task{}, false, nil // pulled by its installed sender (seed 004), never sent by the provider
	}
	t := sender.Task{TenantID: str("tenant_id"), MessageID: str("id")}
	if t.TenantID == "" || t.MessageID == "" {
		return sender.Task{}, false, fmt.Errorf("message item %s without tenant_id or id", pk.String())
	}
	// The message as stored rides with its task: the sender claims it
	// without reading it (only its status and attempts change later, and
	// the claim checks those).
	if b, err := json.Marshal(img); err == nil && len(b) <= sender.MaxTaskItem {
		t.Item = b
	}
	return t, true, nil
}

// queueOutbox sends the tasks to the outbox queue in batches of ten, each
// in its tenant's message group (fair queueing, as the deliveries), the
// batches at once (a stream batch of 100 new messages is ten calls, and
// the stream's next batch waits for them). On error it returns the index
// of the first record whose task may not be queued: later batches queued
// meanwhile are queued again when the stream retries, and the sender's
// claims send their messages once.
func (r *Router) queueOutbox(ctx context.Context, ts []outboxTask) (int, error) {
	if len(ts) == 0 {
		return 0, nil
	}
	if r.OutboxURL == "" {
		return ts[0].from, fmt.Errorf("no outbox queue configured (%d messages to queue)", len(ts))
	}
	var batches [][]outboxTask
	for start := 0; start < len(ts); start += 10 {
		batches = append(batches, ts[start:min(start+10, len(ts))])
	}
	type failure struct {
		from int
		err  error
	}
	fails := make([]*failure, len(batches))
	var wg sync.WaitGroup
	for bi, batch := range batches {
		wg.Go(func() {
			if from, err := r.queueOutboxBatch(ctx, batch); err != nil {
				fails[bi] = &failure{from, err}
			}
		})
	}
	wg.Wait()
	for _, f := range fails { // in order: the first failed batch's first record
		if f != nil {
			return f.from, f.err
		}
	}
	return 0, nil
}

// queueOutboxBatch sends up to ten tasks in one SendMessageBatch; on error
// it returns the index of the first record whose task may not be queued.
func (r *Router) queueOutboxBatch(ctx context.Context, batch []outboxTask) (int, error) {
	entries := make([]sqstypes.SendMessageBatchRequestEntry, len(batch))
	for i, t := range batch {
		body, err := json.Marshal(t.task)
		if err != nil {
			return t.from, err
		}
		entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)),
			MessageGroupId: queue.GroupID(t.task.TenantID)}
	}
	out, err := r.Queue.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(r.OutboxURL), Entries: entries})
	if err != nil {
		return batch[0].from, fmt.Errorf("queue messages: %w", err)
	}
	if len(out.Failed) > 0 {
		first := len(batch)
		for _, f := range out.Failed {
			if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= 0 && i < first {
				first = i
			}
		}
		if first == len(batch) {
			first = 0
		}
		return batch[first].from, fmt.Errorf("queue messages: %d refused: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
	}
	return 0, nil
}

// OutboxPort is the port a router with an outbox is built from (*wiring.Env
// has it).
type OutboxPort interface {
	Outbox() (url, dlq string)
}

func outboxURL(p Ports) string {
	if o, ok := p.(OutboxPort); ok {
		u, _ := o.Outbox()
		return u
	}
	return ""
}
