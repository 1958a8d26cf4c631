// Command installation-hours-set is the Lambda behind its sender-installation route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/installapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() {
	wiring.StartAPI("installation-hours-set", installapi.InstallationHoursSet)
}
