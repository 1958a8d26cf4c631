package registry

import (
	"testing"

	"github.com/startmsg/chatbackend/shared/routes"
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
		if (src == "stream" && !s) || (src == "queue" && !q) {
			t.Errorf("event function %s (%s) has no consumer", name, src)
		}
	}
	for name := range Streams {
		if want[name] != "stream" {
			t.Errorf("stream consumer %s is not a stream event function", name)
		}
	}
	for name := range Queues {
		if want[name] != "queue" {
			t.Errorf("queue consumer %s is not a queue event function", name)
		}
	}
}
