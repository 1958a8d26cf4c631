package emulators

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/infra/local/provision"
)

func TestMain(m *testing.M) { Main(m) }

func startStack(t *testing.T, o Options) *Stack {
	t.Helper()
	s, err := Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func TestStartStop(t *testing.T) {
	// Start serialises the children's writes to log; Dir is relative to
	// this package.
	var log strings.Builder
	s := startStack(t, Options{Dir: "..", Log: &log})
	cfg := s.AWSConfig()
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("dynamodb: %v", err)
	}
	if _, err := sqs.NewFromConfig(cfg).ListQueues(t.Context(), &sqs.ListQueuesInput{}); err != nil {
		t.Fatalf("sqs: %v", err)
	}

	s.Stop()
	s.Stop() // idempotent
	for _, c := range s.children {
		if running(c.cmd.Process.Pid) {
			t.Errorf("%s still running after Stop", c.name)
		}
	}
	for _, u := range []string{s.DynamoEndpoint, s.SQSEndpoint} {
		if c, err := net.Dial("tcp", strings.TrimPrefix(u, "http://")); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Stop", u)
		}
	}
	if !strings.Contains(log.String(), "dynamodb: Dynoxide listening") {
		t.Errorf("child output not logged:\n%s", log.String())
	}
}

func TestDataDirPersistsTables(t *testing.T) {
	dir := t.TempDir()
	for run := range 2 {
		s := startStack(t, Options{DataDir: dir})
		ddb := dynamodb.NewFromConfig(s.AWSConfig())
		if run == 0 {
			if err := provision.EnsureTables(t.Context(), ddb, "kept", "kept-ops"); err != nil {
				t.Fatal(err)
			}
		} else {
			for _, name := range []string{"kept", "kept-ops"} {
				if _, err := ddb.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)}); err != nil {
					t.Fatalf("table %s lost across restart: %v", name, err)
				}
			}
		}
		s.Stop()
	}
	if _, err := os.Stat(filepath.Join(dir, "dynamodb.sqlite")); err != nil {
		t.Fatal(err)
	}
}

func TestFixedPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = Start(t.Context(), Options{DynamoPort: port})
	if err == nil || !strings.Contains(err.Error(), "port "+strconv.Itoa(port)+" is in use") || !strings.Contains(err.Error(), "DYNAMO_PORT") {
		t.Fatalf("got %v, want a port-in-use error naming the port and DYNAMO_PORT", err)
	}
}

func TestMissingNodeModules(t *testing.T) {
	_, err := Start(t.Context(), Options{Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("got %v, want a hint to run make deps", err)
	}
}

func TestEnvConfiguresDefaultConfig(t *testing.T) {
	e := ForTest(t)
	for _, kv := range e.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	d, err := dynamodb.NewFromConfig(cfg).DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(os.Getenv("TABLE_NAME"))})
	if err != nil {
		t.Fatalf("dynamodb: %v", err)
	}
	if _, err := dynamodbstreams.NewFromConfig(cfg).DescribeStream(t.Context(), &dynamodbstreams.DescribeStreamInput{StreamArn: d.Table.LatestStreamArn}); err != nil {
		t.Fatalf("dynamodb streams: %v", err)
	}
	if _, err := sqs.NewFromConfig(cfg).GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(os.Getenv("DELIVERIES_QUEUE_URL"))}); err != nil {
		t.Fatalf("sqs: %v", err)
	}
}

func TestForTestGivesEachTestItsOwnResources(t *testing.T) {
	a, b := ForTest(t), ForTest(t)
	if a.Stack != b.Stack {
		t.Error("want one shared stack")
	}
	if a.Table == b.Table || a.Queues.DeliveriesURL == b.Queues.DeliveriesURL || a.Queues.DLQURL == b.Queues.DLQURL {
		t.Errorf("names collide: %+v %+v", a, b)
	}
}

func TestStartFailureShowsOutput(t *testing.T) {
	// A db path that is a directory makes dynoxide exit at once.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "dynamodb.sqlite"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Start(t.Context(), Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "last output") {
		t.Fatalf("got %v, want an error with the child's output", err)
	}
	t.Log(err)
}

func TestEndpointsFromAWSConfig(t *testing.T) {
	s := &Stack{DynamoEndpoint: "http://127.0.0.1:1", SQSEndpoint: "http://127.0.0.1:2"}
	cfg := s.AWSConfig()
	if got := dynamodb.NewFromConfig(cfg).Options().BaseEndpoint; aws.ToString(got) != s.DynamoEndpoint {
		t.Errorf("dynamodb endpoint %v", aws.ToString(got))
	}
	if got := dynamodbstreams.NewFromConfig(cfg).Options().BaseEndpoint; aws.ToString(got) != s.DynamoEndpoint {
		t.Errorf("streams endpoint %v", aws.ToString(got))
	}
	if got := sqs.NewFromConfig(cfg).Options().BaseEndpoint; aws.ToString(got) != s.SQSEndpoint {
		t.Errorf("sqs endpoint %v", aws.ToString(got))
	}
}

