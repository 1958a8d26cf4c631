// Command messenger-verify is the Lambda behind its Messenger webhook route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/contactapi"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
)

func main() { lambdaapp.StartAPI("messenger-verify", contactapi.Functions) }
