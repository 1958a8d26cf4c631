// Command sleepy is a test bootstrap whose init takes at least 50 ms: it
// sleeps, then starts a trivial handler.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	time.Sleep(50 * time.Millisecond)
	lambda.Start(func(context.Context) (string, error) { return "ok", nil })
}
