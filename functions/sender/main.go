// Command sender consumes the outbox queue and hands each message to its
// channel's provider (shared/sender).
package main

import (
	"github.com/startmsg/chatbackend/shared/sender"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

func main() { messaging.StartQueue(sender.Build) }
