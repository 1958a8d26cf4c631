// Command contact-field-create is the Lambda behind its Contacts API route (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/contactapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("contact-field-create", contactapi.ContactFieldCreate) }
