package main

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/startmsg/chatbackend/shared/connections"
)

// DeliverySettings are the dispatcher's stage settings (tenants.go): the
// in-flight cap per connection (shared/dispatch: per instance, and across
// instances once a connection is slow), the circuit breaker's probe
// intervals (the first, doubling up to the most), and the slow-connection
// caps, across instances: the most batches (dispatcher instances) holding
// attempts to one slow connection, and to any of one tenant's slow
// connections, at once. Zero fields take their defaults. The queue
// consumer gets them as environment variables (connections.InFlightSetting,
// ProbeFirstSetting, ProbeMaxSetting, SlowWorkersSetting,
// TenantSlowWorkersSetting).
type DeliverySettings struct {
	InFlightPerConnection    int
	ProbeFirstSeconds        int
	ProbeMaxSeconds          int
	SlowWorkersPerConnection int
	SlowWorkersPerTenant     int
}

// Defaults and bounds of the delivery settings.
const (
	DefaultProbeFirstSeconds = 30
	DefaultProbeMaxSeconds   = 600
	// maxInFlightPerConnection: a batch is 10 attempts; the cap holds per
	// instance, so more than a batch's worth means no cap per instance.
	maxInFlightPerConnection = 10
	// maxProbeSeconds: a probe parks deliveries by queue delay and
	// visibility, which SQS caps at 12 hours.
	maxProbeSeconds = 12 * 3600
)

// deliverySettingsOf fills in the defaults and checks the bounds, for a
// dispatcher of the given reserved concurrency: a tenant's slow
// connections hold fewer instances than that (default
// connections.DefaultTenantSlowWorkers, at most half of them), so the
// other tenants always keep some.
func deliverySettingsOf(d DeliverySettings, dispatchers int) (DeliverySettings, error) {
	if d.InFlightPerConnection == 0 {
		d.InFlightPerConnection = connections.DefaultInFlight
	}
	if d.ProbeFirstSeconds == 0 {
		d.ProbeFirstSeconds = DefaultProbeFirstSeconds
	}
	if d.ProbeMaxSeconds == 0 {
		d.ProbeMaxSeconds = max(DefaultProbeMaxSeconds, d.ProbeFirstSeconds)
	}
	if d.SlowWorkersPerConnection == 0 {
		d.SlowWorkersPerConnection = connections.DefaultSlowWorkers
	}
	if d.SlowWorkersPerTenant == 0 {
		d.SlowWorkersPerTenant = max(d.SlowWorkersPerConnection, min(connections.DefaultTenantSlowWorkers, dispatchers/2))
	}
	switch {
	case d.InFlightPerConnection < 1 || d.InFlightPerConnection > maxInFlightPerConnection:
		return d, fmt.Errorf("inflightPerConnection %d: want 1 to %d", d.InFlightPerConnection, maxInFlightPerConnection)
	case d.ProbeFirstSeconds < 1 || d.ProbeMaxSeconds > maxProbeSeconds:
		return d, fmt.Errorf("probe intervals %d s to %d s: want 1 s to %d s", d.ProbeFirstSeconds, d.ProbeMaxSeconds, maxProbeSeconds)
	case d.ProbeFirstSeconds > d.ProbeMaxSeconds:
		return d, fmt.Errorf("probeFirstSeconds %d is above probeMaxSeconds %d", d.ProbeFirstSeconds, d.ProbeMaxSeconds)
	case d.SlowWorkersPerTenant >= dispatchers:
		return d, fmt.Errorf("slowWorkersPerTenant %d: want fewer than the dispatcher's concurrency (%d), so that other tenants keep some", d.SlowWorkersPerTenant, dispatchers)
	case d.SlowWorkersPerConnection > d.SlowWorkersPerTenant:
		return d, fmt.Errorf("slowWorkersPerConnection %d is above slowWorkersPerTenant %d", d.SlowWorkersPerConnection, d.SlowWorkersPerTenant)
	}
	return d, nil
}

// deliverySettingKeys are the context keys (-c key=value) of the delivery
// settings, each with the environment variable it overrides when both are
// set (the variable the dispatcher reads).
var deliverySettingKeys = []struct{ context, env string }{
	{"inflightPerConnection", connections.InFlightSetting},
	{"probeFirstSeconds", connections.ProbeFirstSetting},
	{"probeMaxSeconds", connections.ProbeMaxSetting},
	{"slowWorkersPerConnection", connections.SlowWorkersSetting},
	{"slowWorkersPerTenant", connections.TenantSlowWorkersSetting},
}

// deliverySettingsFrom reads the app's delivery settings: the CDK context
// value over the environment variable, empty for the default.
func deliverySettingsFrom(ctx func(string) any, getenv func(string) string) (DeliverySettings, error) {
	vals := make([]int, len(deliverySettingKeys))
	for i, s := range deliverySettingKeys {
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
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return DeliverySettings{}, fmt.Errorf("%s %q: want a whole number from 1", s.context, v)
		}
		vals[i] = n
	}
	return DeliverySettings{InFlightPerConnection: vals[0], ProbeFirstSeconds: vals[1], ProbeMaxSeconds: vals[2],
		SlowWorkersPerConnection: vals[3], SlowWorkersPerTenant: vals[4]}, nil
}

// addDeliverySettings gives the queue consumer (the dispatcher) the stage's
// delivery settings.
func (b *backend) addDeliverySettings(fn awslambda.Function) {
	env := b.delivery.env()
	for _, k := range deliverySettingKeys {
		fn.AddEnvironment(jsii.String(k.env), jsii.String(env[k.env]), nil)
	}
}

// env is the settings as the dispatcher's environment variables.
func (d DeliverySettings) env() map[string]string {
	return map[string]string{
		connections.InFlightSetting:          strconv.Itoa(d.InFlightPerConnection),
		connections.ProbeFirstSetting:        strconv.Itoa(d.ProbeFirstSeconds),
		connections.ProbeMaxSetting:          strconv.Itoa(d.ProbeMaxSeconds),
		connections.SlowWorkersSetting:       strconv.Itoa(d.SlowWorkersPerConnection),
		connections.TenantSlowWorkersSetting: strconv.Itoa(d.SlowWorkersPerTenant),
	}
}
