// Package queue holds the settings of the deliveries queue and its DLQ, read
// by the CDK app and the local provisioning alike.
package queue

import "time"

const (
	// DeliveriesName and DLQName are the queue names (locally; CDK lets
	// CloudFormation name them in AWS and passes URLs through env).
	DeliveriesName = "deliveries"
	DLQName        = "deliveries-dlq"

	// MaxReceiveCount is how many attempts a delivery gets before SQS moves it
	// to the DLQ: the first attempt plus the seven retries of the schedule
	// (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
	MaxReceiveCount = 8

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
