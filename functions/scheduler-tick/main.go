// Command scheduler-tick releases the scheduler's due items, invoked every
// minute by an EventBridge rule (shared/scheduler, wiring.DueHandlers).
package main

import "github.com/startmsg/chatbackend/shared/wiring"

func main() { wiring.StartTicker() }
