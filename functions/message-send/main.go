// Command message-send is the Lambda behind POST /v1/messages (shared/routes);
// it parses phone numbers.
package main

import (
	"github.com/startmsg/chatbackend/shared/messageapi"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/wiring"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

func main() {
	messaging.StartAPI("message-send", messageapi.MessageSend, wiring.WithPhone(phone.Normalize), wiring.WithFixedLine(phone.FixedLine))
}
