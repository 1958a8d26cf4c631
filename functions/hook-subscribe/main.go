// Command hook-subscribe is the Lambda behind its JSON API connector route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/connectionapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPIWithSDKStores("hook-subscribe", connectionapi.HookSubscribe) }
