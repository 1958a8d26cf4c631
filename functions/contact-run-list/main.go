// Command contact-run-list is the Lambda behind its runs API route (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/runapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("contact-run-list", runapi.ContactRunList) }
