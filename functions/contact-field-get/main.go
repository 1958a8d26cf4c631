// Command contact-field-get is the Lambda behind its Contacts API route (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/contactapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("contact-field-get", contactapi.ContactFieldGet) }
