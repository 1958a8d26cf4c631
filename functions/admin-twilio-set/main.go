// Command admin-twilio-set is the Lambda behind its admin route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/adminapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("admin-twilio-set", adminapi.AdminTwilioSet) }
