// Command dispatcher consumes the deliveries queue and posts webhooks
// (shared/dispatch).
package main

import (
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
)

func main() { lambdaapp.StartQueue(dispatch.Build) }
