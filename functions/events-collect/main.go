// Command events-collect is the Lambda behind POST /v1/events: what a bot
// collected from a subscriber (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/contactinputapi"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
)

func main() { lambdaapp.StartAPI("events-collect", contactinputapi.Functions) }
