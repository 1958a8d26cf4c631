package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/limits"
	"github.com/startmsg/chatbackend/shared/queue"
	"github.com/startmsg/chatbackend/shared/routes"
)

// Stages the stack can be deployed as. Prod keeps its data (table, log
// groups) when the stack is deleted; dev throws everything away.
const (
	StageDev  = "dev"
	StageProd = "prod"
)

// Event-source kinds of routes.EventFunction.Source.
const (
	sourceNone   = ""
	sourceStream = "stream"
	sourceQueue  = "queue"
	sourceOutbox = "outbox" // the outbox queue (outbox.go)
)

// Function sizing. API functions answer within API Gateway's patience; the
// queue consumer's timeout is the one the queue's visibility timeout was
// computed from (queue.VisibilityTimeout = 6 × queue.ConsumerTimeout).
const (
	apiTimeout            = 10 * time.Second
	streamConsumerTimeout = 60 * time.Second
	defaultMemoryMB       = 256
	queueConsumerMemoryMB = 512

	// Default batch sizes when an EventFunction leaves BatchSize at 0.
	defaultStreamBatch = 100
	defaultQueueBatch  = 10

	// streamRetryAttempts bounds how often Lambda retries a failing stream
	// batch (10000 is the maximum short of "infinite"). With an unlimited
	// record age a trigger is retried for as long as the record is in the
	// stream (24 h); only then does it go to the stream-failures queue.
	streamRetryAttempts = 10000
)

// BackendStackProps configures NewBackendStack. Only Stage is required.
type BackendStackProps struct {
	awscdk.StackProps
	// Stage is StageDev or StageProd.
	Stage string
	// AssetDir returns the directory holding a function's "bootstrap"
	// binary. Default: <repo root>/dist/<fn> (see DefaultAssetDir).
	AssetDir func(fn string) string
	// Routes is the API. Default: routes.Table.
	Routes []routes.Route
	// Events are the functions without a route of their own (the
	// authorizer, stream and queue consumers). Default: routes.EventFunctions.
	Events []routes.EventFunction
	// Keys are the partition keys each function may touch. Default:
	// routes.Keys.
	Keys map[string]routes.KeyScope
	// WAFRateLimit is the per-address limit in front of the API, in
	// requests per 5 minutes: 0 is DefaultWAFRateLimit, WAFOff turns it
	// off (dev only).
	WAFRateLimit int
	// DispatcherConcurrency is the dispatcher's reserved concurrency and its
	// event source mapping's maximum concurrency (see tenants.go): 0 is the
	// stage's default.
	DispatcherConcurrency int
	// Limits are the per-tenant limits; zero fields take their defaults.
	Limits limits.Limits
	// Delivery are the dispatcher's settings (delivery.go); zero fields
	// take their defaults.
	Delivery DeliverySettings
	// SenderConcurrency is the sender's reserved concurrency and its event
	// source mapping's maximum concurrency (outbox.go): 0 is the stage's
	// default.
	SenderConcurrency int
}

// fnSpec is one Lambda function to create: a name from the route table with
// everything the table says about it.
type fnSpec struct {
	name      string
	access    routes.Access
	source    string // sourceNone, sourceStream or sourceQueue
	batchSize int
	keyPrefix string
	summary   string
	keys      routes.KeyScope
	// route is true for a function that serves routes; tag is its first
	// route's Tag, which picks its nested stack (nested.go).
	route bool
	tag   string
}

// backend holds the constructs that the parts of the stack share.
type backend struct {
	stack          awscdk.Stack
	stage          string
	key            awskms.Key // tables, queues and log groups
	table          awsdynamodb.Table
	ops            awsdynamodb.Table
	deliveries     awssqs.Queue
	dlq            awssqs.Queue
	streamFailures awssqs.Queue
	functions      map[string]awslambda.Function
	// nested are the nested stacks by area (nested.go).
	nested map[string]awscdk.NestedStack
	// outbox and outboxDLQ are the outbox queue and its DLQ (outbox.go);
	// senderConcurrency the sender's reservation.
	outbox, outboxDLQ awssqs.Queue
	senderConcurrency int
	roles             map[string]awsiam.Role // each function's, by name
	// dispatcherConcurrency and limits are the stage's tenant settings.
	dispatcherConcurrency int
	limits                limits.Limits
	delivery              DeliverySettings
}

