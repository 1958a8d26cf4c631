// Command events-collect is the Lambda behind POST /v1/events: what a bot
// collected from a subscriber (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/eventsapi"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() {
	wiring.StartAPI("events-collect", eventsapi.EventsCollect, wiring.WithPhone(phone.Normalize))
}
