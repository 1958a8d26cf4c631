package dispatch

import (
	"context"
	"time"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/delivery"
)

// Host breakers (connections.HostBreaker): a tenant's connections to one
// endpoint host (host:port) fail together when the host does not answer,
// and each connection's own breaker needs five failures of its own, which
// a tenant with many connections to a hanging host reaches late: its
// attempts are held to a few workers (lease.go), ten seconds each. Every
// failure to answer (connections.HostFailure) of any of the tenant's
// connections to the host is counted on the host's breaker too; when it
// opens (five over two connections or more), the dispatcher that opened
// it marks every connection of the tenant on that host parked
// (ParkOnHost: their breaker items, which every batch reads anyway), and
// admit then parks their deliveries as an open connection breaker's, one
// of them the host's probe. An attempt the host answers (any HTTP status)
// closes it, or resets its count, when this process knows it failing: from
// its own failures, or from the breaker reads of its parked connections.
// A healthy connection's attempts cost no call for any of this.

// hostProbe is the host breaker state a host's probe was claimed on.
type hostProbe struct {
	host string
	seen connections.HostBreaker
}

type hostProbeKey struct{}

func hostStateKey(tenantID, host string) string { return tenantID + "#" + host }

// hostGate is admit's verdict for a delivery whose connection its host's
// open breaker parks: parked until the host's next probe, or the probe,
// for the first delivery of the batch to any of the host's connections
// whose dispatcher claims it.
func (d *Dispatcher) hostGate(ctx context.Context, v *verdict, b connections.Breaker, now time.Time, claimed map[string]bool) {
	l := d.Limits
	v.failing = true
	h := *b.OnHost
	l.knowHost(v.task.TenantID, b.Host, h)
	if due := time.UnixMilli(h.NextProbe).Sub(now); due > 0 {
		v.park = due + d.spread(2*time.Second)
		return
	}
	ck := "host#" + hostStateKey(v.task.TenantID, b.Host)
	if !claimed[ck] {
		claimed[ck] = true
		ok, err := l.Hosts.ClaimHostProbe(ctx, v.task.TenantID, b.Host, h, now)
		if err != nil {
			d.Log.ErrorContext(ctx, "claim host probe", "err", err, "host", b.Host)
		}
		l.forget(v.key)
		if ok {
			v.hostProbe = &hostProbe{host: b.Host, seen: h}
			return
		}
	}
	v.park = cmpOr(l.ProbeWait, probeWait) + d.spread(5*time.Second)
}

// noteHostResult feeds an attempt's result to the breaker of its
// connection's host: a failure to answer counts (and opens it, parking the
// tenant's connections to the host); an answer closes it when this process
// knows it failing. It reports whether the result was a failed probe of
// the host, which the connection's own breaker does not count.
func (d *Dispatcher) noteHostResult(ctx context.Context, conn connections.Connection, res delivery.Result) bool {
	l := d.Limits
	if l.Hosts == nil {
		return false
	}
	probe, _ := ctx.Value(hostProbeKey{}).(*hostProbe)
	if probe == nil && !connections.HostFailure(res.Outcome) && !l.anyHostFailing() {
		return false // the healthy path: nothing to count, nothing known failing
	}
	host := connections.HostKey(conn.URL)
	if host == "" {
		return false
	}
	if probe != nil && probe.host != host {
		probe = nil // its URL moved to another host meanwhile
	}
	if !connections.HostFailure(res.Outcome) {
		if probe != nil || l.hostKnownFailing(conn.TenantID, host) {
			d.closeHost(ctx, conn.TenantID, host)
		}
		return false
	}
	now := d.Now()
	if probe != nil {
		h, err := l.Hosts.HostProbeFailed(ctx, conn.TenantID, host, probe.seen, now)
		if err != nil {
			d.Log.ErrorContext(ctx, "host probe failed", "err", err, "host", host)
			return true
		}
		l.knowHost(conn.TenantID, host, h)
		d.Log.WarnContext(ctx, "host paused: probe failed", "tenant", conn.TenantID, "host", host, "connection", conn.ID,
			"next_probe", time.UnixMilli(h.NextProbe).UTC().Format(time.RFC3339))
		return true
	}
	h, opened, err := l.Hosts.HostFailed(ctx, conn.TenantID, host, conn.ID, now)
	if err != nil {
		d.Log.ErrorContext(ctx, "count host failure", "err", err, "host", host)
		return false
	}
	l.knowHost(conn.TenantID, host, h)
	switch {
	case opened:
		d.parkHost(ctx, conn.TenantID, host, h)
	case h.Open() && l.cachedHost(conn.TenantID+"#"+conn.ID) != host:
		// Open already, and this connection is not known parked: it was
		// added, or its owner changed it, after the host's breaker opened.
		if err := l.Hosts.ParkOnHost(ctx, conn.TenantID, host, []string{conn.ID}, now); err != nil {
			d.Log.ErrorContext(ctx, "park on host", "err", err, "host", host, "connection", conn.ID)
		}
		l.forget(conn.TenantID + "#" + conn.ID)
	}
	return false
}

