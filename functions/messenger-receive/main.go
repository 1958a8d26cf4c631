// Command messenger-receive is the Lambda behind its Messenger webhook route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/contactinputapi"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
)

func main() { lambdaapp.StartAPI("messenger-receive", contactinputapi.Functions) }
