// Command contact-update is the Lambda behind its route (shared/routes); it parses
// field values, phone numbers among them.
package main

import (
	"github.com/startmsg/chatbackend/shared/contactinputapi"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
)

func main() { lambdaapp.StartAPI("contact-update", contactinputapi.Functions) }
