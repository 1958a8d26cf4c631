// Command invoke is `make invoke FN=<function> EVENT=<file>`: it builds the
// function's bootstrap for this machine (the deployment's build flags),
// runs it under AWS's Runtime Interface Emulator (package infra/local/rie)
// against the stack `make run` started, sends it the event as Lambda would,
// prints the function's answer on stdout and its logs (and the emulator's)
// on stderr, and stops it.
//
// It finds `make run`'s stack as `make run` places it: DynamoDB on
// DYNAMO_PORT (default 8000), SQS on SQS_PORT (default 9324), the tables
// chat-backend and chat-backend-ops, the queues deliveries and
// deliveries-dlq. The sample events (events/) name the tenant ten_sample,
// channel ch_sample and token tok_sample, which `make run` seeds.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/provision"
	"github.com/startmsg/chatbackend/infra/local/rie"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/queue"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/whatsapp"
)

type options struct {
	fn, event           string
	dynamoPort, sqsPort int
	port                int // make run's gateway
	timeout             time.Duration
	quiet               bool
}

func main() {
	var o options
	flag.StringVar(&o.fn, "fn", "", "function name (a directory under functions/)")
	flag.StringVar(&o.event, "event", "", "event JSON file, e.g. events/apigw/me.json")
	flag.IntVar(&o.dynamoPort, "dynamo-port", envInt("DYNAMO_PORT", 8000), "make run's DynamoDB emulator port (env DYNAMO_PORT)")
	flag.IntVar(&o.port, "port", envInt("PORT", 8080), "make run's gateway port (env PORT), which answers the authorizer cache flush")
	flag.IntVar(&o.sqsPort, "sqs-port", envInt("SQS_PORT", 9324), "make run's SQS emulator port (env SQS_PORT)")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "the function's timeout (AWS_LAMBDA_FUNCTION_TIMEOUT)")
	flag.BoolVar(&o.quiet, "quiet", false, "do not copy the function's and the emulator's logs to stderr")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "make invoke:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if o.fn == "" || o.event == "" {
		return fmt.Errorf("usage: make invoke FN=<function> EVENT=<file>; functions: %v", routes.Functions())
	}
	if !slices.Contains(routes.Functions(), o.fn) {
		return fmt.Errorf("unknown function %q; functions: %v", o.fn, routes.Functions())
	}
	root, err := rie.ModuleRoot()
	if err != nil {
		return err
	}
	event := o.event
	if !filepath.IsAbs(event) {
		// make runs this from the module root; go test from the package.
		if _, err := os.Stat(event); err != nil {
			event = filepath.Join(root, event)
		}
	}
	raw, err := os.ReadFile(event)
	if err != nil {
		return err
	}

	env, err := stackEnv(ctx, o.dynamoPort, o.sqsPort, o.port)
	if err != nil {
		return err
	}
	env = append(env, messagingEnv(os.Getenv, filepath.Join(root, ".local", "demo.env"))...)
	env = append(env, twilioEnv(os.Getenv, filepath.Join(root, ".local", "demo.env"))...) // twilio.go
	bin, err := rie.Binary(ctx, root)
	if err != nil {
		return err
	}
	boots, err := rie.Bootstraps(ctx, root, map[string]string{o.fn: "./functions/" + o.fn})
	if err != nil {
		return err
	}
	opts := rie.Options{Name: o.fn, Bootstrap: boots[o.fn], Env: env, Timeout: o.timeout}
	if !o.quiet {
		opts.Log = stderr
	}
	f, err := rie.Start(ctx, bin, opts)
	if err != nil {
		return err
	}
	defer f.Stop()
	out, err := f.Invoke(ctx, raw)
	var ie *rie.InvokeError
	if errors.As(err, &ie) && !o.quiet {
		// Its output is on stderr already.
		return fmt.Errorf("%s: invocation failed (HTTP %d): %s", o.fn, ie.Status, ie.Body)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	return nil
}

