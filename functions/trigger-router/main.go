// Command trigger-router consumes the table stream and queues deliveries
// (shared/router).
package main

import (
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/router"
)

func main() { lambdaapp.StartStream(router.Build) }
