package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	appevents "github.com/startmsg/chatbackend/events"
	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/provision"
	"github.com/startmsg/chatbackend/infra/local/rie"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// localStack starts emulators on free ports and prepares them as `make
// run` does: its tables and queues, and the sample tenant (events.Seed).
// It returns the DynamoDB and SQS ports.
func localStack(t *testing.T) (dynamoPort, sqsPort int) {
	t.Helper()
	ctx := context.Background()
	stack, err := emulators.Start(ctx, emulators.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Stop)
	cfg := stack.AWSConfig()
	if err := provision.EnsureTables(ctx, dynamodb.NewFromConfig(cfg), provision.LocalTable, provision.LocalOpsTable); err != nil {
		t.Fatal(err)
	}
	if _, err := provision.EnsureQueues(ctx, sqs.NewFromConfig(cfg), ""); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{appenv.TableName: provision.LocalTable, appenv.OpsTableName: provision.LocalOpsTable}
	d := wiring.FromConfig(cfg, func(k string) string { return vars[k] })
	for range 2 { // make run seeds on every start
		if err := appevents.Seed(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	port := func(endpoint string) int {
		u, err := url.Parse(endpoint)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.Atoi(u.Port())
		return p
	}
	return port(stack.DynamoEndpoint), port(stack.SQSEndpoint)
}

// TestMakeInvokeExample runs the documented example, `make invoke FN=me
// EVENT=events/apigw/me.json`, against a local stack on other ports than
// the defaults (DYNAMO_PORT, SQS_PORT), and checks the answer: 200 with the
// sample tenant.
func TestMakeInvokeExample(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("aws-lambda-rie runs Linux binaries only")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is not installed: the example is a make target (.ci/run installs make)")
	}
	dynamoPort, sqsPort := localStack(t)
	root, err := rie.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-s", "invoke", "FN=me", "EVENT=events/apigw/me.json")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DYNAMO_PORT="+strconv.Itoa(dynamoPort), "SQS_PORT="+strconv.Itoa(sqsPort))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("make invoke: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var res events.APIGatewayProxyResponse
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		t.Fatalf("stdout is not the function's answer: %v\n%s", err, stdout.String())
	}
	if res.StatusCode != 200 || !strings.Contains(res.Body, `"ten_sample"`) {
		t.Fatalf("answer %d %s, want 200 with the sample tenant", res.StatusCode, res.Body)
	}
	if !strings.Contains(stderr.String(), "INIT REPORT") {
		t.Errorf("the emulator's log is not on stderr:\n%s", stderr.String())
	}
}

// TestInvokeOtherSamples runs the authorizer and an admin sample through
// run, and checks the errors for a stack that is not there and an unknown
// function.
func TestInvokeOtherSamples(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("aws-lambda-rie runs Linux binaries only")
	}
	dynamoPort, sqsPort := localStack(t)
	ctx := context.Background()
	root, err := rie.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ fn, event, want string }{
		{"authorizer", "events/authorizer/request.json", `"Effect":"Allow"`},
		{"admin-tenant-get", "events/apigw/admin-tenant-get.json", `"statusCode":200`},
		{"admin-tenant-create", filepath.Join(root, "events/apigw/admin-tenant-create-unknown-field.json"), `"statusCode":400`},
	} {
		var stdout, stderr bytes.Buffer
		err := run(ctx, options{fn: c.fn, event: c.event, dynamoPort: dynamoPort, sqsPort: sqsPort, timeout: 30 * time.Second, quiet: true}, &stdout, &stderr)
		if err != nil || !strings.Contains(stdout.String(), c.want) {
			t.Errorf("%s %s: %v; answer %s, want %s", c.fn, c.event, err, stdout.String(), c.want)
		}
	}

	var out bytes.Buffer
	err = run(ctx, options{fn: "me", event: "events/apigw/me.json", dynamoPort: sqsPort, sqsPort: sqsPort, timeout: 30 * time.Second, quiet: true}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "make run") || !strings.Contains(err.Error(), "DYNAMO_PORT") {
		t.Errorf("without a DynamoDB on the port: err = %v, want a hint at make run and DYNAMO_PORT", err)
	}
	if err := run(ctx, options{fn: "nope", event: "events/apigw/me.json"}, &out, &out); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown function: err = %v", err)
	}
}
