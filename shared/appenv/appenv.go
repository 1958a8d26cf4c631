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
	Stage        = "STAGE"                // dev | prod in AWS; a LocalStages name on this machine
	// AllowLoopbackTargets lets webhook targets on loopback (and plain HTTP)
	// through the SSRF guard. Only the local stack sets it, and its banner
	// says so; a function refuses to start with it unless STAGE is one of
	// LocalStages.
	AllowLoopbackTargets = "ALLOW_LOOPBACK_TARGETS"
	// RestAPIID and APIStageName name the REST API stage whose authorizer
	// cache the credential-changing admin functions flush (set by the CDK
	// app on those functions only).
	RestAPIID    = "REST_API_ID"
	APIStageName = "API_STAGE_NAME"
	// AdminKey is the local stand-in for IAM on the admin API.
	AdminKey = "ADMIN_KEY"
)

// LocalStages are the STAGE values of stacks that run on this machine:
// `make run` and `make invoke` (local), the integration tests (test) and
// the benchmarks (bench). None of them is a stage the CDK app deploys.
var LocalStages = []string{"local", "test", "bench"}

// IsLocalStage reports whether stage is one of LocalStages.
func IsLocalStage(stage string) bool {
	for _, s := range LocalStages {
		if stage == s {
			return true
		}
	}
	return false
}
