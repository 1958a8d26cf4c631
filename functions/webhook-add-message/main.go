// Command webhook-add-message is the Lambda behind seed 004's add_message route
// (shared/routes); it parses phone numbers.
package main

import (
	"github.com/startmsg/chatbackend/shared/flowapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() {
	wiring.StartAPI("webhook-add-message", flowapi.WebhookAddMessage)
}
