// Command chatapi-instance-webhook is the Lambda behind its seed 002 (chat-api style) route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/chatapi"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

func main() { messaging.StartAPI("chatapi-instance-webhook", chatapi.ChatapiInstanceWebhook) }
