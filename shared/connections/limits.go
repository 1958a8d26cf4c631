package connections

import (
	"strconv"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/limits"
)

// DeliveryRateSetting is the stage setting (environment variable) of the
// per-tenant delivery rate: deliveries per second, a whole number; it is
// the per-tenant limit GET /v1/me shows (shared/limits). Unset or
// unreadable, DefaultDeliveryRate.
const DeliveryRateSetting = limits.EnvDeliveriesPerSecond

// InFlightSetting is the stage setting of how many attempts to one
// connection one dispatcher process makes at once (at least 1).
const InFlightSetting = "DELIVERY_INFLIGHT_PER_CONNECTION"

// The stage settings of the slow-connection caps (shared/dispatch,
// lease.go), counted across every dispatcher instance: the most batches
// (workers) holding attempts to one slow connection at once, and to any of
// one tenant's slow connections at once (at least 1 each).
const (
	SlowWorkersSetting       = "DELIVERY_SLOW_WORKERS_PER_CONNECTION"
	TenantSlowWorkersSetting = "DELIVERY_SLOW_WORKERS_PER_TENANT"
)

// The stage settings of the circuit breaker's probe intervals, whole
// seconds: the wait before the first probe of an opened breaker
// (ProbeFirst) and the most it doubles to (ProbeMax). Unset, unreadable or
// out of order (the first above the most), the defaults hold.
const (
	ProbeFirstSetting = "DELIVERY_PROBE_FIRST_SECONDS"
	ProbeMaxSetting   = "DELIVERY_PROBE_MAX_SECONDS"
)

// ApplyProbeSettings sets ProbeFirst and ProbeMax from the stage's
// settings, when set; the dispatcher calls it once as it is built.
func ApplyProbeSettings(getenv func(string) string) {
	first, max := ProbeFirst, ProbeMax
	if n, err := strconv.Atoi(strings.TrimSpace(getenv(ProbeFirstSetting))); err == nil && n >= 1 {
		first = time.Duration(n) * time.Second
	}
	if n, err := strconv.Atoi(strings.TrimSpace(getenv(ProbeMaxSetting))); err == nil && n >= 1 {
		max = time.Duration(n) * time.Second
	}
	if first <= max {
		ProbeFirst, ProbeMax = first, max
	}
}

// Defaults of the delivery limits.
const (
	DefaultDeliveryRate = limits.DefaultDeliveriesPerSecond
	DefaultInFlight     = 10
	// DefaultSlowWorkers: one batch at a time holds a slow connection.
	DefaultSlowWorkers = 1
	// DefaultTenantSlowWorkers: two batches at a time hold a tenant's slow
	// connections, however many: with the dev stage's five dispatchers
	// (make run's four) the other tenants keep the rest.
	DefaultTenantSlowWorkers = 2
)

// DeliveryLimits are a stage's limits on deliveries: the one place their
// values are read, for the dispatcher and for whatever shows them.
type DeliveryLimits struct {
	// RatePerTenant is the most deliveries per second sent for one tenant
	// (all its connections together); 0: no limit. Deliveries over it wait
	// in the queue: none is dropped and none spends an attempt.
	RatePerTenant int `json:"deliveries_per_second"`
	// InFlightPerConnection is the most attempts to one connection in
	// flight at once in one dispatcher process; the excess waits in the
	// queue.
	InFlightPerConnection int `json:"inflight_per_connection"`
	// SlowWorkersPerConnection is the most batches holding attempts to
	// one slow connection at once, across instances.
	SlowWorkersPerConnection int `json:"slow_workers_per_connection"`
	// SlowWorkersPerTenant is the most batches holding attempts to any of
	// one tenant's slow connections at once, across instances.
	SlowWorkersPerTenant int `json:"slow_workers_per_tenant"`
}

// DeliveryLimitsFrom reads the stage's delivery limits from its settings.
func DeliveryLimitsFrom(getenv func(string) string) DeliveryLimits {
	l := DeliveryLimits{RatePerTenant: DefaultDeliveryRate, InFlightPerConnection: DefaultInFlight,
		SlowWorkersPerConnection: DefaultSlowWorkers, SlowWorkersPerTenant: DefaultTenantSlowWorkers}
	if n, err := strconv.Atoi(strings.TrimSpace(getenv(DeliveryRateSetting))); err == nil && n >= 1 {
		l.RatePerTenant = n
	}
	if n, err := strconv.Atoi(strings.TrimSpace(getenv(InFlightSetting))); err == nil && n >= 1 {
		l.InFlightPerConnection = n
	}
	if n, err := strconv.Atoi(strings.TrimSpace(getenv(SlowWorkersSetting))); err == nil && n >= 1 {
		l.SlowWorkersPerConnection = n
	}
	if n, err := strconv.Atoi(strings.TrimSpace(getenv(TenantSlowWorkersSetting))); err == nil && n >= 1 {
		l.SlowWorkersPerTenant = n
	}
	return l
}
