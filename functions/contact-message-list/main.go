// Command contact-message-list is the Lambda behind its Messages API route (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/messageapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("contact-message-list", messageapi.ContactMessageList) }
