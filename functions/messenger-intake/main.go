// Command messenger-intake consumes the table stream's Messenger inbox
// items and records their events (shared/messenger).
package main

import (
	"github.com/startmsg/chatbackend/shared/messenger"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartStream(messenger.Build, wiring.WithPhone(phone.Normalize)) }