// NewBackendStack declares the whole backend: the table, the deliveries
// queue with its DLQ, one Lambda per function of the route table with
// exactly the permissions its Access bits name, the event-source mappings,
// the REST API with its authorizers and error responses, alarms and outputs.
// The functions (with their roles, log groups and event sources) go into
// nested stacks, one per API area; everything else is the root stack's
// (nested.go).
//
// It panics on inconsistent props (unknown stage, unknown event source, an
// authenticated route without the authorizer function): those are
// programming errors that must stop the synth.
func NewBackendStack(scope constructs.Construct, id string, props *BackendStackProps) awscdk.Stack {
	if props == nil {
		props = &BackendStackProps{}
	}
	stage := props.Stage
	if stage != StageDev && stage != StageProd {
		panic(fmt.Sprintf("infra: stage must be %q or %q, got %q", StageDev, StageProd, stage))
	}
	assetDir := props.AssetDir
	if assetDir == nil {
		assetDir = DefaultAssetDir
	}
	rts := props.Routes
	if rts == nil {
		rts = routes.Table
	}
	events := props.Events
	if events == nil {
		events = routes.EventFunctions
	}
	keys := props.Keys
	if keys == nil {
		keys = routes.Keys
	}
	wafLimit, err := wafRateLimitOf(stage, props.WAFRateLimit)
	if err != nil {
		panic("infra: " + err.Error())
	}
	concurrency, err := dispatcherConcurrencyOf(stage, props.DispatcherConcurrency)
	if err != nil {
		panic("infra: " + err.Error())
	}
	lim, err := limitsOf(props.Limits)
	if err != nil {
		panic("infra: " + err.Error())
	}
	delivery, err := deliverySettingsOf(props.Delivery, concurrency)
	if err != nil {
		panic("infra: " + err.Error())
	}

	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	senders, err := senderConcurrencyOf(stage, props.SenderConcurrency)
	if err != nil {
		panic("infra: " + err.Error())
	}
	b := &backend{stack: stack, stage: stage, functions: map[string]awslambda.Function{}, roles: map[string]awsiam.Role{}, dispatcherConcurrency: concurrency, limits: lim,
		senderConcurrency: senders, nested: map[string]awscdk.NestedStack{}}
	b.delivery = delivery
	b.addKey()
	b.addTable()
	b.addQueues()
	b.addOutbox()
	for _, spec := range functionSpecs(rts, events) {
		spec.keys = keys[spec.name]
		b.addFunction(spec, assetDir(spec.name))
	}
	b.addLimits()
	api := b.addAPI(rts)
	b.addAuthCacheFlush(api)
	b.addTwilioCallbacks(api) // twilio.go
	b.addWAF(api, wafLimit)
	b.addAlarms(api)
	b.inlinePolicies()

	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Value: api.Url(), Description: jsii.String("Base URL of the REST API (stage included)"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("TableName"), &awscdk.CfnOutputProps{Value: b.table.TableName()})
	awscdk.NewCfnOutput(stack, jsii.String("OpsTableName"), &awscdk.CfnOutputProps{Value: b.ops.TableName()})
	awscdk.NewCfnOutput(stack, jsii.String("QueueUrl"), &awscdk.CfnOutputProps{Value: b.deliveries.QueueUrl()})
	awscdk.NewCfnOutput(stack, jsii.String("DlqUrl"), &awscdk.CfnOutputProps{Value: b.dlq.QueueUrl()})
	awscdk.NewCfnOutput(stack, jsii.String("OutboxUrl"), &awscdk.CfnOutputProps{Value: b.outbox.QueueUrl()})
	awscdk.NewCfnOutput(stack, jsii.String("OutboxDlqUrl"), &awscdk.CfnOutputProps{Value: b.outboxDLQ.QueueUrl()})
	return stack
}

