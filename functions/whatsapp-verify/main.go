// Command whatsapp-verify is the Lambda behind WhatsApp's webhook handshake
// route (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/wahook"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("whatsapp-verify", wahook.WhatsappVerify) }
