// Command openapi is the Lambda behind its route (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/metaapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("openapi", metaapi.Openapi) }
