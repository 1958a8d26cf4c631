// Package appenv names the environment variables through which every
// function finds its resources, in AWS (set by the CDK app) and locally (set
// by the local stack).
package appenv

const (
	TableName = "TABLE_NAME" // the data table (stream on: contacts, settings, connections)
	// OpsTableName is the operations table: rate-limit counters, delivery
	// attempts and idempotency records, all expiring by TTL, no stream.
	OpsTableName = "OPS_TABLE_NAME"
	QueueURL     = "DELIVERIES_QUEUE_URL" // the deliveries queue
	DLQURL       = "DELIVERIES_DLQ_URL"   // its dead-letter queue
	Stage        = "STAGE"                // dev | prod; prod keeps data on stack deletion
	// AllowLoopbackTargets lets webhook targets on loopback through the SSRF
	// guard. Only `make run` sets it, and its banner says so.
	AllowLoopbackTargets = "ALLOW_LOOPBACK_TARGETS"
	// AdminKey is the local stand-in for IAM on the admin API.
	AdminKey = "ADMIN_KEY"
)
