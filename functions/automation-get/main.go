// Command automation-get is the Lambda behind its automations route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/automationapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("automation-get", automationapi.AutomationGet) }
