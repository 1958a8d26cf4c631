// Command message-list is the Lambda behind its Messages API route (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/messageapi"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

func main() { messaging.StartAPI("message-list", messageapi.MessageList) }
