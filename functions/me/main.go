// Command me is the Lambda behind its route (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/metaapi"
)

func main() { lambdaapp.StartAPI("me", metaapi.Functions) }
