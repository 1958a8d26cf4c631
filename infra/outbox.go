package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/startmsg/chatbackend/shared/queue"
)

// The sender's reserved concurrency: as the dispatcher's, a floor and a
// ceiling (its event source mapping's maximum concurrency is the same), so
// that a burst of messages neither starves the API nor runs unbounded
// against a provider's rate limits.
const (
	DefaultSenderConcurrency    = 20
	DefaultDevSenderConcurrency = 2
	minSenderConcurrency        = 2
	maxSenderConcurrency        = 1000
)

// senderConcurrencyOf is the sender's reservation for a stage: 0 is the
// stage's default.
func senderConcurrencyOf(stage string, n int) (int, error) {
	switch {
	case n == 0 && stage == StageProd:
		return DefaultSenderConcurrency, nil
	case n == 0:
		return DefaultDevSenderConcurrency, nil
	case n < minSenderConcurrency || n > maxSenderConcurrency:
		return 0, fmt.Errorf("sender concurrency %d: want %d to %d", n, minSenderConcurrency, maxSenderConcurrency)
	}
	return n, nil
}

// addOutbox declares the outbox queue (new outbound messages, queued by
// the trigger router for the sender) and its DLQ, encrypted with the
// stack's key, refusing plain-HTTP access; the outbox redrives to its DLQ
// after queue.OutboxMaxReceiveCount receives.
func (b *backend) addOutbox() {
	retention := awscdk.Duration_Seconds(jsii.Number(queue.Retention.Seconds()))
	b.outboxDLQ = awssqs.NewQueue(b.stack, jsii.String("OutboxDlq"), &awssqs.QueueProps{
		RetentionPeriod:     retention,
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: b.key,
		EnforceSSL:          jsii.Bool(true),
	})
	b.outbox = awssqs.NewQueue(b.stack, jsii.String("Outbox"), &awssqs.QueueProps{
		VisibilityTimeout:   awscdk.Duration_Seconds(jsii.Number(queue.OutboxVisibilityTimeout.Seconds())),
		RetentionPeriod:     retention,
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: b.key,
		EnforceSSL:          jsii.Bool(true),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			MaxReceiveCount: jsii.Number(queue.OutboxMaxReceiveCount),
			Queue:           b.outboxDLQ,
		},
	})
	suppress(b.outboxDLQ, false,
		nag("AwsSolutions-SQS3", "This queue is itself a dead-letter queue: the outbox queue's."),
		nag("Serverless-SQSRedrivePolicy", "This queue is itself a dead-letter queue: the outbox queue's."))
}

// addOutboxSource maps the outbox queue to the sender: no batching window
// (a message waits for nothing), partial batch failures, the reservation
// as its maximum concurrency.
func (b *backend) addOutboxSource(fn awslambda.Function, spec fnSpec) {
	batch := spec.batchSize
	if batch == 0 {
		batch = defaultQueueBatch
	}
	fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(b.outbox, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(batch),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(b.senderConcurrency),
	}))
	suppress(fn, true, nag("Serverless-LambdaEventSourceMappingDestination",
		"An SQS event source mapping takes no on-failure destination: a message the sender keeps failing on goes to "+
			"the outbox's own dead-letter queue (its redrive policy)."))
}
