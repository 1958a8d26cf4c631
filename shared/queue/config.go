// Package queue holds the settings of the deliveries queue and its DLQ, read
// by the CDK app and the local provisioning alike.
package queue

import (
	"time"

	"github.com/startmsg/chatbackend/shared/connections"
)

const (
	// DeliveriesName and DLQName are the queue names (locally; CDK lets
	// CloudFormation name them in AWS and passes URLs through env).
	DeliveriesName = "deliveries"
	DLQName        = "deliveries-dlq"

	// MaxReceiveCount is how many times SQS hands out one message before it
	// moves it to the DLQ; the one place the queue's limit is set, derived
	// from the delivery's. A message carries one attempt of its delivery
	// (connections.Task: each retry is a new message carrying the count),
	// and needs one receive for it, two when its wait is longer than SQS
	// delays a sent message. The rest is headroom for the dispatcher's own
	// faults (a store error, a crash, a lost receive, a throttled
	// invocation), which spend none of the delivery's attempts: hidden
	// 5 s, 10 s, … at most 15 min (dispatch.FaultBackoff), 16 receives
	// ride out about two hours of them. Should the dispatcher be unable to
	// queue a retry, the same message carries the repeats, and still gets
	// at least MaxAttempts of them.
	MaxReceiveCount = 2 * connections.MaxAttempts

	// ConsumerTimeout is the dispatcher Lambda's timeout: a 10 s hard limit
	// per attempt, with the items of a batch in parallel, plus headroom.
	ConsumerTimeout = 30 * time.Second

	// VisibilityTimeout is at least six times the consumer's timeout, as AWS
	// recommends for Lambda event sources.
	VisibilityTimeout = 6 * ConsumerTimeout

	// Retention keeps a delivery long enough for the whole retry schedule
	// (about 28 h) with room to spare, and the DLQ for replay.
	Retention = 14 * 24 * time.Hour
)
