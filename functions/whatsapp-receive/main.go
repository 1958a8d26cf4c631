// Command whatsapp-receive is the Lambda behind WhatsApp's webhook route
// (shared/routes): it checks each call and stores it for whatsapp-intake.
package main

import (
	"github.com/startmsg/chatbackend/shared/wahook"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("whatsapp-receive", wahook.WhatsappReceive) }
