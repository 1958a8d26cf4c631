// Command dashboard-asset is the Lambda behind its route (shared/routes):
// the panel's scripts and styles.
package main

import (
	"github.com/startmsg/chatbackend/shared/dashboard"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("dashboard-asset", dashboard.DashboardAsset) }
