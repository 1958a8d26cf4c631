package main

import (
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/connections"
)

// The dev fixture's delivery settings (prod keeps the defaults).
var devDelivery = DeliverySettings{InFlightPerConnection: 4, ProbeFirstSeconds: 15, ProbeMaxSeconds: 300}

// The queue consumer (the dispatcher) gets the stage's in-flight cap and
// probe intervals; no other function does.
func TestDeliverySettingsEnvironment(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		want := map[string]string{connections.InFlightSetting: "10", connections.ProbeFirstSetting: "30", connections.ProbeMaxSetting: "600"}
		if f.stage == StageDev {
			want = map[string]string{connections.InFlightSetting: "4", connections.ProbeFirstSetting: "15", connections.ProbeMaxSetting: "300"}
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
		}
	})
}

func TestDeliverySettingsOf(t *testing.T) {
	d, err := deliverySettingsOf(DeliverySettings{})
	if err != nil || d != (DeliverySettings{InFlightPerConnection: 10, ProbeFirstSeconds: 30, ProbeMaxSeconds: 600}) {
		t.Fatalf("defaults: %+v %v", d, err)
	}
	if d, err := deliverySettingsOf(DeliverySettings{ProbeFirstSeconds: 900}); err != nil || d.ProbeMaxSeconds != 900 {
		t.Fatalf("a first probe above the default most: %+v %v; want the most raised to it", d, err)
	}
	for _, bad := range []DeliverySettings{{InFlightPerConnection: 11}, {ProbeFirstSeconds: 60, ProbeMaxSeconds: 30}, {ProbeMaxSeconds: 50000}} {
		if _, err := deliverySettingsOf(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	ctx := map[string]any{"probeFirstSeconds": "20", "inflightPerConnection": float64(3)}
	env := map[string]string{connections.ProbeFirstSetting: "40", connections.ProbeMaxSetting: "120"}
	got, err := deliverySettingsFrom(func(k string) any { return ctx[k] }, func(k string) string { return env[k] })
	if err != nil || got != (DeliverySettings{InFlightPerConnection: 3, ProbeFirstSeconds: 20, ProbeMaxSeconds: 120}) {
		t.Fatalf("got %+v %v; want the context over the environment", got, err)
	}
	if _, err := deliverySettingsFrom(func(k string) any { return map[string]any{"probeMaxSeconds": "soon"}[k] }, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "probeMaxSeconds") {
		t.Fatalf("a bad setting: %v", err)
	}
}