// removalPolicy is what happens to stateful resources when the stack is
// deleted: prod keeps them, dev does not.
func (b *backend) removalPolicy() awscdk.RemovalPolicy {
	if b.stage == StageProd {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

// logRetention is how long function and access logs are kept.
func (b *backend) logRetention() awslogs.RetentionDays {
	if b.stage == StageProd {
		return awslogs.RetentionDays_THREE_MONTHS
	}
	return awslogs.RetentionDays_ONE_WEEK
}

// addKey declares the customer-managed KMS key (rotated yearly) that
// encrypts both tables, the queues and the log groups. The key policy is
// CDK's default (the account administers it through IAM; each function's
// role gets only the KMS actions its table and queue grants need) plus
// CloudWatch Logs, which encrypts this stack's log groups with it.
func (b *backend) addKey() {
	b.key = awskms.NewKey(b.stack, jsii.String("DataKey"), &awskms.KeyProps{
		Description:       jsii.String("chatbackend-" + b.stage + ": the tables, queues and log groups"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     b.removalPolicy(),
	})
	region, account, partition := *b.stack.Region(), *b.stack.Account(), *b.stack.Partition()
	b.key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchLogsOfThisAccount"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+region+".amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnLike": map[string]any{
			"kms:EncryptionContext:aws:logs:arn": "arn:" + partition + ":logs:" + region + ":" + account + ":log-group:*",
		}},
	}), nil)
}

// addTable declares the data table, the same shape as
// ddbstore.CreateTableInput: PK/SK, GSI1 (GSI1PK/GSI1SK, all attributes),
// GSI2 (GSI2PK/GSI2SK, all attributes, sparse: messages),
// on-demand, a NEW_AND_OLD_IMAGES stream for the trigger router, TTL and
// point-in-time recovery; and the operations table beside it.
func (b *backend) addTable() {
	str := func(name string) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
	}
	b.table = awsdynamodb.NewTable(b.stack, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey:        str(ddbstore.AttrPK),
		SortKey:             str(ddbstore.AttrSK),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:          awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey:       b.key,
		Stream:              awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES,
		TimeToLiveAttribute: jsii.String(ddbstore.TTLAttribute),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(b.stage == StageProd),
		RemovalPolicy:      b.removalPolicy(),
	})
	b.table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(ddbstore.GSI1),
		PartitionKey:   str(ddbstore.AttrGSI1PK),
		SortKey:        str(ddbstore.AttrGSI1SK),
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})
	// GSI2, sparse: only messages carry its keys (the channel's messages).
	b.table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(ddbstore.GSI2),
		PartitionKey:   str(ddbstore.AttrGSI2PK),
		SortKey:        str(ddbstore.AttrGSI2SK),
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})
	// The operations table, the same shape as ddbstore.CreateOpsTableInput:
	// everything the trigger router need not see, kept off the data table's
	// stream: the contacts' search index (written in the contacts' own
	// transactions), and rate-limit counters, delivery attempts and
	// idempotency records, which expire by TTL. No stream; point-in-time
	// recovery and, in prod, deletion protection and retention, for the
	// index. GSI1, keys only, serves tenant-wide searches (and finds, for
	// replay, the attempts written before attempts were keyed by delivery).
	b.ops = awsdynamodb.NewTable(b.stack, jsii.String("OpsTable"), &awsdynamodb.TableProps{
		PartitionKey:        str(ddbstore.AttrPK),
		SortKey:             str(ddbstore.AttrSK),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:          awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey:       b.key,
		TimeToLiveAttribute: jsii.String(ddbstore.TTLAttribute),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(b.stage == StageProd),
		RemovalPolicy:      b.removalPolicy(),
	})
	b.ops.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(ddbstore.GSI1),
		PartitionKey:   str(ddbstore.AttrGSI1PK),
		SortKey:        str(ddbstore.AttrGSI1SK),
		ProjectionType: awsdynamodb.ProjectionType_KEYS_ONLY,
	})
}

