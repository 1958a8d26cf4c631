package adminapi

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
)

// stubSQS answers every call in the client's stack with out(params),
// without a network call, and records the parameters.
func stubSQS(out func(params any) any, seen *[]any) *sqs.Client {
	return sqs.New(sqs.Options{Region: "us-east-1", APIOptions: []func(*middleware.Stack) error{
		func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("stub", func(_ context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				*seen = append(*seen, in.Parameters)
				return middleware.InitializeOutput{Result: out(in.Parameters)}, middleware.Metadata{}, nil
			}), middleware.Before)
		},
	}})
}

// A message moved back from the DLQ goes to its tenant's message group.
func TestRedriveKeepsTheTenantsMessageGroup(t *testing.T) {
	var seen []any
	received := false
	client := stubSQS(func(p any) any {
		switch p.(type) {
		case *sqs.ReceiveMessageInput:
			if received {
				return &sqs.ReceiveMessageOutput{}
			}
			received = true
			return &sqs.ReceiveMessageOutput{Messages: []types.Message{
				{Body: aws.String(`{"id":"msg_1","tenant_id":"ten_a","connection_id":"conn_1"}`), ReceiptHandle: aws.String("rh1")},
				{Body: aws.String(`not json`), ReceiptHandle: aws.String("rh2")},
			}}
		case *sqs.SendMessageInput:
			return &sqs.SendMessageOutput{}
		default:
			return &sqs.DeleteMessageOutput{}
		}
	}, &seen)
	a := &dlqAPI{sqs: client, dlq: "dlq", delivers: "deliveries"}
	moved, err := a.move(t.Context())
	if err != nil || moved != 2 {
		t.Fatalf("move = %d, %v; want 2", moved, err)
	}
	var groups []string
	for _, p := range seen {
		if in, ok := p.(*sqs.SendMessageInput); ok {
			groups = append(groups, aws.ToString(in.MessageGroupId))
		}
	}
	if len(groups) != 2 || groups[0] != "ten_a" || groups[1] != "" {
		t.Fatalf("groups sent %q, want [ten_a \"\"] (a body without a tenant goes without a group)", groups)
	}
}
