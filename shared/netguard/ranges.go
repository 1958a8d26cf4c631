package netguard

import (
	"fmt"
	"net/netip"
)

// rangeRule names one address range the guard refuses.
type rangeRule struct {
	prefix netip.Prefix
	desc   string
}

// mustPrefix parses a prefix written in this file.
func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// v4Blocked are the IPv4 ranges no webhook may reach, most specific first
// where they nest. Loopback must stay first: classify4 reports index 0 as
// loopback, the only range AllowLoopback opens.
var v4Blocked = []rangeRule{
	{mustPrefix("127.0.0.0/8"), "a loopback address (127.0.0.0/8)"},
	{mustPrefix("0.0.0.0/8"), `a "this network" address (0.0.0.0/8)`},
	{mustPrefix("10.0.0.0/8"), "a private address (RFC 1918)"},
	{mustPrefix("100.64.0.0/10"), "a carrier-grade NAT address (RFC 6598)"},
	{mustPrefix("169.254.169.254/32"), "the cloud metadata service address"},
	{mustPrefix("169.254.0.0/16"), "a link-local address (169.254.0.0/16)"},
	{mustPrefix("172.16.0.0/12"), "a private address (RFC 1918)"},
	{mustPrefix("192.0.0.0/24"), "an IETF protocol assignment address (192.0.0.0/24)"},
	{mustPrefix("192.0.2.0/24"), "a documentation address (TEST-NET-1)"},
	{mustPrefix("192.168.0.0/16"), "a private address (RFC 1918)"},
	{mustPrefix("198.18.0.0/15"), "a benchmarking address (RFC 2544)"},
	{mustPrefix("198.51.100.0/24"), "a documentation address (TEST-NET-2)"},
	{mustPrefix("203.0.113.0/24"), "a documentation address (TEST-NET-3)"},
	{mustPrefix("224.0.0.0/4"), "a multicast address (224.0.0.0/4)"},
	{mustPrefix("255.255.255.255/32"), "the broadcast address"},
	{mustPrefix("240.0.0.0/4"), "a reserved address (240.0.0.0/4)"},
}

// v6Blocked are IPv6 ranges refused whatever they contain; ::1 must stay
// first (see v4Blocked). Besides the ranges
// in the design brief this refuses the deprecated IPv4-compatible (::/96) and
// site-local (fec0::/10) ranges, the discard prefix, Teredo and local-use
// NAT64: none is a public web server's address.
var v6Blocked = []rangeRule{
	{mustPrefix("::1/128"), "a loopback address (::1)"},
	{mustPrefix("::/128"), "the unspecified address (::)"},
	{mustPrefix("::/96"), "a deprecated IPv4-compatible address (::/96)"},
	{mustPrefix("64:ff9b:1::/48"), "a local-use NAT64 address (64:ff9b:1::/48)"},
	{mustPrefix("100::/64"), "a discard-only address (100::/64)"},
	{mustPrefix("2001::/32"), "a Teredo tunnel address (2001::/32)"},
	{mustPrefix("2001:db8::/32"), "a documentation address (2001:db8::/32)"},
	{mustPrefix("fc00::/7"), "a unique local address (fc00::/7)"},
	{mustPrefix("fec0::/10"), "a deprecated site-local address (fec0::/10)"},
	{mustPrefix("fe80::/10"), "a link-local address (fe80::/10)"},
	{mustPrefix("ff00::/8"), "a multicast address (ff00::/8)"},
}

// Ranges whose addresses carry an IPv4 address that the network may
// translate to; they are judged by that IPv4 address.
var (
	nat64  = mustPrefix("64:ff9b::/96")
	sixTo4 = mustPrefix("2002::/16")
)

// verdict is the guard's judgement of one address.
type verdict struct {
	blocked  bool
	loopback bool   // 127.0.0.0/8, ::1 or their IPv4-mapped forms
	desc     string // "a private address (RFC 1918)"; "" when allowed
}

// classify judges addr, ignoring any zone.
func classify(addr netip.Addr) verdict {
	addr = addr.WithZone("")
	if addr.Is4In6() {
		v4 := addr.Unmap()
		v := classify4(v4)
		if v.blocked {
			v.desc = fmt.Sprintf("an IPv4-mapped form of %s, %s", v4, v.desc)
		}
		return v
	}
	if addr.Is4() {
		return classify4(addr)
	}
	return classify6(addr)
}

// classify4 judges an IPv4 address.
func classify4(a netip.Addr) verdict {
	for i, r := range v4Blocked {
		if r.prefix.Contains(a) {
			return verdict{blocked: true, loopback: i == 0, desc: r.desc}
		}
	}
	return verdict{}
}

// classify6 judges an IPv6 address that is not IPv4-mapped.
func classify6(a netip.Addr) verdict {
	for i, r := range v6Blocked {
		if r.prefix.Contains(a) {
			return verdict{blocked: true, loopback: i == 0, desc: r.desc}
		}
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return embedded(netip.AddrFrom4([4]byte(b[12:16])), "a NAT64 form")
	case sixTo4.Contains(a):
		return embedded(netip.AddrFrom4([4]byte(b[2:6])), "a 6to4 form")
	}
	return verdict{}
}

// embedded judges an IPv6 address by the IPv4 address it carries. Loopback
// reached through a translator is not loopback, so it never counts as such.
func embedded(v4 netip.Addr, form string) verdict {
	v := classify4(v4)
	if !v.blocked {
		return v
	}
	return verdict{blocked: true, desc: fmt.Sprintf("%s of %s, %s", form, v4, v.desc)}
}

// allowed reports whether p lets a connection to addr through, and if not,
// why (a description such as "a private address (RFC 1918)").
func (p Policy) allowed(addr netip.Addr) (bool, string) {
	v := classify(addr)
	if !v.blocked || (v.loopback && p.AllowLoopback) {
		return true, ""
	}
	return false, v.desc
}
