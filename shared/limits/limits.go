// Package limits holds the per-tenant limits of a stage: how many contacts
// a tenant may keep, how many connections a channel may have, how many
// deliveries a tenant's webhooks get per second and how many automations
// a tenant may have. The CDK app sets them per
// stage as environment variables (Env); the functions read them with
// FromEnv (an unset variable takes its default); GET /v1/me shows them.
package limits

import (
	"fmt"
	"strconv"
)

// The environment variables, one per limit.
const (
	EnvContactsPerTenant     = "LIMIT_CONTACTS_PER_TENANT"
	EnvConnectionsPerChannel = "LIMIT_CONNECTIONS_PER_CHANNEL"
	EnvDeliveriesPerSecond   = "LIMIT_DELIVERIES_PER_SECOND"
	EnvAutomationsPerTenant  = "LIMIT_AUTOMATIONS_PER_TENANT"
)

// The defaults, for production as much as for a local stack.
const (
	// DefaultContactsPerTenant: a large audience for one business; the
	// counter that enforces it is exact, so the limit costs nothing to raise.
	DefaultContactsPerTenant = 1_000_000
	// DefaultConnectionsPerChannel: every contact write on a channel is
	// compared against each of its connections, and one write can send one
	// delivery per connection.
	DefaultConnectionsPerChannel = 50
	// DefaultDeliveriesPerSecond: a tenant's deliveries beyond this wait in
	// the queue (they are never dropped).
	DefaultDeliveriesPerSecond = 200
	// DefaultAutomationsPerTenant: automations are a tenant's settings,
	// listed whole by one query of its partition.
	DefaultAutomationsPerTenant = 100
)

// Limits are one stage's per-tenant limits. Every value is at least 1.
type Limits struct {
	// ContactsPerTenant is how many contacts a tenant may keep; a create
	// beyond it is refused (422).
	ContactsPerTenant int64 `json:"contacts_per_tenant"`
	// ConnectionsPerChannel is how many connections (and hooks) a channel
	// may have; a create beyond it is refused (422).
	ConnectionsPerChannel int `json:"connections_per_channel"`
	// DeliveriesPerSecond is how many webhook deliveries per second the
	// dispatcher sends for one tenant; the rest wait in the queue.
	DeliveriesPerSecond int `json:"deliveries_per_second"`
	// AutomationsPerTenant is how many automations a tenant may have; a
	// create beyond it is refused (422).
	AutomationsPerTenant int `json:"automations_per_tenant"`
}

// Defaults are the limits of a stage that sets none.
func Defaults() Limits {
	return Limits{
		ContactsPerTenant:     DefaultContactsPerTenant,
		ConnectionsPerChannel: DefaultConnectionsPerChannel,
		DeliveriesPerSecond:   DefaultDeliveriesPerSecond,
		AutomationsPerTenant:  DefaultAutomationsPerTenant,
	}
}

// FromEnv reads the limits from the environment: an unset or empty
// variable takes its default; anything but a whole number from 1 up is an
// error naming the variable (a function fails its init on it).
func FromEnv(getenv func(string) string) (Limits, error) {
	l := Defaults()
	var err error
	if l.ContactsPerTenant, err = parse(getenv, EnvContactsPerTenant, l.ContactsPerTenant, 1<<40); err != nil {
		return Limits{}, err
	}
	n, err := parse(getenv, EnvConnectionsPerChannel, int64(l.ConnectionsPerChannel), 10_000)
	if err != nil {
		return Limits{}, err
	}
	l.ConnectionsPerChannel = int(n)
	if n, err = parse(getenv, EnvDeliveriesPerSecond, int64(l.DeliveriesPerSecond), 100_000); err != nil {
		return Limits{}, err
	}
	l.DeliveriesPerSecond = int(n)
	if n, err = parse(getenv, EnvAutomationsPerTenant, int64(l.AutomationsPerTenant), 10_000); err != nil {
		return Limits{}, err
	}
	l.AutomationsPerTenant = int(n)
	return l, nil
}

// Env is l as the environment variables FromEnv reads (the CDK app sets
// them on the functions).
func (l Limits) Env() map[string]string {
	return map[string]string{
		EnvContactsPerTenant:     strconv.FormatInt(l.ContactsPerTenant, 10),
		EnvConnectionsPerChannel: strconv.Itoa(l.ConnectionsPerChannel),
		EnvDeliveriesPerSecond:   strconv.Itoa(l.DeliveriesPerSecond),
		EnvAutomationsPerTenant:  strconv.Itoa(l.AutomationsPerTenant),
	}
}

// Validate reports the first limit that is out of range.
func (l Limits) Validate() error {
	_, err := FromEnv(func(k string) string { return l.Env()[k] })
	return err
}

func parse(getenv func(string) string, name string, def, max int64) (int64, error) {
	s := getenv(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%s must be a whole number from 1 to %d, got %q", name, max, s)
	}
	return n, nil
}
