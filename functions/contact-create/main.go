// Command contact-create is the Lambda behind its route (shared/routes); it parses
// field values, phone numbers among them.
package main

import (
	"github.com/startmsg/chatbackend/shared/contactapi"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() {
	wiring.StartAPI("contact-create", contactapi.ContactCreate, wiring.WithPhone(phone.Normalize))
}
