// Command installation-get is the Lambda behind its sender-installation route
// (shared/routes).
package main

import (
	// The IANA zone database (about 450 KB), for the allowed hours
	// (shared/hours): Lambda's provided.al2023 is not promised to have
	// /usr/share/zoneinfo; only the functions that read hours embed it.
	_ "time/tzdata"

	"github.com/startmsg/chatbackend/shared/installapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() {
	wiring.StartAPI("installation-get", installapi.InstallationGet)
}
