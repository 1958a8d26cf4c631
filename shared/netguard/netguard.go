// Package netguard is the SSRF guard for webhook targets chosen by tenants.
// A Policy checks a URL when a connection is created or edited (CheckURL)
// and again, on the address actually being connected, inside the delivery
// client's dialer (Control), so a name that later resolves somewhere else
// (DNS rebinding) is still refused.
//
// Refused: every private, loopback, link-local, shared, documentation,
// benchmarking, multicast and reserved range of IPv4 and IPv6, including
// IPv4-mapped, NAT64 and 6to4 forms of such IPv4 addresses, whatever the
// spelling of the address (2130706433, 0177.0.0.1, 0x7f.1, 127.1,
// [::ffff:7f00:1], ...), and the names localhost and *.localhost. Only
// loopback can be opened up, for local runs (Policy.AllowLoopback).
//
// Internationalised host names are judged, and must be stored and dialed, in
// their ASCII (xn--) form: CheckURL converts them and hands that form back
// (IDNError); ParseURL and Control, which the dispatcher uses, take ASCII
// hosts only (see idn.go).
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// MaxURLLength is the longest target URL accepted.
const MaxURLLength = 2048

// Policy says which targets may be reached. The zero Policy refuses
// loopback and allows http. In AWS use Policy{RequireHTTPS: true};
// `make run` uses Policy{AllowLoopback: true}.
type Policy struct {
	// AllowLoopback lets 127.0.0.0/8, ::1 and localhost through, nothing
	// else (never private ranges).
	AllowLoopback bool
	// RequireHTTPS refuses http:// targets.
	RequireHTTPS bool
}

// BlockedError is the guard's refusal. Reason is meant for people, for
// example "resolves to 10.0.0.5, a private address (RFC 1918)".
type BlockedError struct {
	Reason string
}

func (e *BlockedError) Error() string { return e.Reason }

// ErrResolve marks a CheckURL failure to resolve the host: the target is not
// known to be bad, but it could not be checked.
var ErrResolve = errors.New("cannot resolve host")

// Resolver looks names up; *net.Resolver implements it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// blocked returns a *BlockedError with a formatted reason.
func blocked(format string, args ...any) error {
	return &BlockedError{Reason: fmt.Sprintf(format, args...)}
}

// CheckURL reports whether raw is a target p allows: ParseURL's checks, then,
// when the host is a name, every address it resolves to (through resolver,
// or net.DefaultResolver when nil) must be allowed. Refusals are
// *BlockedError; a failed lookup is an error wrapping ErrResolve and the
// resolver's error.
//
// A host that is an internationalised name (not ASCII) is converted to its
// ASCII form (ASCIIURL), and that form is checked as above: a refusal is
// returned as is, exactly as for the ASCII form written out; an allowed
// target is an *IDNError whose URL is the form to store and dial. An invalid
// internationalised name is a *BlockedError.
func (p Policy) CheckURL(ctx context.Context, raw string, resolver Resolver) error {
	ascii, err := ASCIIURL(raw)
	if err != nil {
		return err
	}
	if ascii == raw {
		return p.checkURL(ctx, raw, resolver)
	}
	if err := p.checkURL(ctx, ascii, resolver); err != nil {
		return err
	}
	u, _ := url.Parse(raw) // ASCIIURL parsed it
	return &IDNError{Host: hostOf(u), URL: ascii}
}

// checkURL is CheckURL for a URL whose host is ASCII (ParseURL refuses any
// other).
func (p Policy) checkURL(ctx context.Context, raw string, resolver Resolver) error {
	u, err := p.ParseURL(raw)
	if err != nil {
		return err
	}
	host := hostOf(u)
	if !needsLookup(host) {
		return nil // an allowed literal or, with AllowLoopback, localhost
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	addrs, err := resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("%w %q: %w", ErrResolve, host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%w %q: no addresses", ErrResolve, host)
	}
	for _, a := range addrs {
		addr, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return blocked("resolves to an invalid address %q", a.IP.String())
		}
		addr = addr.Unmap() // net.IP holds IPv4 in 16 bytes
		if ok, why := p.allowed(addr); !ok {
			return blocked("resolves to %s, %s", addr, why)
		}
	}
	return nil
}

