package limits

import (
	"strings"
	"testing"
)

func TestFromEnvDefaults(t *testing.T) {
	l, err := FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if l != Defaults() {
		t.Fatalf("unset environment: got %+v, want the defaults %+v", l, Defaults())
	}
	if l.ContactsPerTenant != DefaultContactsPerTenant || l.ConnectionsPerChannel != DefaultConnectionsPerChannel || l.DeliveriesPerSecond != DefaultDeliveriesPerSecond {
		t.Fatalf("defaults: %+v", l)
	}
}

func TestFromEnvSet(t *testing.T) {
	env := map[string]string{EnvContactsPerTenant: "5", EnvConnectionsPerChannel: "3", EnvDeliveriesPerSecond: "7", EnvAutomationsPerTenant: "4"}
	l, err := FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if l != (Limits{ContactsPerTenant: 5, ConnectionsPerChannel: 3, DeliveriesPerSecond: 7, AutomationsPerTenant: 4}) {
		t.Fatalf("got %+v", l)
	}
	back := l.Env()
	for k, v := range env {
		if back[k] != v {
			t.Errorf("Env()[%s] = %q, want %q", k, back[k], v)
		}
	}
}

func TestFromEnvRefusesBadValues(t *testing.T) {
	for _, name := range []string{EnvContactsPerTenant, EnvConnectionsPerChannel, EnvDeliveriesPerSecond, EnvAutomationsPerTenant} {
		for _, v := range []string{"0", "-1", "ten", "1.5", "99999999999999999999"} {
			_, err := FromEnv(func(k string) string {
				if k == name {
					return v
				}
				return ""
			})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: err %v, want one naming %s", name, v, err, name)
			}
		}
	}
	if err := (Limits{ContactsPerTenant: 1, ConnectionsPerChannel: 0, DeliveriesPerSecond: 1, AutomationsPerTenant: 1}).Validate(); err == nil {
		t.Error("Validate accepted 0 connections per channel")
	}
	if err := (Limits{ContactsPerTenant: 1, ConnectionsPerChannel: 1, DeliveriesPerSecond: 1}).Validate(); err == nil {
		t.Error("Validate accepted 0 automations per tenant")
	}
	if err := Defaults().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
