// Command whatsapp-intake consumes the table stream's WhatsApp inbox items
// and records their messages, statuses and template status updates
// (shared/wahook).
package main

import (
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/wahook"
	"github.com/startmsg/chatbackend/shared/wiring"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

func main() { messaging.StartStream(wahook.Build, wiring.WithPhone(phone.Normalize)) }