// stackEnv checks that make run's stack answers on the given ports and
// returns the functions' environment for it: endpoints, fake credentials,
// region, tables, queues, and the settings make run gives its functions.
func stackEnv(ctx context.Context, dynamoPort, sqsPort, gatewayPort int) ([]string, error) {
	stack := &emulators.Stack{
		DynamoEndpoint: fmt.Sprintf("http://127.0.0.1:%d", dynamoPort),
		SQSEndpoint:    fmt.Sprintf("http://127.0.0.1:%d", sqsPort),
	}
	cfg := stack.AWSConfig()
	cfg.RetryMaxAttempts = 1
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	hint := "is `make run` running? (make invoke honours DYNAMO_PORT and SQS_PORT as make run does)"
	if _, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(provision.LocalTable)}); err != nil {
		return nil, fmt.Errorf("table %s on %s: %w\n%s", provision.LocalTable, stack.DynamoEndpoint, err, hint)
	}
	client := sqs.NewFromConfig(cfg)
	urls := map[string]string{}
	for _, name := range []string{queue.OutboxName, queue.OutboxDLQName} {
		// The outbox (the sender's queue), where make run made it.
		if got, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)}); err == nil {
			urls[name] = aws.ToString(got.QueueUrl)
		}
	}
	for _, name := range []string{queue.DeliveriesName, queue.DLQName} {
		got, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("queue %s on %s: %w\n%s", name, stack.SQSEndpoint, err, hint)
		}
		urls[name] = aws.ToString(got.QueueUrl)
	}
	env := stack.Env()
	if urls[queue.OutboxName] != "" {
		env = append(env, appenv.OutboxURL+"="+urls[queue.OutboxName], appenv.OutboxDLQURL+"="+urls[queue.OutboxDLQName])
	}
	if goroot := runtime.GOROOT(); goroot != "" {
		// The zone readers' zone database, as their Lambda asset has it
		// (routes.ZoneReaders), whatever this machine has.
		env = append(env, routes.ZoneInfoEnv+"="+filepath.Join(goroot, "lib", "time", "zoneinfo.zip"))
	}
	return append(env,
		appenv.TableName+"="+provision.LocalTable,
		appenv.OpsTableName+"="+provision.LocalOpsTable,
		appenv.QueueURL+"="+urls[queue.DeliveriesName],
		appenv.DLQURL+"="+urls[queue.DLQName],
		appenv.Stage+"=local",
		appenv.AllowLoopbackTargets+"=true",
		// The admin functions that revoke or rotate credentials flush the
		// authorizer cache with the AWS SDK: make run's gateway answers
		// API Gateway's flush call for its API and stage ("local").
		appenv.RestAPIID+"=local",
		appenv.APIStageName+"=local",
		fmt.Sprintf("AWS_ENDPOINT_URL_API_GATEWAY=http://127.0.0.1:%d", gatewayPort),
	), nil
}

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err == nil && n > 0 {
		return n
	}
	return def
}

// messagingEnv points the messaging functions at the Cloud API make run
// gives its own: WHATSAPP_API_BASE_URL (and WHATSAPP_API_VERSION) when set
// here, else the provider sandbox demo.env names (WHATSAPP_SANDBOX_URL);
// nothing when neither is known (a function then calls Meta's own).
func messagingEnv(getenv func(string) string, demoEnv string) []string {
	var out []string
	base := getenv(whatsapp.EnvBaseURL)
	if base == "" {
		if b, err := os.ReadFile(demoEnv); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), sandboxURLKey+"="); ok {
					base = strings.Trim(v, `"'`)
				}
			}
		}
	}
	if base != "" {
		out = append(out, whatsapp.EnvBaseURL+"="+base)
	}
	if v := getenv(whatsapp.EnvVersion); v != "" {
		out = append(out, whatsapp.EnvVersion+"="+v)
	}
	return out
}

// sandboxURLKey is the demo.env key of make run's provider sandbox.
const sandboxURLKey = "WHATSAPP_SANDBOX_URL"
