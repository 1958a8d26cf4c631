// Command baseline is the yardstick of `make bench`: a bootstrap doing only
// the init work every function does — load the AWS config and build the
// DynamoDB client (wiring.Load) — before lambda.Start with a trivial
// handler. A function's cold-start init time is judged relative to this
// one's, except for the functions that link the phone number library
// (infra/bench/phonebaseline is theirs). Functions that also build an SQS
// client are held to the same yardstick, which is the stricter choice.
package main

import (
	"context"
	"encoding/json"
	"log"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/startmsg/chatbackend/shared/lambdaapp"
)

// The client lives in a package variable, as a function's dependencies do,
// so the linker keeps everything its constructor reaches.
var db *dynamodb.Client

func main() {
	ctx := context.Background()
	cfg, err := lambdaapp.LoadConfig(ctx) // as wiring.Load does
	if err != nil {
		log.Fatalf("load AWS config: %v", err)
	}
	db = dynamodb.NewFromConfig(cfg)
	lambda.Start(handle)
}

// handle answers every event with {"ok":true}.
func handle(context.Context, json.RawMessage) (map[string]bool, error) {
	return map[string]bool{"ok": db != nil}, nil
}
