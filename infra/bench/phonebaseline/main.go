// Command phonebaseline is the yardstick of the functions that parse phone
// numbers (those that link github.com/nyaruka/phonenumbers through
// shared/phone): the init of infra/bench/baseline — the AWS config and a
// DynamoDB client — with the phone library linked as those functions link
// it. Its package init loads the numbering metadata (protobuf) and compiles
// its patterns, whether or not a number is parsed; the handler parses and
// formats one, so the linker keeps what the functions use. A phone
// function's init is judged relative to this one's: the difference is the
// cost of the project's own code.
package main

import (
	"context"
	"encoding/json"
	"log"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/nyaruka/phonenumbers"

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

// handle answers every event with the E.164 form of a fixed number, as
// shared/phone writes it.
func handle(context.Context, json.RawMessage) (map[string]any, error) {
	n, err := phonenumbers.Parse("0300 1234567", "PK")
	if err != nil {
		return nil, err
	}
	return map[string]any{"ok": db != nil, "e164": phonenumbers.Format(n, phonenumbers.E164)}, nil
}
