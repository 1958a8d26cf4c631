// Command webhook-add-message is the Lambda behind seed 004's add_message route
// (shared/routes); it parses phone numbers.
package main

import (
	// The IANA zone database (about 450 KB), for the allowed hours
	// (shared/hours): Lambda's provided.al2023 is not promised to have
	// /usr/share/zoneinfo; only the functions that read hours embed it.
	_ "time/tzdata"

	"github.com/startmsg/chatbackend/shared/flowapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() {
	wiring.StartAPI("webhook-add-message", flowapi.WebhookAddMessage)
}
