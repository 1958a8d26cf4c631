// Command scheduler-tick releases the scheduler's due items, invoked every
// minute by an EventBridge rule (shared/scheduler, wiring.DueHandlers); an
// automation step it runs may set a phone field, so it parses phone
// numbers.
package main

import (
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartTicker(wiring.WithPhone(phone.Normalize)) }
