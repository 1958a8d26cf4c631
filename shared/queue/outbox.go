package queue

import "time"

// The outbox queue (new outbound messages, for the sender) and its DLQ.
const (
	OutboxName    = "outbox"
	OutboxDLQName = "outbox-dlq"

	// OutboxMaxAttempts is how many calls to the provider a message gets
	// before it is recorded failed (timeouts, 429 and 5xx are retried).
	OutboxMaxAttempts = 10

	// OutboxMaxReceiveCount is how often SQS hands out one outbox message
	// before moving it to the outbox DLQ: each provider attempt takes a
	// receive; the rest is headroom for the sender's own faults and for
	// duplicate messages waiting out another sender's claim.
	OutboxMaxReceiveCount = 3 * OutboxMaxAttempts

	// SenderTimeout is the sender Lambda's timeout: one provider call of at
	// most ProviderTimeout per message (a batch's in parallel), plus its
	// bookkeeping.
	SenderTimeout = 30 * time.Second

	// ProviderTimeout bounds one call to the provider's send API.
	ProviderTimeout = 15 * time.Second

	// OutboxVisibilityTimeout is six times the sender's timeout (AWS's
	// advice for Lambda event sources).
	OutboxVisibilityTimeout = 6 * SenderTimeout
)
