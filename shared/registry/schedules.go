package registry

import "github.com/startmsg/chatbackend/shared/wiring"

// Schedules are the functions invoked every minute by function name
// (routes.EventFunctions with Source "schedule"): in AWS an EventBridge
// rule, under make run a poller, both calling this handler.
var Schedules = map[string]func(*wiring.Env) wiring.TickHandler{
	"scheduler-tick": wiring.SchedulerTick,
}
