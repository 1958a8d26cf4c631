package main

import (
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/limits"
	"github.com/startmsg/chatbackend/shared/routes"
)

// The dev fixture's tenant settings (prod keeps the defaults).
const devDispatcherConcurrency = 7

var devLimits = limits.Limits{ContactsPerTenant: 1234, ConnectionsPerChannel: 9, DeliveriesPerSecond: 11, AutomationsPerTenant: 13}

// wantTenantSettings is what the fixture of a stage was built with.
func wantTenantSettings(stage string) (int, limits.Limits) {
	if stage == StageDev {
		return devDispatcherConcurrency, devLimits
	}
	return DefaultDispatcherConcurrency, limits.Defaults()
}

// The dispatcher has its reservation, and its event source mapping the same
// maximum concurrency; no other function reserves any.
func TestDispatcherReservedConcurrency(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		want, _ := wantTenantSettings(f.stage)
		queueFns := map[string]bool{}
		for _, e := range f.events {
			if e.Source == sourceQueue {
				queueFns[f.functionID(t, e.Function)] = true
			}
		}
		if len(queueFns) == 0 {
			t.Fatal("no queue consumer")
		}
		for _, id := range f.ofType("AWS::Lambda::Function") {
			r, set := f.props(id)["ReservedConcurrentExecutions"]
			switch {
			case queueFns[id] && (!set || num(r) != float64(want)):
				t.Errorf("%s: ReservedConcurrentExecutions %v, want %d", id, r, want)
			case !queueFns[id] && set && !senderFn(t, f, id) && id != f.functionID(t, routes.SchedulerTick):
				t.Errorf("%s: ReservedConcurrentExecutions %v, want none (only the queue consumers reserve)", id, r)
			}
		}
		n := 0
		for _, id := range f.ofType("AWS::Lambda::EventSourceMapping") {
			p := f.props(id)
			fn := refs(p["FunctionName"])
			if len(fn) != 1 || !queueFns[fn[0]] {
				continue
			}
			n++
			sc, _ := p["ScalingConfig"].(map[string]any)
			if num(sc["MaximumConcurrency"]) != float64(want) {
				t.Errorf("%s: ScalingConfig %v, want MaximumConcurrency %d", id, p["ScalingConfig"], want)
			}
		}
		if n != len(queueFns) {
			t.Errorf("%d queue mappings, want %d", n, len(queueFns))
		}
	})
}

// Every function gets the stage's per-tenant limits.
func TestLimitsEnvironment(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		_, want := wantTenantSettings(f.stage)
		for _, id := range f.ofType("AWS::Lambda::Function") {
			vars, _ := f.props(id)["Environment"].(map[string]any)["Variables"].(map[string]any)
			got, err := limits.FromEnv(func(k string) string { s, _ := vars[k].(string); return s })
			if err != nil || got != want {
				t.Errorf("%s: limits %+v (%v), want %+v", id, got, err, want)
			}
			for k := range want.Env() {
				if _, ok := vars[k]; !ok {
					t.Errorf("%s: %s not set", id, k)
				}
			}
		}
	})
}

func TestDispatcherConcurrencyOf(t *testing.T) {
	for _, c := range []struct {
		stage string
		n     int
		want  int
		err   bool
	}{
		{StageProd, 0, DefaultDispatcherConcurrency, false},
		{StageDev, 0, DefaultDevDispatcherConcurrency, false},
		{StageProd, 200, 200, false},
		{StageDev, 1, 0, true},
		{StageProd, 1001, 0, true},
		{StageProd, -3, 0, true},
	} {
		got, err := dispatcherConcurrencyOf(c.stage, c.n)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("dispatcherConcurrencyOf(%s, %d) = %d, %v", c.stage, c.n, got, err)
		}
	}
	if _, err := limitsOf(limits.Limits{ConnectionsPerChannel: 20000}); err == nil {
		t.Error("limitsOf took 20,000 connections per channel")
	}
	if l, err := limitsOf(limits.Limits{DeliveriesPerSecond: 3}); err != nil || l.DeliveriesPerSecond != 3 || l.ContactsPerTenant != limits.DefaultContactsPerTenant {
		t.Errorf("limitsOf: %+v %v", l, err)
	}
}

func TestTenantSettingsOf(t *testing.T) {
	ctx := map[string]any{"dispatcherConcurrency": "20", "contactsPerTenant": float64(5000)}
	env := map[string]string{"DISPATCHER_CONCURRENCY": "30", limits.EnvConnectionsPerChannel: "4"}
	n, l, err := tenantSettingsOf(func(k string) any { return ctx[k] }, func(k string) string { return env[k] })
	if err != nil || n != 20 || l != (limits.Limits{ContactsPerTenant: 5000, ConnectionsPerChannel: 4}) {
		t.Fatalf("got %d %+v %v; want the context over the environment", n, l, err)
	}
	_, _, err = tenantSettingsOf(func(k string) any { return map[string]any{"deliveriesPerSecond": "fast"}[k] }, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "deliveriesPerSecond") {
		t.Fatalf("a bad setting: %v", err)
	}
}