// addQueues declares the deliveries queue, its DLQ and the queue that
// receives the metadata of stream batches the trigger router gave up on.
// All are encrypted with the stack's KMS key and refuse plain-HTTP access.
// The DLQ and the stream-failures queue are dead-letter queues themselves:
// they have none (cdk-nag's SQS3 and SQSRedrivePolicy are suppressed on
// them, with that reason).
func (b *backend) addQueues() {
	retention := awscdk.Duration_Seconds(jsii.Number(queue.Retention.Seconds()))
	b.dlq = awssqs.NewQueue(b.stack, jsii.String("DeliveriesDlq"), &awssqs.QueueProps{
		RetentionPeriod:     retention,
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: b.key,
		EnforceSSL:          jsii.Bool(true),
	})
	b.deliveries = awssqs.NewQueue(b.stack, jsii.String("Deliveries"), &awssqs.QueueProps{
		VisibilityTimeout:   awscdk.Duration_Seconds(jsii.Number(queue.VisibilityTimeout.Seconds())),
		RetentionPeriod:     retention,
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: b.key,
		EnforceSSL:          jsii.Bool(true),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			MaxReceiveCount: jsii.Number(queue.MaxReceiveCount),
			Queue:           b.dlq,
		},
	})
	b.streamFailures = awssqs.NewQueue(b.stack, jsii.String("StreamFailures"), &awssqs.QueueProps{
		RetentionPeriod:     retention,
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: b.key,
		EnforceSSL:          jsii.Bool(true),
	})
	for _, q := range []awssqs.Queue{b.dlq, b.streamFailures} {
		suppress(q, false,
			nag("AwsSolutions-SQS3", "This queue is itself a dead-letter queue: of the deliveries queue (the DLQ) or of the trigger router's stream event source (stream failures)."),
			nag("Serverless-SQSRedrivePolicy", "This queue is itself a dead-letter queue: of the deliveries queue (the DLQ) or of the trigger router's stream event source (stream failures)."))
	}
}

// nag is one cdk-nag suppression: the rule, the reason, and optionally the
// findings of the rule it covers (IAM5's "Resource::*", ...).
func nag(rule, reason string, appliesTo ...string) *cdknag.NagPackSuppression {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		a := make([]any, len(appliesTo))
		for i, v := range appliesTo {
			a[i] = v
		}
		s.AppliesTo = &a
	}
	return s
}

// suppress records cdk-nag suppressions on a construct (and its children).
func suppress(c constructs.IConstruct, children bool, s ...*cdknag.NagPackSuppression) {
	cdknag.NagSuppressions_AddResourceSuppressions(c, &s, jsii.Bool(children))
}

// functionSpecs lists each function once, routes first, in table order. A
// function that serves several routes gets the union of their Access bits.
func functionSpecs(rts []routes.Route, events []routes.EventFunction) []fnSpec {
	var specs []fnSpec
	index := map[string]int{}
	add := func(s fnSpec) {
		if i, ok := index[s.name]; ok {
			specs[i].access |= s.access
			if s.source != sourceNone {
				specs[i].source, specs[i].batchSize = s.source, s.batchSize
			}
			return
		}
		index[s.name] = len(specs)
		specs = append(specs, s)
	}
	for _, r := range rts {
		add(fnSpec{name: r.Function, access: r.Access, summary: r.Summary, route: true, tag: r.Tag})
	}
	for _, e := range events {
		switch e.Source {
		case sourceNone, sourceStream, sourceQueue, sourceOutbox, sourceSchedule:
		default:
			panic(fmt.Sprintf("infra: function %q: unknown event source %q", e.Function, e.Source))
		}
		add(fnSpec{name: e.Function, access: e.Access, source: e.Source, batchSize: e.BatchSize, keyPrefix: e.KeyPrefix, summary: e.Summary})
	}
	return specs
}

// constructID turns a function name such as "admin-tenant-get" into the
// PascalCase stem of its construct IDs ("AdminTenantGet").
func constructID(name string) string {
	var sb strings.Builder
	for _, part := range strings.FieldsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		sb.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return sb.String()
}

