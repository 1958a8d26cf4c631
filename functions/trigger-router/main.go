// Command trigger-router consumes the table stream and queues deliveries
// (shared/router).
package main

import (
	"github.com/startmsg/chatbackend/shared/router"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartStream(router.Build) }
