package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/sender"
)

// outboxQueue records the outbox tasks sent; down fails every call.
type outboxQueue struct {
	mu     sync.Mutex
	urls   []string
	tasks  []sender.Task
	groups []string
	down   bool
	// refuse fails the calls that carry one of these messages.
	refuse map[string]bool
}

func (q *outboxQueue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.urls = append(q.urls, aws.ToString(in.QueueUrl))
	if q.down {
		return nil, errors.New("SQS is down")
	}
	var ts []sender.Task
	for _, e := range in.Entries {
		var t sender.Task
		if err := json.Unmarshal([]byte(aws.ToString(e.MessageBody)), &t); err != nil {
			return nil, err
		}
		if q.refuse[t.MessageID] {
			return nil, errors.New("SQS refused the call")
		}
		ts = append(ts, t)
	}
	for i, t := range ts {
		q.tasks = append(q.tasks, t)
		q.groups = append(q.groups, aws.ToString(in.Entries[i].MessageGroupId))
	}
	return &sqs.SendMessageBatchOutput{}, nil
}

// messageRecord is a stream record of message m (event INSERT or MODIFY).
func messageRecord(t *testing.T, event string, m messages.Message, seq int) events.DynamoDBEventRecord {
	t.Helper()
	av, err := attributevalue.MarshalMap(m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := attributevalue.MarshalMapJSON(av)
	if err != nil {
		t.Fatal(err)
	}
	var img map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal(b, &img); err != nil {
		t.Fatal(err)
	}
	return events.DynamoDBEventRecord{EventName: event, Change: events.DynamoDBStreamRecord{
		Keys:     map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute(MessageKeyPrefix + m.TenantID + "#" + m.ID)},
		NewImage: img, SequenceNumber: fmt.Sprintf("%05d", seq),
	}}
}

// New outbound messages go to the outbox, in their tenant's group; their
// later changes and inbound messages do not; SQS down fails the record.
func TestOutboundMessagesGoToTheOutbox(t *testing.T) {
	queued := messages.Message{ID: "msg_a", TenantID: "ten_a", ChannelID: "ch", Direction: messages.Outbound, Status: messages.StatusQueued}
	sent := queued
	sent.Status = messages.StatusSent
	inbound := messages.Message{ID: "msg_b", TenantID: "ten_a", ChannelID: "ch", Direction: messages.Inbound, Status: messages.StatusReceived}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		messageRecord(t, "INSERT", queued, 1), messageRecord(t, "MODIFY", sent, 2), messageRecord(t, "INSERT", inbound, 3),
	}}
	q := &outboxQueue{}
	r := &Router{Connections: &fakeConns{}, Queue: q, QueueURL: "deliveries", OutboxURL: "outbox", Log: newRouter(nil, 0).Log}
	out, err := r.Handle(context.Background(), ev)
	if err != nil || len(out.BatchItemFailures) != 0 {
		t.Fatalf("%+v %v", out, err)
	}
	if len(q.tasks) != 1 || q.tasks[0].TenantID != "ten_a" || q.tasks[0].MessageID != "msg_a" || q.groups[0] != "ten_a" || q.urls[0] != "outbox" {
		t.Fatalf("queued %+v in groups %v to %v", q.tasks, q.groups, q.urls)
	}
	// The task carries the message as stored: the sender claims it
	// without reading it.
	if m := q.tasks[0].Message(); m == nil || !reflect.DeepEqual(*m, queued) {
		t.Fatalf("the task carries %+v, want %+v", m, queued)
	}
	// The stream is the only way to the sender: SQS down fails the record,
	// and Lambda retries it.
	q = &outboxQueue{down: true}
	r.Queue = q
	out, _ = r.Handle(context.Background(), ev)
	if len(out.BatchItemFailures) != 3 || out.BatchItemFailures[0].ItemIdentifier != "00001" {
		t.Fatalf("SQS down: %+v", out)
	}
}

// An installation's message (seed 004) is pulled by its installed sender:
// neither its INSERT (queued or held) nor its release goes to the outbox.
func TestInstallationMessagesStayOffTheOutbox(t *testing.T) {
	queued := messages.Message{ID: "msg_i", TenantID: "ten_a", ChannelID: "ch", Direction: messages.Outbound, Status: messages.StatusQueued,
		InstallationID: "0b7c1c8e-3f5e-4f0e-9a55-0d1f6a7b2c3d"}
	held := queued
	held.ID, held.Status = "msg_h", messages.StatusHeld
	released := held
	released.Status = messages.StatusQueued
	plain := messages.Message{ID: "msg_p", TenantID: "ten_a", ChannelID: "ch", Direction: messages.Outbound, Status: messages.StatusQueued}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		messageRecord(t, "INSERT", queued, 1), messageRecord(t, "INSERT", held, 2), messageRecord(t, "MODIFY", released, 3),
		messageRecord(t, "INSERT", plain, 4),
	}}
	q := &outboxQueue{}
	r := &Router{Connections: &fakeConns{}, Queue: q, QueueURL: "deliveries", OutboxURL: "outbox", Log: newRouter(nil, 0).Log}
	out, err := r.Handle(context.Background(), ev)
	if err != nil || len(out.BatchItemFailures) != 0 {
		t.Fatalf("%+v %v", out, err)
	}
	if len(q.tasks) != 1 || q.tasks[0].MessageID != "msg_p" {
		t.Fatalf("queued %+v, want only msg_p", q.tasks)
	}
}

// A stream batch of many new messages is queued in calls of ten made at
// once; when one call fails, the records from its first on are reported
// failed (the stream retries them) and the other calls' tasks are queued.
func TestOutboxBatchesAtOnce(t *testing.T) {
	var recs []events.DynamoDBEventRecord
	for i := range 25 {
		m := messages.Message{ID: fmt.Sprintf("msg_%02d", i), TenantID: "ten_a", ChannelID: "ch", Direction: messages.Outbound, Status: messages.StatusQueued}
		recs = append(recs, messageRecord(t, "INSERT", m, i+1))
	}
	q := &outboxQueue{refuse: map[string]bool{"msg_12": true}}
	r := &Router{Connections: &fakeConns{}, Queue: q, QueueURL: "deliveries", OutboxURL: "outbox", Log: newRouter(nil, 0).Log}
	out, err := r.Handle(context.Background(), events.DynamoDBEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.BatchItemFailures) != 15 || out.BatchItemFailures[0].ItemIdentifier != "00011" {
		t.Fatalf("failures %+v, want the 15 records from msg_10's on", out.BatchItemFailures)
	}
	var ids []string
	for _, tk := range q.tasks {
		ids = append(ids, tk.MessageID)
	}
	sort.Strings(ids)
	if len(ids) != 15 || ids[0] != "msg_00" || ids[9] != "msg_09" || ids[10] != "msg_20" || ids[14] != "msg_24" {
		t.Fatalf("queued %v, want the first and third calls' tasks", ids)
	}
}
