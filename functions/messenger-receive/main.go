// Command messenger-receive is the Lambda behind its Messenger webhook route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/eventsapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("messenger-receive", eventsapi.MessengerReceive) }
