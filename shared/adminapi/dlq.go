package adminapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/queue"
)

// The deliveries DLQ only fills when the dispatcher itself keeps failing on
// a message (crashes, timeouts): deliveries that run out of attempts are kept
// per tenant as dead deliveries instead. The operator inspects and moves
// these messages back.

// DLQStats is GET /admin/dlq's data (SQS's approximate counts).
type DLQStats struct {
	Messages         int `json:"messages"`
	MessagesInFlight int `json:"messages_in_flight"`
}

// DLQRedrive is POST /admin/dlq/redrive's data.
type DLQRedrive struct {
	Moved int `json:"moved"`
}

// MaxRedrive bounds the messages one redrive call moves (a Lambda has 10 s).
const MaxRedrive = 500

type dlqAPI struct {
	sqs           *sqs.Client
	dlq, delivers string
}

func newDLQ(p Ports) *dlqAPI {
	deliveries, dlq := p.Queues()
	return &dlqAPI{sqs: sqs.NewFromConfig(p.AWSConfig()), dlq: dlq, delivers: deliveries}
}

// stats answers how many messages the DLQ holds.
func (a *dlqAPI) stats(w http.ResponseWriter, r *http.Request) error {
	out, err := a.sqs.GetQueueAttributes(r.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(a.dlq),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return fmt.Errorf("dlq attributes: %w", err)
	}
	n := func(k types.QueueAttributeName) int { v, _ := strconv.Atoi(out.Attributes[string(k)]); return v }
	httpapi.WriteData(w, http.StatusOK, DLQStats{
		Messages:         n(types.QueueAttributeNameApproximateNumberOfMessages),
		MessagesInFlight: n(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
	})
	return nil
}

// redrive moves up to MaxRedrive messages from the DLQ back to the
// deliveries queue: each is sent before it is deleted, so a failure midway
// repeats a message rather than losing one (receivers dedupe by webhook-id).
func (a *dlqAPI) redrive(w http.ResponseWriter, r *http.Request) error {
	moved, err := a.move(r.Context())
	if err != nil {
		return fmt.Errorf("redrive after %d messages: %w", moved, err)
	}
	httpapi.WriteData(w, http.StatusOK, DLQRedrive{Moved: moved})
	return nil
}

func (a *dlqAPI) move(ctx context.Context) (int, error) {
	moved := 0
	for moved < MaxRedrive {
		out, err := a.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(a.dlq), MaxNumberOfMessages: 10, VisibilityTimeout: 30})
		if err != nil {
			return moved, err
		}
		if len(out.Messages) == 0 {
			return moved, nil
		}
		for _, m := range out.Messages {
			if _, err := a.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(a.delivers), MessageBody: m.Body,
				MessageGroupId: queue.GroupOfBody(aws.ToString(m.Body))}); err != nil {
				return moved, err
			}
			if _, err := a.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(a.dlq), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return moved, err
			}
			moved++
		}
	}
	return moved, nil
}
