// Command actions is the Lambda behind its route (shared/routes); it parses
// field values, phone numbers among them (and refuses SMS to fixed lines).
package main

import (
	"github.com/startmsg/chatbackend/shared/actionapi"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() {
	wiring.StartAPI("actions", actionapi.Actions, wiring.WithPhone(phone.Normalize), wiring.WithFixedLine(phone.FixedLine))
}
