// Package appenv names the environment variables through which every
// function finds its resources, in AWS (set by the CDK app) and locally (set
// by the local stack).
package appenv

const (
	TableName = "TABLE_NAME"           // the single DynamoDB table
	QueueURL  = "DELIVERIES_QUEUE_URL" // the deliveries queue
	DLQURL    = "DELIVERIES_DLQ_URL"   // its dead-letter queue
	Stage     = "STAGE"                // dev | prod; prod keeps data on stack deletion
	// AllowLoopbackTargets lets webhook targets on loopback through the SSRF
	// guard. Only `make run` sets it, and its banner says so.
	AllowLoopbackTargets = "ALLOW_LOOPBACK_TARGETS"
	// AdminKey is the local stand-in for IAM on the admin API.
	AdminKey = "ADMIN_KEY"
)
