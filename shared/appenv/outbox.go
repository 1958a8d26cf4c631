package appenv

// The outbox queue: new outbound messages, queued by the trigger router
// for the sender.
const (
	OutboxURL    = "OUTBOX_QUEUE_URL"
	OutboxDLQURL = "OUTBOX_DLQ_URL" // its dead-letter queue
)
