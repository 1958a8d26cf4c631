// Command automation-list is the Lambda behind its automations route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/automationapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("automation-list", automationapi.AutomationList) }