func TestChildrenDieWithPanickingParent(t *testing.T) {
	if os.Getenv("EMULATORS_PANIC_HELPER") == "1" {
		s, err := Start(t.Context(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.children {
			fmt.Println("pid", c.cmd.Process.Pid)
		}
		fmt.Println("dir", s.tmpDir)
		panic("test panics with the emulators running")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildrenDieWithPanickingParent$")
	cmd.Env = append(os.Environ(), "EMULATORS_PANIC_HELPER=1")
	out, _ := cmd.CombinedOutput()
	var pids []int
	for _, line := range strings.Split(string(out), "\n") {
		// The panicking helper cannot remove its data folder: this test does.
		if d, ok := strings.CutPrefix(line, "dir "); ok && d != "" {
			t.Cleanup(func() { os.RemoveAll(d) })
		}
		if p, ok := strings.CutPrefix(line, "pid "); ok {
			pid, err := strconv.Atoi(p)
			if err != nil {
				t.Fatal(err)
			}
			pids = append(pids, pid)
		}
	}
	if len(pids) != 2 {
		t.Fatalf("helper output:\n%s", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for running(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("emulator %d outlived its parent", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// running tells whether pid is alive; a zombie (dead, not yet reaped by
// init) is not.
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// TestDataDirPersistsQueues: with a data dir, queues (attributes and redrive
// policy included), their messages and the receive count of a message in
// flight survive fauxqs being killed and restarted, and a whole stop and
// start; provisioning the kept queues again changes nothing.
func TestDataDirPersistsQueues(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s := startStack(t, Options{DataDir: dir})
	client := sqs.NewFromConfig(s.AWSConfig())
	q, err := provision.EnsureQueues(ctx, client, "kept-")
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"a", "b"} {
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.DeliveriesURL), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	receive := func(client *sqs.Client, wait int32) []sqstypes.Message {
		t.Helper()
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.DeliveriesURL), MaxNumberOfMessages: 1,
			WaitTimeSeconds: wait, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Messages
	}
	first := receive(client, 0)
	if len(first) != 1 {
		t.Fatalf("received %d messages", len(first))
	}
	// As the dispatcher does after a failed attempt: back in 2 s.
	if _, err := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q.DeliveriesURL),
		ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 2}); err != nil {
		t.Fatal(err)
	}

	if err := s.Kill("sqs"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListQueues(ctx, &sqs.ListQueuesInput{}); err == nil {
		t.Fatal("fauxqs still answers after Kill")
	}
	if err := s.Restart(ctx, "sqs"); err != nil {
		t.Fatal(err)
	}
	again, err := provision.EnsureQueues(ctx, client, "kept-")
	if err != nil || again != q {
		t.Fatalf("provisioning the kept queues: %+v, %v; want %+v", again, err, q)
	}
	got := map[string]string{}
	deadline := time.Now().Add(15 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		for _, m := range receive(client, 1) {
			got[aws.ToString(m.Body)] = m.Attributes["ApproximateReceiveCount"]
		}
	}
	inFlight := aws.ToString(first[0].Body)
	other := map[string]string{"a": "b", "b": "a"}[inFlight]
	if got[other] != "1" || got[inFlight] != "2" {
		t.Fatalf("after fauxqs was killed and restarted: %v; want both messages, %s (in flight) on its 2nd receive", got, inFlight)
	}

	// A whole stop and start (SIGTERM) keeps them too; DynamoDB restarts.
	if err := s.Restart(ctx, "dynamodb"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s2 := startStack(t, Options{DataDir: dir})
	attrs, err := sqs.NewFromConfig(s2.AWSConfig()).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.DeliveriesURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	if n := attrs.Attributes["ApproximateNumberOfMessages"] + "/" + attrs.Attributes["ApproximateNumberOfMessagesNotVisible"]; n != "0/2" && n != "2/0" && n != "1/1" {
		t.Errorf("after stop and start: %s messages visible/in flight, want 2 in all", n)
	}
	if !strings.Contains(attrs.Attributes["RedrivePolicy"], q.DLQARN) {
		t.Errorf("redrive policy %q lost", attrs.Attributes["RedrivePolicy"])
	}
	if _, err := os.Stat(filepath.Join(dir, "sqs", "fauxqs.db")); err != nil {
		t.Error(err)
	}
	if err := s2.Kill("nothing"); err == nil {
		t.Error("Kill of an unknown emulator succeeded")
	}
}
