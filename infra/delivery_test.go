package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/connections"
)

// The dev fixture's delivery settings (prod keeps the defaults).
var devDelivery = DeliverySettings{InFlightPerConnection: 4, ProbeFirstSeconds: 15, ProbeMaxSeconds: 300, SlowWorkersPerConnection: 2, SlowWorkersPerTenant: 3}

// The queue consumer (the dispatcher) gets the stage's in-flight cap,
// probe intervals and slow-connection caps; no other function does.
func TestDeliverySettingsEnvironment(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		want := map[string]string{connections.InFlightSetting: "10", connections.ProbeFirstSetting: "30", connections.ProbeMaxSetting: "600",
			connections.SlowWorkersSetting: "1", connections.TenantSlowWorkersSetting: "2"}
		if f.stage == StageDev {
			want = map[string]string{connections.InFlightSetting: "4", connections.ProbeFirstSetting: "15", connections.ProbeMaxSetting: "300",
				connections.SlowWorkersSetting: "2", connections.TenantSlowWorkersSetting: "3"}
		}
		queueFns := map[string]bool{}
		for _, e := range f.events {
			if e.Source == sourceQueue {
				queueFns[f.functionID(t, e.Function)] = true
			}
		}
		for _, id := range f.ofType("AWS::Lambda::Function") {
			vars, _ := f.props(id)["Environment"].(map[string]any)["Variables"].(map[string]any)
			for k, w := range want {
				got, set := vars[k]
				switch {
				case queueFns[id] && got != w:
					t.Errorf("%s: %s = %v, want %s", id, k, got, w)
				case !queueFns[id] && set:
					t.Errorf("%s: %s set on a function other than the queue consumer", id, k)
				}
			}
		}
		// What the dispatcher reads from them.
		for id := range queueFns {
			vars, _ := f.props(id)["Environment"].(map[string]any)["Variables"].(map[string]any)
			l := connections.DeliveryLimitsFrom(func(k string) string { s, _ := vars[k].(string); return s })
			if w := want[connections.InFlightSetting]; l.InFlightPerConnection != map[string]int{"4": 4, "10": 10}[w] {
				t.Errorf("%s: the dispatcher reads an in-flight cap of %d, want %s", id, l.InFlightPerConnection, w)
			}
			if got, w := fmt.Sprint(l.SlowWorkersPerConnection, " ", l.SlowWorkersPerTenant), want[connections.SlowWorkersSetting]+" "+want[connections.TenantSlowWorkersSetting]; got != w {
				t.Errorf("%s: the dispatcher reads slow-connection caps (per connection, per tenant) %s, want %s", id, got, w)
			}
		}
	})
}

func TestDeliverySettingsOf(t *testing.T) {
	d, err := deliverySettingsOf(DeliverySettings{}, DefaultDispatcherConcurrency)
	if err != nil || d != (DeliverySettings{InFlightPerConnection: 10, ProbeFirstSeconds: 30, ProbeMaxSeconds: 600, SlowWorkersPerConnection: 1, SlowWorkersPerTenant: 2}) {
		t.Fatalf("defaults: %+v %v", d, err)
	}
	// The smallest dispatcher: a tenant's slow connections hold one of its two.
	if d, err := deliverySettingsOf(DeliverySettings{}, minDispatcherConcurrency); err != nil || d.SlowWorkersPerTenant != 1 {
		t.Fatalf("defaults for %d dispatchers: %+v %v; want one worker per tenant's slow connections", minDispatcherConcurrency, d, err)
	}
	if d, err := deliverySettingsOf(DeliverySettings{ProbeFirstSeconds: 900}, DefaultDispatcherConcurrency); err != nil || d.ProbeMaxSeconds != 900 {
		t.Fatalf("a first probe above the default most: %+v %v; want the most raised to it", d, err)
	}
	for _, bad := range []DeliverySettings{{InFlightPerConnection: 11}, {ProbeFirstSeconds: 60, ProbeMaxSeconds: 30}, {ProbeMaxSeconds: 50000},
		{SlowWorkersPerTenant: 5}, {SlowWorkersPerConnection: 3, SlowWorkersPerTenant: 2}} {
		if _, err := deliverySettingsOf(bad, DefaultDevDispatcherConcurrency); err == nil {
			t.Errorf("%+v accepted for %d dispatchers", bad, DefaultDevDispatcherConcurrency)
		}
	}
	ctx := map[string]any{"probeFirstSeconds": "20", "inflightPerConnection": float64(3), "slowWorkersPerTenant": "4"}
	env := map[string]string{connections.ProbeFirstSetting: "40", connections.ProbeMaxSetting: "120", connections.SlowWorkersSetting: "2", connections.TenantSlowWorkersSetting: "9"}
	got, err := deliverySettingsFrom(func(k string) any { return ctx[k] }, func(k string) string { return env[k] })
	if err != nil || got != (DeliverySettings{InFlightPerConnection: 3, ProbeFirstSeconds: 20, ProbeMaxSeconds: 120, SlowWorkersPerConnection: 2, SlowWorkersPerTenant: 4}) {
		t.Fatalf("got %+v %v; want the context over the environment", got, err)
	}
	if _, err := deliverySettingsFrom(func(k string) any { return map[string]any{"probeMaxSeconds": "soon"}[k] }, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "probeMaxSeconds") {
		t.Fatalf("a bad setting: %v", err)
	}
}
