package registry

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/startmsg/chatbackend/shared/actionapi"
	"github.com/startmsg/chatbackend/shared/adminapi"
	"github.com/startmsg/chatbackend/shared/chatapi"
	"github.com/startmsg/chatbackend/shared/connectionapi"
	"github.com/startmsg/chatbackend/shared/contactapi"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/eventsapi"
	"github.com/startmsg/chatbackend/shared/messageapi"
	"github.com/startmsg/chatbackend/shared/messenger"
	"github.com/startmsg/chatbackend/shared/metaapi"
	"github.com/startmsg/chatbackend/shared/router"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/sender"
	"github.com/startmsg/chatbackend/shared/templateapi"
	"github.com/startmsg/chatbackend/shared/wahook"
	"github.com/startmsg/chatbackend/shared/wiring"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

// TestEveryRouteHasABuilder fails when a route has no handler or a handler
// has no route, or two packages claim one function.
func TestEveryRouteHasABuilder(t *testing.T) {
	all := All()
	n := 0
	for _, p := range Packages {
		n += len(p)
	}
	if n != len(all) {
		t.Errorf("%d builders but %d names: a function is claimed twice", n, len(all))
	}
	for _, r := range routes.Table {
		if _, ok := all[r.Function]; !ok {
			t.Errorf("route %s %s: function %s has no builder", r.Method, r.Path, r.Function)
		}
	}
	for name := range all {
		if _, ok := routes.ByFunction(name); !ok {
			t.Errorf("builder %s has no route", name)
		}
	}
}

// TestEveryEventFunctionHasAConsumer pairs routes.EventFunctions with the
// Streams and Queues registries.
func TestEveryEventFunctionHasAConsumer(t *testing.T) {
	want := map[string]string{}
	for _, f := range routes.EventFunctions {
		if f.Source != "" {
			want[f.Function] = f.Source
		}
	}
	for name, src := range want {
		_, s := Streams[name]
		_, q := Queues[name]
		_, sc := Schedules[name]
		if (src == "stream" && !s) || ((src == "queue" || src == "outbox") && !q) || (src == "schedule" && !sc) {
			t.Errorf("event function %s (%s) has no consumer", name, src)
		}
	}
	for name := range Streams {
		if want[name] != "stream" {
			t.Errorf("stream consumer %s is not a stream event function", name)
		}
	}
	for name := range Queues {
		if want[name] != "queue" && want[name] != "outbox" {
			t.Errorf("queue consumer %s is not a queue event function", name)
		}
	}
	for name := range Schedules {
		if want[name] != "schedule" {
			t.Errorf("scheduled function %s is not a schedule event function", name)
		}
	}
}

// The ports every handler package declares are satisfied by wiring.Env.
var (
	_ adminapi.Ports      = (*wiring.Env)(nil)
	_ connectionapi.Ports = (*wiring.Env)(nil)
	_ contactapi.Ports    = (*wiring.Env)(nil)
	_ actionapi.Ports     = (*wiring.Env)(nil)
	_ eventsapi.Ports     = (*wiring.Env)(nil)
	_ metaapi.Ports       = (*wiring.Env)(nil)
	_ messenger.Ports     = (*wiring.Env)(nil)
	_ router.Ports        = (*wiring.Env)(nil)
	_ router.OutboxPort   = (*wiring.Env)(nil)
	_ dispatch.Ports      = (*wiring.Env)(nil)
	_ wahook.Ports        = (*wiring.Env)(nil)
)

// The messaging handlers' ports are satisfied by messaging.Env.
var (
	_ messageapi.Ports   = (*messaging.Env)(nil)
	_ sender.Ports       = (*messaging.Env)(nil)
	_ chatapi.Ports      = (*messaging.Env)(nil)
	_ templateapi.Ports  = (*messaging.Env)(nil)
	_ wahook.IntakePorts = (*messaging.Env)(nil)
)

// TestEveryBuilderBuilds: every function's handler builds from an Env
// without touching the network (builders run during init and are cheap).
func TestEveryBuilderBuilds(t *testing.T) {
	e := wiring.FromConfig(aws.Config{Region: "us-east-1"}, func(string) string { return "x" })
	for name, b := range All() {
		if b(e) == nil {
			t.Errorf("%s: nil handler", name)
		}
		if _, err := wiring.APIHandler(e, name, All()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, b := range Streams {
		if b(e) == nil {
			t.Errorf("%s: nil handler", name)
		}
	}
	for name, b := range Queues {
		if b(e) == nil {
			t.Errorf("%s: nil handler", name)
		}
	}
	for name, b := range Schedules {
		if b(e) == nil {
			t.Errorf("%s: nil handler", name)
		}
	}
}