// addFunction declares, in its area's nested stack (nested.go), one Lambda
// (custom runtime on Graviton, "bootstrap" from assetDir, X-Ray active
// tracing), its role, its log group, its grants and its event source. The
// role has no managed policy: it may write to the function's own log group
// (encrypted with the stack's key) and do what grant gives it, nothing
// else.
func (b *backend) addFunction(spec fnSpec, assetDir string) {
	cid := constructID(spec.name)
	scope := b.scopeOf(spec)
	timeout, memory := apiTimeout, defaultMemoryMB
	switch spec.source {
	case sourceQueue:
		timeout, memory = queue.ConsumerTimeout, queueConsumerMemoryMB
	case sourceOutbox:
		timeout = queue.SenderTimeout
	case sourceStream:
		timeout = streamConsumerTimeout
	case sourceSchedule:
		timeout = scheduleTimeout
	}
	if t, ok := longAPITimeouts[spec.name]; ok {
		timeout = t
	}
	logs := awslogs.NewLogGroup(scope, jsii.String(cid+"Logs"), &awslogs.LogGroupProps{
		Retention:     b.logRetention(),
		RemovalPolicy: b.removalPolicy(),
		EncryptionKey: b.key,
	})
	role := awsiam.NewRole(scope, jsii.String(cid+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Lambda " + spec.name),
	})
	logs.GrantWrite(role)
	var reserved *float64
	switch spec.source {
	case sourceQueue:
		reserved = jsii.Number(b.dispatcherConcurrency)
	case sourceOutbox:
		reserved = jsii.Number(b.senderConcurrency)
	case sourceSchedule:
		reserved = jsii.Number(scheduleConcurrency)
	}
	description := spec.name
	if spec.summary != "" {
		description += ": " + spec.summary
	}
	fn := awslambda.NewFunction(scope, jsii.String(cid+"Function"), &awslambda.FunctionProps{
		Description:  jsii.String(description),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(assetDir), nil),
		MemorySize:   jsii.Number(memory),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(timeout.Seconds())),
		LogGroup:     logs,
		Role:         role,
		Tracing:      awslambda.Tracing_ACTIVE,
		// JSON log lines (lambdacontext's slog handler reads the format
		// Lambda sets): fields queryable in Logs Insights, and the levels
		// filtered by Lambda itself.
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_WARN,
		// The queue consumer's reservation (tenants.go); nil elsewhere.
		ReservedConcurrentExecutions: reserved,
		Environment: &map[string]*string{
			appenv.TableName:    b.table.TableName(),
			appenv.OpsTableName: b.ops.TableName(),
			appenv.QueueURL:     b.deliveries.QueueUrl(),
			appenv.DLQURL:       b.dlq.QueueUrl(),
			appenv.OutboxURL:    b.outbox.QueueUrl(),
			appenv.OutboxDLQURL: b.outboxDLQ.QueueUrl(),
			appenv.Stage:        jsii.String(b.stage),
		},
	})
	// The Go runtime's settings for its memory size (GOMAXPROCS 1 below a
	// whole vCPU): in the environment, so that the runtime starts that way
	// rather than changing at every cold start.
	for k, v := range lambdaapp.RuntimeEnv(memory) {
		fn.AddEnvironment(jsii.String(k), jsii.String(v), nil)
	}
	addZoneInfo(fn, spec.name) // zoneinfo.go
	b.functions[spec.name] = fn
	b.roles[spec.name] = role
	if spec.source == sourceQueue {
		b.addDeliverySettings(fn)
	}
	b.grant(fn, spec)
	suppress(role, true, nag("AwsSolutions-IAM5",
		"Resource::* is X-Ray's PutTraceSegments and PutTelemetryRecords (active tracing) and, for the stream consumer, "+
			"dynamodb:ListStreams: neither takes a resource. kms:GenerateDataKey* and kms:ReEncrypt* are what CDK's SQS grants "+
			"give on the stack's one KMS key, for the queues encrypted with it.",
		"Resource::*", "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"),
		nag("Serverless-LambdaStarPermissions",
			"The same wildcards as under AwsSolutions-IAM5 (the role's statements are inline, where this rule reads them): "+
				"X-Ray's actions and dynamodb:ListStreams take no resource, and kms:GenerateDataKey*/kms:ReEncrypt* are CDK's "+
				"SQS grants on the stack's one key."))
	suppress(fn, false, nag("Serverless-LambdaDLQ",
		"Nothing invokes the function asynchronously: API Gateway and the authorizer call it synchronously, and its event "+
			"source mapping (stream or queue) has its own failure handling (on-failure queue, queue redrive)."))

	switch spec.source {
	case sourceStream:
		batch := spec.batchSize
		if batch == 0 {
			batch = defaultStreamBatch
		}
		// MaxRecordAge is left at its default, -1 (unlimited).
		props := &awslambdaeventsources.DynamoEventSourceProps{
			StartingPosition:        awslambda.StartingPosition_TRIM_HORIZON,
			BatchSize:               jsii.Number(batch),
			ReportBatchItemFailures: jsii.Bool(true),
			BisectBatchOnError:      jsii.Bool(true),
			RetryAttempts:           jsii.Number(streamRetryAttempts),
			OnFailure:               awslambdaeventsources.NewSqsDlq(b.streamFailures),
		}
		if spec.keyPrefix != "" {
			// Only the records the consumer acts on invoke it (the data
			// table's stream also carries tenancy, field and connection
			// items, and the sender's own writes on messages): the
			// patterns of routes.StreamFilters, one filter each (any
			// passes), as the local stream poller applies them.
			var filters []*map[string]any
			for _, f := range (routes.EventFunction{Function: spec.name, KeyPrefix: spec.keyPrefix}).StreamFilters() {
				pat := f.Pattern()
				filters = append(filters, awslambda.FilterCriteria_Filter(&pat))
			}
			props.Filters = &filters
		}
		fn.AddEventSource(awslambdaeventsources.NewDynamoEventSource(b.table, props))
	case sourceQueue:
		batch := spec.batchSize
		if batch == 0 {
			batch = defaultQueueBatch
		}
		// No batching window: Lambda hands over whatever a poll returns at
		// once, as a window would add up to its length to every delivery's
		// latency (the target is one second from contact write to attempt).
		fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(b.deliveries, &awslambdaeventsources.SqsEventSourceProps{
			BatchSize:               jsii.Number(batch),
			ReportBatchItemFailures: jsii.Bool(true),
			MaxConcurrency:          jsii.Number(b.dispatcherConcurrency),
		}))
		suppress(fn, true, nag("Serverless-LambdaEventSourceMappingDestination",
			"An SQS event source mapping takes no on-failure destination: a message the consumer keeps failing on goes to "+
				"the queue's own dead-letter queue (its redrive policy)."))
	case sourceOutbox:
		b.addOutboxSource(fn, spec)
	case sourceSchedule:
		b.addSchedule(fn, spec)
	}
}

