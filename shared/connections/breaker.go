package connections

import (
	"context"
	"net"
	"net/url"
	"strings"
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
	// Host is set when the breaker of the connection's endpoint host
	// (HostBreaker) opened and parked it: that host's key (HostKey).
	Host string `dynamodbav:"host,omitempty"`
	// OnHost is that host's breaker, read with the connection's (the
	// store fills it in when Host is set and that breaker is open; nil
	// otherwise).
	OnHost *HostBreaker `dynamodbav:"-"`
}

// HostOpen reports whether the connection is parked by its host's open
// breaker.
func (b Breaker) HostOpen() bool { return b.OnHost != nil && b.OnHost.Open() }

// Paused reports whether the connection's deliveries wait: its own
// breaker or its host's is open.
func (b Breaker) Paused() bool { return b.Open() || b.HostOpen() }

// PausedSince and NextProbeAt are when the breaker that pauses the
// connection opened and when its next probe is due (unix ms; the host's
// when the host's breaker is open, whose probe is any of the host's
// connections' delivery); 0 when not paused.
func (b Breaker) PausedSince() int64 {
	switch {
	case b.HostOpen():
		return b.OnHost.OpenSince
	case b.Open():
		return b.OpenSince
	}
	return 0
}

// NextProbeAt: see PausedSince.
func (b Breaker) NextProbeAt() int64 {
	switch {
	case b.HostOpen():
		return b.OnHost.NextProbe
	case b.Open():
		return b.NextProbe
	}
	return 0
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

// HostBreaker is the circuit breaker of one tenant's connections to one
// endpoint host (host:port, HostKey), one item shared by every dispatcher
// instance. It counts the host's consecutive failures to answer at all
// (HostFailure: timeouts, connection, DNS and TLS errors) on any of the
// tenant's connections to it; an HTTP answer of any status is the host
// answering (a 5xx or 429 may be one path's, like one dead hook among many
// on one provider's host: each connection's own breaker counts those) and
// resets it; a run with no failure for HostFailureWindow ends by itself.
// At BreakerThreshold failures spread over at least
// HostMinConnections connections it opens: every connection of the tenant
// on that host is parked like an open connection breaker's (Breaker.Host),
// one delivery of any of them is sent as the host's probe once per
// interval (ProbeFirst doubling up to ProbeMax, as a connection's), and
// the first attempt the host answers closes it. Another tenant's
// connections to the same host are not affected. A single failing
// connection is left to its own breaker (it opens at the same count).
type HostBreaker struct {
	// Failures is the current run of failed attempts to the host.
	Failures int `dynamodbav:"failures"`
	// Conns are the connections whose failures the run holds.
	Conns []string `dynamodbav:"conns,stringset,omitempty"`
	// OpenSince is when the breaker opened (unix ms); 0 while closed.
	OpenSince int64 `dynamodbav:"open_since,omitempty"`
	// NextProbe is when the host's next probe may be sent (unix ms).
	NextProbe int64 `dynamodbav:"next_probe,omitempty"`
	// Interval is the current wait between probes, in milliseconds.
	Interval int64 `dynamodbav:"interval_ms,omitempty"`
	// LastFailure is when the run's latest failure was counted (unix ms).
	LastFailure int64 `dynamodbav:"last_fail,omitempty"`
}

// HostFailureWindow ends a closed host breaker's run of failures that had
// none for this long: the run counts the host's failures, but an answer
// only resets it in a process that knows the host failing (its own
// failures, or its parked connections' reads), and another instance's
// answers would otherwise let failures hours apart add up to an opening.
// A host that does not answer fails far more often (every attempt to it).
const HostFailureWindow = time.Minute

// Open reports whether the host's breaker is open.
func (h HostBreaker) Open() bool { return h.OpenSince > 0 }

// HostMinConnections is how many different connections the failures that
// open a host's breaker must come from.
const HostMinConnections = 2

// HostFailure reports whether an attempt's outcome is the host not
// answering at all, which its host's breaker counts.
func HostFailure(o Outcome) bool {
	switch o {
	case OutcomeTimeout, OutcomeConnect, OutcomeDNS, OutcomeTLS:
		return true
	}
	return false
}

// HostKey is the endpoint host of a connection's URL as its host's breaker
// knows it: the host name in lower case and the port (the scheme's default
// when the URL names none); "" when the URL has no host.
func HostKey(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// HostBreakerStore keeps the tenants' host breakers. A host without a
// stored breaker has a closed one with no failures.
type HostBreakerStore interface {
	// HostBreaker reads a tenant's breaker of one host.
	HostBreaker(ctx context.Context, tenantID, host string) (HostBreaker, error)
	// HostFailed counts a failed attempt of connectionID to host and opens
	// the host's breaker (first probe ProbeFirst after at) when the count
	// reaches BreakerThreshold over HostMinConnections connections. It
	// returns the breaker afterwards, and whether this call opened it.
	HostFailed(ctx context.Context, tenantID, host, connectionID string, at time.Time) (HostBreaker, bool, error)
	// ParkOnHost marks the connections parked by host's breaker
	// (Breaker.Host).
	ParkOnHost(ctx context.Context, tenantID, host string, connectionIDs []string, at time.Time) error
	// ClaimHostProbe claims the host's probe due at seen.NextProbe, as
	// BreakerStore.ClaimProbe does a connection's.
	ClaimHostProbe(ctx context.Context, tenantID, host string, seen HostBreaker, at time.Time) (bool, error)
	// HostProbeFailed notes a failed probe of the host's breaker opened at
	// seen.OpenSince, as BreakerStore.ProbeFailed does a connection's.
	HostProbeFailed(ctx context.Context, tenantID, host string, seen HostBreaker, at time.Time) (HostBreaker, error)
	// CloseHost closes the host's breaker, forgets its failures and lets
	// go of the connections it parked.
	CloseHost(ctx context.Context, tenantID, host string) error
	// UnparkFromHost lets go of one connection the host's breaker parked
	// (a mark left when the breaker closed meanwhile).
	UnparkFromHost(ctx context.Context, tenantID, connectionID, host string) error
}
