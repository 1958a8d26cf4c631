package connections

import (
	"context"
	"time"
)

// Breaker is a connection's circuit breaker, one item shared by every
// dispatcher instance. It counts the endpoint's consecutive failures
// (timeouts, network and TLS errors, 408, 429 and 5xx; any other answer is
// the endpoint working and resets it). At BreakerThreshold it opens: the
// connection's deliveries are parked without an attempt, and one of them
// is sent as a probe once per interval (ProbeFirst, doubling up to
// ProbeMax). The first success closes it.
type Breaker struct {
	// Failures is the current run of failed attempts.
	Failures int `dynamodbav:"failures"`
	// OpenSince is when the breaker opened (unix ms); 0 while closed.
	OpenSince int64 `dynamodbav:"open_since,omitempty"`
	// NextProbe is when the next probe may be sent (unix ms); a dispatcher
	// that claims it moves it one Interval on before sending.
	NextProbe int64 `dynamodbav:"next_probe,omitempty"`
	// Interval is the current wait between probes, in milliseconds.
	Interval int64 `dynamodbav:"interval_ms,omitempty"`
	// SlowUntil (unix ms) marks the connection slow until then: an attempt
	// to it took longer than SlowAttempt. While it is slow, the batches
	// holding attempts to it are counted across every dispatcher instance
	// (InFlightStore).
	SlowUntil int64 `dynamodbav:"slow_until,omitempty"`
	// HungUntil (unix ms) marks the connection hung until then: an attempt
	// to it got no answer within its time limit. While it is hung, a
	// dispatcher that saw it answer just now still takes leases for it (an
	// endpoint that answers some requests at once and hangs on others
	// holds workers with those). It outlives the breaker's closing.
	HungUntil int64 `dynamodbav:"hung_until,omitempty"`
}

// Slow reports whether the connection is marked slow at now.
func (b Breaker) Slow(now time.Time) bool { return b.SlowUntil > now.UnixMilli() }

// Hung reports whether the connection is marked hung at now.
func (b Breaker) Hung(now time.Time) bool { return b.HungUntil > now.UnixMilli() }

// BreakerThreshold is how many failures in a row open a breaker.
const BreakerThreshold = 5

// The wait between probes: ProbeFirst after the breaker opens, doubling
// after each failed probe up to ProbeMax. Variables only so that tests can
// shorten them.
var (
	ProbeFirst = 30 * time.Second
	ProbeMax   = 10 * time.Minute
)

// Open reports whether the breaker is open (the connection is paused).
func (b Breaker) Open() bool { return b.OpenSince > 0 }

// NextInterval is the wait after a failed probe that waited cur: twice as
// long, from ProbeFirst up to ProbeMax.
func NextInterval(cur time.Duration) time.Duration {
	return min(max(2*cur, ProbeFirst), ProbeMax)
}

// BreakerStore keeps connections' breakers. A connection without a stored
// breaker has a closed one with no failures.
type BreakerStore interface {
	// Breaker reads one connection's breaker.
	Breaker(ctx context.Context, tenantID, connectionID string) (Breaker, error)
	// Breakers reads every breaker of a tenant's connections that is not
	// plainly closed, by connection ID.
	Breakers(ctx context.Context, tenantID string) (map[string]Breaker, error)
	// BreakerFailed counts a failed attempt and opens the breaker (first
	// probe ProbeFirst after at) when the count reaches BreakerThreshold.
	// It returns the breaker as it is afterwards.
	BreakerFailed(ctx context.Context, tenantID, connectionID string, at time.Time) (Breaker, error)
	// ClaimProbe claims the probe due at seen.NextProbe for the caller: it
	// succeeds for exactly one caller, and moves NextProbe to at plus the
	// current interval, so a probe whose sender vanishes is made again then.
	ClaimProbe(ctx context.Context, tenantID, connectionID string, seen Breaker, at time.Time) (bool, error)
	// ProbeFailed notes a failed probe of the breaker opened at
	// seen.OpenSince: the interval doubles (NextInterval) and the next probe
	// is due that long after at. It returns the breaker afterwards.
	ProbeFailed(ctx context.Context, tenantID, connectionID string, seen Breaker, at time.Time) (Breaker, error)
	// CloseBreaker closes a connection's breaker and forgets its failures
	// (a success; a change of the connection by its owner).
	CloseBreaker(ctx context.Context, tenantID, connectionID string) error
}

// DeliveryRateStore spaces a tenant's deliveries out to its rate, across
// every dispatcher instance.
type DeliveryRateStore interface {
	// ReserveDeliveries reserves n consecutive send times of the tenant's
	// deliveries, every apart (a generic cell rate: the schedule never
	// starts before now and never overlaps an earlier reservation); it
	// returns the first, unix ms.
	ReserveDeliveries(ctx context.Context, tenantID string, n int, every time.Duration, now time.Time) (int64, error)
}

// InFlightStore caps the batches (workers) holding attempts to one
// connection across every dispatcher instance: a batch takes one slot for
// all its attempts to it. It is used for slow connections only
// (Breaker.Slow): a healthy connection's attempts pay no call for it.
type InFlightStore interface {
	// MarkSlow marks the connection slow until the given time.
	MarkSlow(ctx context.Context, tenantID, connectionID string, until time.Time) error
	// MarkHung marks the connection slow and hung until the given time.
	MarkHung(ctx context.Context, tenantID, connectionID string, until time.Time) error
	// AcquireInFlight takes one of the connection's max slots; false when
	// all are taken. Slots of dispatchers that vanished are given back
	// once none was taken or released for InFlightStale.
	AcquireInFlight(ctx context.Context, tenantID, connectionID string, max int, now time.Time) (bool, error)
	// ReleaseInFlight gives a slot back.
	ReleaseInFlight(ctx context.Context, tenantID, connectionID string, now time.Time) error
}

// TenantInFlight is the connection ID under which InFlightStore counts the
// batches holding attempts to any of a tenant's slow connections (no
// connection has it: their IDs are "conn_…").
const TenantInFlight = "*"

// SlowAttempt is how long an attempt may take before its connection is
// marked slow, for SlowFor. A variable only so that tests can shorten it.
var SlowAttempt = 2 * time.Second

// SlowFor is how long a slow attempt marks its connection slow.
const SlowFor = time.Minute

// InFlightStale: when none of a connection's cross-instance slots was taken
// or released for this long, the count is stale (every attempt ends within
// its 10 s time limit; the count was left by a dispatcher that stopped
// between taking and giving back a slot) and starts again from zero.
const InFlightStale = 30 * time.Second
