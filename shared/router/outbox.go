package router

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

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
// outbound message, queued. The stream is the message's only way to the
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
	return t, true, nil
}

// queueOutbox sends the tasks to the outbox queue in batches of ten, each
// in its tenant's message group (fair queueing, as the deliveries). On
// error it returns the index of the first record whose task may not be
// queued.
func (r *Router) queueOutbox(ctx context.Context, ts []outboxTask) (int, error) {
	for start := 0; start < len(ts); start += 10 {
		batch := ts[start:min(start+10, len(ts))]
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(batch))
		for i, t := range batch {
			body, err := json.Marshal(t.task)
			if err != nil {
				return t.from, err
			}
			entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)),
				MessageGroupId: queue.GroupID(t.task.TenantID)}
		}
		if r.OutboxURL == "" {
			return batch[0].from, fmt.Errorf("no outbox queue configured (%d messages to queue)", len(batch))
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
