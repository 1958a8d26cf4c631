package emulators

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/infra/local/provision"
	"github.com/startmsg/chatbackend/shared/appenv"
)

// shared is the one in-memory stack of a test binary, started by the first
// ForTest.
var shared struct {
	once  sync.Once
	stack *Stack
	err   error
	seq   atomic.Int64
}

// Main runs a package's tests and then stops the stack ForTest started:
//
//	func TestMain(m *testing.M) { emulators.Main(m) }
//
// Without it the emulators live until the test binary exits (on Linux the
// kernel then kills them).
func Main(m *testing.M) {
	m.Run()
	if shared.stack != nil {
		shared.stack.Stop()
	}
}

// TestEnv is one test's view of the shared stack: clients, and a table and
// queues of its own, deleted when the test ends.
type TestEnv struct {
	Stack    *Stack
	Config   aws.Config
	DDB      *dynamodb.Client
	Streams  *dynamodbstreams.Client
	SQS      *sqs.Client
	Table    string // the data table
	OpsTable string // the operations table
	Queues   provision.Queues
}

// ForTest starts the shared in-memory stack if needed and provisions the two
// tables and the queues, named after the test. With DYNAMODB_ENDPOINT set
// (http://host:port), the tests use that DynamoDB instead of a dynoxide.
func ForTest(t testing.TB) *TestEnv {
	t.Helper()
	shared.once.Do(func() {
		shared.stack, shared.err = Start(context.Background(), Options{DynamoEndpoint: os.Getenv(EndpointVar)})
	})
	if shared.err != nil {
		t.Fatalf("start emulators: %v", shared.err)
	}
	cfg := shared.stack.AWSConfig()
	e := &TestEnv{
		Stack:   shared.stack,
		Config:  cfg,
		DDB:     dynamodb.NewFromConfig(cfg),
		Streams: dynamodbstreams.NewFromConfig(cfg),
		SQS:     sqs.NewFromConfig(cfg),
	}
	prefix := fmt.Sprintf("t%d-%.40s-", shared.seq.Add(1), unsafeName.ReplaceAllString(t.Name(), "-"))
	e.Table, e.OpsTable = prefix+"table", prefix+"ops"
	ctx := context.Background()
	if err := provision.EnsureTables(ctx, e.DDB, e.Table, e.OpsTable); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, name := range []string{e.Table, e.OpsTable} {
			if _, err := e.DDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
				t.Errorf("delete table %s: %v", name, err)
			}
		}
	})
	var err error
	if e.Queues, err = provision.EnsureQueues(ctx, e.SQS, prefix); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, u := range []string{e.Queues.DeliveriesURL, e.Queues.DLQURL, e.Queues.OutboxURL, e.Queues.OutboxDLQURL} {
			if _, err := e.SQS.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)}); err != nil {
				t.Errorf("delete queue: %v", err)
			}
		}
	})
	return e
}

// unsafeName matches what may not appear in table and queue names.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Env returns the stack's Env plus the variables through which functions
// find this test's tables and queues (package appenv).
func (e *TestEnv) Env() []string {
	return append(e.Stack.Env(),
		appenv.TableName+"="+e.Table,
		appenv.OpsTableName+"="+e.OpsTable,
		appenv.QueueURL+"="+e.Queues.DeliveriesURL,
		appenv.DLQURL+"="+e.Queues.DLQURL,
		appenv.OutboxURL+"="+e.Queues.OutboxURL,
		appenv.OutboxDLQURL+"="+e.Queues.OutboxDLQURL,
	)
}
