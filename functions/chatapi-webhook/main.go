// Command chatapi-webhook is the Lambda behind its seed 002 (chat-api style) route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/chatapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("chatapi-webhook", chatapi.ChatapiWebhook) }