// ParseURL parses raw and applies every check that needs no DNS lookup:
// scheme http or https (https only with RequireHTTPS), no user info, a host,
// at most MaxURLLength bytes, a port in 1–65535, no localhost or
// *.localhost names (AllowLoopback lets "localhost" through), an ASCII host
// (ParseURL does not convert internationalised names; CheckURL does), and an
// IP literal host, in any spelling, must be an allowed address written as Go
// dials it (dotted-decimal IPv4 or IPv6, without zone or trailing dot).
// Refusals are *BlockedError.
func (p Policy) ParseURL(raw string) (*url.URL, error) {
	if len(raw) > MaxURLLength {
		return nil, blocked("URL is longer than %d bytes", MaxURLLength)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, blocked("URL contains spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, blocked("URL does not parse: %v", errors.Unwrap(err))
	}
	if err := p.checkShape(u); err != nil {
		return nil, err
	}
	if err := p.checkHost(hostOf(u)); err != nil {
		return nil, err
	}
	return u, nil
}

// checkShape checks everything but the host's address.
func (p Policy) checkShape(u *url.URL) error {
	switch u.Scheme {
	case "https":
	case "http":
		if p.RequireHTTPS {
			return blocked("URL must use https")
		}
	default:
		return blocked("URL must start with https:// or http://")
	}
	if u.User != nil {
		return blocked("URL must not contain a user name or password")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return blocked("URL has no host")
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return blocked("URL port %s is not in 1–65535", port)
		}
	}
	return nil
}

// checkHost judges a host name or IP literal without resolving it.
func (p Policy) checkHost(host string) error {
	if !isASCII(host) { // CheckURL converts; ParseURL and the dispatcher never do
		return blocked("host %q is not ASCII; give an internationalised name in its ASCII (xn--) form", host)
	}
	bare := strings.TrimSuffix(host, ".")
	if addr, err := netip.ParseAddr(bare); err == nil {
		if addr.Zone() != "" {
			return blocked("%s has an IPv6 zone, which a public address never needs", host)
		}
		if ok, why := p.allowed(addr); !ok {
			return blocked("%s is %s", bare, why)
		}
		if bare != host {
			return blocked("host %q is %s written unusually; write it as %s", host, addr, addr)
		}
		return nil
	}
	if endsInNumber(bare) {
		addr, ok := parseLooseIPv4(bare)
		if !ok {
			return blocked("host %q is neither a name nor an IPv4 address", host)
		}
		if ok, why := p.allowed(addr); !ok {
			return blocked("%s is %s, %s", host, addr, why)
		}
		return blocked("host %q is %s written unusually; write it as %s", host, addr, addr)
	}
	switch {
	case bare == "localhost" && p.AllowLoopback:
		return nil
	case bare == "localhost" || strings.HasSuffix(bare, ".localhost"):
		return blocked("%s is a loopback name", host)
	}
	return nil
}

// isASCII reports whether s is all ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// hostOf is u's host in lower case, without brackets.
func hostOf(u *url.URL) string { return strings.ToLower(u.Hostname()) }

// needsLookup reports whether a host that passed checkHost is a name to
// resolve (not an IP literal, not localhost).
func needsLookup(host string) bool {
	_, err := netip.ParseAddr(host)
	return err != nil && strings.TrimSuffix(host, ".") != "localhost"
}

// Control is for net.Dialer.Control: it refuses a connection whose address
// (the IP actually being connected, after any DNS lookup) p does not allow,
// with a *BlockedError. network and c are not used.
func (p Policy) Control(network, address string, c syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return blocked("connects to an unparsable address %q", address)
	}
	if ok, why := p.allowed(ap.Addr()); !ok {
		return blocked("connects to %s, %s", ap.Addr().WithZone("").Unmap(), why)
	}
	return nil
}