// DynamoDB actions by kind. Reads include a transaction's ConditionCheck;
// Scan is in neither: a Scan names no partition key, so no LeadingKeys
// condition could narrow it (ForAllValues holds for an empty set).
var (
	tableReadActions  = []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"}
	tableWriteActions = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
)

// leadingKeys is the IAM condition that limits a DynamoDB statement to
// items whose partition key (or, for a GSI1 query, GSI1PK) matches one of
// the patterns. The Null check refuses a request that names no key at all,
// for which ForAllValues alone would hold.
func leadingKeys(patterns []string) *map[string]any {
	return &map[string]any{
		"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": patterns},
		"Null":                    map[string]any{"dynamodb:LeadingKeys": "false"},
	}
}

// grant gives fn exactly what its Access bits name, on the partition keys
// its routes.Keys scope names, and nothing else. The event sources add
// what their mappings need (stream read, queue consume).
func (b *backend) grant(fn awslambda.Function, spec fnSpec) {
	a, k := spec.access, spec.keys
	need := func(bit bool, patterns []string, what string) bool {
		if bit && len(patterns) == 0 {
			panic(fmt.Sprintf("infra: function %q has %s access but no routes.Keys %s scope", spec.name, what, what))
		}
		return bit
	}
	kmsActions := map[string]bool{}
	table := func(t awsdynamodb.Table, actions, patterns []string, index bool) {
		resources := []*string{t.TableArn()}
		if index {
			resources = append(resources, jsii.String(*t.TableArn()+"/index/"+ddbstore.GSI1))
			if t == b.table {
				resources = append(resources, jsii.String(*t.TableArn()+"/index/"+ddbstore.GSI2))
			}
		}
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:    jsii.Strings(actions...),
			Resources:  &resources,
			Conditions: leadingKeys(patterns),
		}))
		kmsActions["kms:Decrypt"], kmsActions["kms:DescribeKey"] = true, true
		if !index {
			kmsActions["kms:Encrypt"], kmsActions["kms:GenerateDataKey"] = true, true
		}
	}
	if need(a.Has(routes.TableRead), k.Read, "Read") {
		table(b.table, tableReadActions, k.Read, true)
	}
	if need(a.Has(routes.TableWrite), k.Write, "Write") {
		table(b.table, tableWriteActions, k.Write, false)
	}
	if (a.Has(routes.Ops) || a.Has(routes.OpsRead)) && len(k.OpsRead) > 0 {
		table(b.ops, tableReadActions, k.OpsRead, true)
	}
	if need(a.Has(routes.Ops), k.OpsWrite, "OpsWrite") {
		table(b.ops, tableWriteActions, k.OpsWrite, false)
	} else if a.Has(routes.RateCount) {
		// Only the rate-limit counters: IAM checks the partition key.
		table(b.ops, []string{"dynamodb:UpdateItem"}, []string{routes.KeyRate}, false)
	}
	if len(kmsActions) > 0 {
		actions := make([]string, 0, len(kmsActions))
		for act := range kmsActions {
			actions = append(actions, act)
		}
		slices.Sort(actions)
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(actions...),
			Resources: jsii.Strings(*b.key.KeyArn()),
		}))
	}
	if a.Has(routes.QueueSend) {
		b.deliveries.GrantSendMessages(fn)
	}
	if a.Has(routes.QueueConsume) {
		// Includes sqs:ChangeMessageVisibility, with which the dispatcher
		// hides a message it cannot finish yet.
		b.deliveries.GrantConsumeMessages(fn)
	}
	if a.Has(routes.DLQRead) {
		b.dlq.GrantConsumeMessages(fn)
	}
	if a.Has(routes.OutboxSend) {
		b.outbox.GrantSendMessages(fn)
	}
	if a.Has(routes.OutboxConsume) {
		b.outbox.GrantConsumeMessages(fn)
	}
	if a.Has(routes.StreamRead) && spec.source != sourceStream {
		b.table.GrantStreamRead(fn)
	}
}

