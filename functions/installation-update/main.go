// Command installation-update is the Lambda behind its sender-installation route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/installapi"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() {
	wiring.StartAPI("installation-update", installapi.InstallationUpdate, wiring.WithPhone(phone.Normalize))
}
