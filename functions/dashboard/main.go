// Command dashboard is the Lambda behind its route (shared/routes): the
// panel's page.
package main

import (
	"github.com/startmsg/chatbackend/shared/dashboard"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("dashboard", dashboard.Dashboard) }