// addAlarms watches what must never pile up silently: deliveries that ran
// out of attempts, stream batches the router gave up on, and the API's
// share of 5XX answers.
func (b *backend) addAlarms(api apiMetrics) {
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	queueNotEmpty := func(id, what string, q awssqs.Queue) {
		awscloudwatch.NewAlarm(b.stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String(what),
			Metric: q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
				Period: minute, Statistic: jsii.String("Maximum"),
			}),
			Threshold:          jsii.Number(0),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	}
	queueNotEmpty("DeliveriesDlqNotEmptyAlarm",
		"Webhook deliveries exhausted their retries and wait in the DLQ for replay", b.dlq)
	queueNotEmpty("StreamFailuresNotEmptyAlarm",
		"The trigger router gave up on table stream records; their triggers were not routed", b.streamFailures)
	queueNotEmpty("OutboxDlqNotEmptyAlarm",
		"Outbound messages the sender kept failing on wait in the outbox DLQ; they are still queued, not sent", b.outboxDLQ)

	five := awscdk.Duration_Minutes(jsii.Number(5))
	sum := &awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}
	awscloudwatch.NewAlarm(b.stack, jsii.String("Api5xxRateAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("More than 1% of API requests answered 5XX over 5 minutes"),
		Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("IF(requests > 0, 100 * errors / requests, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"errors":   api.MetricServerError(sum),
				"requests": api.MetricCount(sum),
			},
			Label:  jsii.String("API 5XX rate (%)"),
			Period: five,
		}),
		Threshold:          jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
}

// apiMetrics is the part of the REST API that addAlarms reads.
type apiMetrics interface {
	MetricServerError(props *awscloudwatch.MetricOptions) awscloudwatch.Metric
	MetricCount(props *awscloudwatch.MetricOptions) awscloudwatch.Metric
}

// DefaultAssetDir is where `make build` puts a function's bootstrap:
// <repo root>/dist/<fn>. The repo root is the nearest directory at or above
// the working directory that holds go.mod, so the app works when run from
// the repo root (go run ./infra) and from infra/ (cdk.json: go run .).
func DefaultAssetDir(fn string) string {
	return filepath.Join(repoRoot(), "dist", fn)
}
