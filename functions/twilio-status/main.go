// Command twilio-status is the Lambda behind Twilio's status callback
// route (shared/routes): it checks each callback's signature against the
// channel's auth token and moves the SMS or call it is about forward
// (shared/twhook).
package main

import (
	"github.com/startmsg/chatbackend/shared/twhook"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("twilio-status", twhook.TwilioStatus) }
