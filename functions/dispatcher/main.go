// Command dispatcher consumes the deliveries queue and posts webhooks
// (shared/dispatch).
package main

import (
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartQueue(dispatch.Build) }
