package main

import (
	"fmt"
	"strconv"

	"github.com/aws/jsii-runtime-go"

	"github.com/startmsg/chatbackend/shared/limits"
)

// Many tenants on one deployment: the stage settings that keep one tenant,
// or the webhooks of all of them, from starving the rest.
//
// Reserved concurrency. The dispatcher (the deliveries queue's consumer)
// gets ReservedConcurrentExecutions, and its event source mapping a
// ScalingConfig.MaximumConcurrency of the same number. The reservation is
// both a floor and a ceiling: the dispatcher can always run that many
// instances, however busy the API is, and never more, so a flood of
// deliveries (or receivers that hang for their whole 10 s) cannot take
// the account's concurrency from the API functions. MaximumConcurrency
// keeps the SQS pollers from invoking it beyond its reservation, which
// would only be throttled and count as a receive of each message.
//
// Account-level effect: reserved concurrency is taken out of the account's
// regional pool (1,000 by default; new accounts may have less) and Lambda
// keeps at least 100 unreserved, so a deploy with a reservation the account
// cannot give fails; every other function (API, authorizer, router, intake)
// shares what remains. Raise the account limit (Service Quotas: "Concurrent
// executions") before raising the setting.
const (
	// DefaultDispatcherConcurrency is prod's reservation: 50 instances of
	// 10 messages, a batch's attempts in parallel, is about 500 attempts in
	// flight, leaving 850 of a default account's 1,000 to the rest.
	DefaultDispatcherConcurrency = 50
	// DefaultDevDispatcherConcurrency is dev's: small, so a dev stack fits
	// beside others in one account.
	DefaultDevDispatcherConcurrency = 5
	// minDispatcherConcurrency and maxDispatcherConcurrency are the bounds
	// of an SQS event source mapping's MaximumConcurrency.
	minDispatcherConcurrency = 2
	maxDispatcherConcurrency = 1000
)

// dispatcherConcurrencyOf is the reservation for a stage: 0 means the
// stage's default.
func dispatcherConcurrencyOf(stage string, n int) (int, error) {
	switch {
	case n == 0 && stage == StageProd:
		return DefaultDispatcherConcurrency, nil
	case n == 0:
		return DefaultDevDispatcherConcurrency, nil
	case n < minDispatcherConcurrency || n > maxDispatcherConcurrency:
		return 0, fmt.Errorf("dispatcher concurrency %d: want %d to %d (an SQS event source mapping's maximum concurrency)",
			n, minDispatcherConcurrency, maxDispatcherConcurrency)
	}
	return n, nil
}

// limitsOf is the stage's per-tenant limits: zero fields take their
// defaults (limits.Defaults).
func limitsOf(l limits.Limits) (limits.Limits, error) {
	d := limits.Defaults()
	if l.ContactsPerTenant == 0 {
		l.ContactsPerTenant = d.ContactsPerTenant
	}
	if l.ConnectionsPerChannel == 0 {
		l.ConnectionsPerChannel = d.ConnectionsPerChannel
	}
	if l.DeliveriesPerSecond == 0 {
		l.DeliveriesPerSecond = d.DeliveriesPerSecond
	}
	if l.AutomationsPerTenant == 0 {
		l.AutomationsPerTenant = d.AutomationsPerTenant
	}
	return l, l.Validate()
}

// Context keys (-c key=value) of the app's tenant settings, each with the
// environment variable it overrides when both are set.
var tenantSettings = []struct{ context, env string }{
	{"dispatcherConcurrency", "DISPATCHER_CONCURRENCY"},
	{"contactsPerTenant", limits.EnvContactsPerTenant},
	{"connectionsPerChannel", limits.EnvConnectionsPerChannel},
	{"deliveriesPerSecond", limits.EnvDeliveriesPerSecond},
	{"automationsPerTenant", limits.EnvAutomationsPerTenant},
}

// tenantSettingsOf reads the app's tenant settings: the CDK context value
// over the environment variable, empty for the default. ctx looks a
// context key up (the app's TryGetContext).
func tenantSettingsOf(ctx func(string) any, getenv func(string) string) (concurrency int, l limits.Limits, err error) {
	vals := make([]int64, len(tenantSettings))
	for i, s := range tenantSettings {
		v := getenv(s.env)
		switch c := ctx(s.context).(type) {
		case string:
			if c != "" {
				v = c
			}
		case float64:
			v = strconv.FormatInt(int64(c), 10)
		}
		if v == "" {
			continue
		}
		if vals[i], err = strconv.ParseInt(v, 10, 64); err != nil || vals[i] < 1 {
			return 0, limits.Limits{}, fmt.Errorf("%s %q: want a whole number from 1", s.context, v)
		}
	}
	return int(vals[0]), limits.Limits{ContactsPerTenant: vals[1], ConnectionsPerChannel: int(vals[2]), DeliveriesPerSecond: int(vals[3]), AutomationsPerTenant: int(vals[4])}, nil
}

// addLimits gives every function the stage's per-tenant limits as
// environment variables (limits.FromEnv reads them).
func (b *backend) addLimits() {
	env := b.limits.Env()
	for _, fn := range b.functions {
		for _, k := range []string{limits.EnvContactsPerTenant, limits.EnvConnectionsPerChannel, limits.EnvDeliveriesPerSecond, limits.EnvAutomationsPerTenant} {
			fn.AddEnvironment(jsii.String(k), jsii.String(env[k]), nil)
		}
	}
}
