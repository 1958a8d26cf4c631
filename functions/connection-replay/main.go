// Command connection-replay is the Lambda behind its JSON API connector route
// (shared/routes). It reads one logged delivery and queues it again: its
// stores stay on the SDK's DynamoDB client, so that the binary (with the
// SQS client) does not link the lean one too and stays within its size
// budget.
package main

import (
	"github.com/startmsg/chatbackend/shared/connectionapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPIWithSDKStores("connection-replay", connectionapi.ConnectionReplay) }
