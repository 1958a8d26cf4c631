package pollers

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
)

// sqsEnv gives the test's deliveries queue a 1 s visibility timeout, so
// failed messages come back quickly.
func sqsEnv(t *testing.T) *emulators.TestEnv {
	e := emulators.ForTest(t)
	if _, err := e.SQS.SetQueueAttributes(t.Context(), &sqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(e.Queues.DeliveriesURL),
		Attributes: map[string]string{"VisibilityTimeout": "1"},
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

func send(t *testing.T, e *emulators.TestEnv, bodies ...string) {
	t.Helper()
	var entries []types.SendMessageBatchRequestEntry
	for _, b := range bodies {
		entries = append(entries, types.SendMessageBatchRequestEntry{
			Id:          aws.String(b),
			MessageBody: aws.String(b),
			MessageAttributes: map[string]types.MessageAttributeValue{
				"kind": {DataType: aws.String("String"), StringValue: aws.String("test")},
			},
		})
	}
	out, err := e.SQS.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(e.Queues.DeliveriesURL), Entries: entries})
	if err != nil || len(out.Failed) > 0 {
		t.Fatalf("send: %v %+v", err, out)
	}
}

// deliveries is a handler that passes every message on and answers each
// batch with respond's response.
func deliveries(respond func(call int, ev events.SQSEvent) (events.SQSEventResponse, error)) (func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), <-chan events.SQSMessage) {
	ch := make(chan events.SQSMessage, 100)
	var mu sync.Mutex
	n := 0
	return func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		mu.Lock()
		n++
		call := n
		mu.Unlock()
		for _, m := range ev.Records {
			ch <- m
		}
		return respond(call, ev)
	}, ch
}

func sqsPoller(t *testing.T, e *emulators.TestEnv, h func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)) *SQSPoller {
	return &SQSPoller{
		Client:   e.SQS,
		QueueURL: e.Queues.DeliveriesURL,
		QueueARN: e.Queues.DeliveriesARN,
		WaitTime: time.Second,
		Handler:  h,
		Logger:   testLogger(t),
	}
}

// waitEmpty waits until the queue holds no messages, visible or in flight.
func waitEmpty(t *testing.T, e *emulators.TestEnv) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := e.SQS.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
			QueueUrl:       aws.String(e.Queues.DeliveriesURL),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
		})
		if err != nil {
			t.Fatal(err)
		}
		if out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not empty: %v", out.Attributes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSQSPollerDeletesSuccessesKeepsFailures(t *testing.T) {
	e := sqsEnv(t)
	send(t, e, "a", "b", "c")
	h, got := deliveries(func(_ int, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		for _, m := range ev.Records {
			if m.Body == "b" && m.Attributes["ApproximateReceiveCount"] == "1" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
		}
		return resp, nil
	})
	run(t, sqsPoller(t, e, h).Run)

	first := map[string]events.SQSMessage{}
	for range 3 {
		m := receive(t, got, "message")
		first[m.Body] = m
	}
	m := first["a"]
	sum := md5.Sum([]byte("a"))
	if m.EventSource != "aws:sqs" || m.EventSourceARN != e.Queues.DeliveriesARN || m.AWSRegion != emulators.Region ||
		m.Md5OfBody != hex.EncodeToString(sum[:]) || m.MessageId == "" || m.ReceiptHandle == "" {
		t.Errorf("message shape %+v", m)
	}
	for _, a := range []string{"ApproximateReceiveCount", "SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"} {
		if m.Attributes[a] == "" {
			t.Errorf("attribute %s missing: %v", a, m.Attributes)
		}
	}
	if a := m.MessageAttributes["kind"]; aws.ToString(a.StringValue) != "test" || a.DataType != "String" {
		t.Errorf("message attribute %+v", a)
	}

	again := receive(t, got, "failed message again")
	if again.Body != "b" || again.MessageId != first["b"].MessageId || again.Attributes["ApproximateReceiveCount"] != "2" {
		t.Errorf("redelivered %s (receive count %s), want b the second time", again.Body, again.Attributes["ApproximateReceiveCount"])
	}
	waitEmpty(t, e) // nothing in flight either: a and c were deleted
}

func TestSQSPollerFunctionErrorAndPanicKeepAll(t *testing.T) {
	e := sqsEnv(t)
	send(t, e, "a", "b")
	h, got := deliveries(func(call int, _ events.SQSEvent) (events.SQSEventResponse, error) {
		switch call {
		case 1:
			panic("boom")
		case 2:
			return events.SQSEventResponse{}, errors.New("function error")
		}
		return events.SQSEventResponse{}, nil
	})
	p := sqsPoller(t, e, h)
	p.Concurrency = 1
	run(t, p.Run)

	count := map[string]int{}
	for range 6 { // both messages, three times each: panic, error, success
		count[receive(t, got, "message").Body]++
	}
	if count["a"] != 3 || count["b"] != 3 {
		t.Errorf("deliveries %v, want each message 3 times", count)
	}
	waitEmpty(t, e)
}
