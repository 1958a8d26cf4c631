// Command invoke is `make invoke FN=<function> EVENT=<file>`: it feeds a
// sample event (events/) to one function's Lambda handler, through
// aws-lambda-go's own handler wrapper, against the stack `make run` started,
// and prints the function's answer.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/authorizer"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() {
	fn := flag.String("fn", "", "function name (a directory under functions/)")
	event := flag.String("event", "", "event JSON file, e.g. events/apigw/me.json")
	flag.Parse()
	if err := run(*fn, *event); err != nil {
		fmt.Fprintln(os.Stderr, "make invoke:", err)
		os.Exit(1)
	}
}

func run(fn, event string) error {
	if fn == "" || event == "" {
		return fmt.Errorf("usage: make invoke FN=<function> EVENT=<file>; functions: %v", routes.Functions())
	}
	raw, err := os.ReadFile(event)
	if err != nil {
		return err
	}
	// The stack of `make run`, unless the environment says otherwise.
	defaults := map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": "http://127.0.0.1:8000",
		"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9324", "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", appenv.TableName: "chat-backend", appenv.OpsTableName: "chat-backend-ops",
		appenv.QueueURL: "http://127.0.0.1:9324/000000000000/deliveries", appenv.DLQURL: "http://127.0.0.1:9324/000000000000/deliveries-dlq",
		appenv.AllowLoopbackTargets: "true",
	}
	for k, v := range defaults {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	ctx := context.Background()
	d, err := wiring.Load(ctx)
	if err != nil {
		return err
	}
	h, err := handler(d, fn)
	if err != nil {
		return err
	}
	out, err := h.Invoke(ctx, raw)
	if err != nil {
		return fmt.Errorf("%s returned an error: %w", fn, err)
	}
	fmt.Println(string(out))
	return nil
}

func handler(d *wiring.Env, fn string) (lambda.Handler, error) {
	if fn == routes.Authorizer {
		return lambda.NewHandler(authorizer.Handler(d.Tenancy())), nil
	}
	if b, ok := registry.Streams[fn]; ok {
		return lambda.NewHandler(b(d)), nil
	}
	if b, ok := registry.Queues[fn]; ok {
		return lambda.NewHandler(b(d)), nil
	}
	h, err := wiring.APIHandler(d, fn, registry.All())
	if err != nil {
		return nil, err
	}
	return lambda.NewHandler(h), nil
}