// parkHost marks every connection of the tenant on host parked by the
// host's breaker, which this dispatcher just opened.
func (d *Dispatcher) parkHost(ctx context.Context, tenantID, host string, h connections.HostBreaker) {
	l := d.Limits
	cs, err := d.Store.ListConnections(ctx, tenantID)
	if err != nil {
		d.Log.ErrorContext(ctx, "list connections to park on host", "err", err, "host", host)
		return
	}
	var ids []string
	for _, c := range cs {
		if connections.HostKey(c.URL) == host {
			ids = append(ids, c.ID)
		}
	}
	if err := l.Hosts.ParkOnHost(ctx, tenantID, host, ids, d.Now()); err != nil {
		d.Log.ErrorContext(ctx, "park on host", "err", err, "host", host)
	}
	for _, id := range ids {
		l.forget(tenantID + "#" + id)
	}
	d.Log.WarnContext(ctx, "connections paused: host failing", "tenant", tenantID, "host", host, "connections", len(ids),
		"failures", h.Failures, "next_probe", time.UnixMilli(h.NextProbe).UTC().Format(time.RFC3339))
}

// closeHost closes the tenant's breaker of host.
func (d *Dispatcher) closeHost(ctx context.Context, tenantID, host string) {
	l := d.Limits
	if err := l.Hosts.CloseHost(ctx, tenantID, host); err != nil {
		d.Log.ErrorContext(ctx, "close host breaker", "err", err, "host", host)
		return
	}
	l.mu.Lock()
	delete(l.hosts, hostStateKey(tenantID, host))
	for k, c := range l.cache {
		if c.b.Host == host && len(k) > len(tenantID) && k[:len(tenantID)+1] == tenantID+"#" {
			delete(l.cache, k)
		}
	}
	l.mu.Unlock()
}

// knowHost notes the state of a tenant's host breaker this process saw:
// kept while it shows failures, for noteHostResult. A batch's attempts
// report concurrently, so a state may arrive after a later one (a count
// of 3 after the 5th failure opened the breaker): it is not taken over
// the later one, which would let onKnownHost cache a connection of the
// open host as free to send.
func (l *Limits) knowHost(tenantID, host string, h connections.HostBreaker) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hosts == nil || len(l.hosts) > 10000 {
		l.hosts = map[string]connections.HostBreaker{}
	}
	k := hostStateKey(tenantID, host)
	if h.Failures == 0 && !h.Open() {
		delete(l.hosts, k)
		return
	}
	if old, ok := l.hosts[k]; ok && (h.OpenSince < old.OpenSince || (h.OpenSince == old.OpenSince && h.Failures < old.Failures)) {
		return
	}
	l.hosts[k] = h
}

// hostKnownFailing reports whether this process last saw the tenant's
// breaker of host count failures or open.
func (l *Limits) hostKnownFailing(tenantID, host string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.hosts[hostStateKey(tenantID, host)]
	return ok
}

// anyHostFailing reports whether this process knows any host breaker
// failing.
func (l *Limits) anyHostFailing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hosts) > 0
}

// cachedHost is the host that parks the connection as its last breaker
// read showed ("" when none, or not read).
func (l *Limits) cachedHost(key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.cache[key]
	if !c.b.HostOpen() {
		return ""
	}
	return c.b.Host
}

// onKnownHost is b (the connection's breaker as a write of it returned)
// parked by the connection's host when this process knows that host's
// breaker open: the write's answer does not read the host's item, and
// the process's cache must not let the connection go meanwhile.
func (l *Limits) onKnownHost(conn connections.Connection, b connections.Breaker) connections.Breaker {
	if l.Hosts == nil || b.HostOpen() {
		return b
	}
	host := connections.HostKey(conn.URL)
	l.mu.Lock()
	h, ok := l.hosts[hostStateKey(conn.TenantID, host)]
	l.mu.Unlock()
	if ok && h.Open() {
		b.Host, b.OnHost = host, &h
	}
	return b
}
