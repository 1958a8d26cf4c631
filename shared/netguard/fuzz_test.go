package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

// The reference classification, written independently of ranges.go: every
// blocked IPv4 prefix is expanded into the IPv6 prefixes that carry it
// (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16), and membership is a
// plain scan.
var (
	refV4 = []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
	}
	refV6 = []string{
		"::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32",
		// Stricter than the brief (see ranges.go).
		"::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "fec0::/10",
	}
	refBlockedSet  = buildRef()
	refLoopbackSet = []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::ffff:127.0.0.0/104"),
		netip.MustParsePrefix("::1/128"),
	}
)

// buildRef returns every blocked prefix, IPv4 and IPv6.
func buildRef() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range refV4 {
		p := netip.MustParsePrefix(s)
		v4 := p.Addr().As4()
		mapped := [16]byte{10: 0xff, 11: 0xff}
		copy(mapped[12:], v4[:])
		nat := [16]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b}
		copy(nat[12:], v4[:])
		six := [16]byte{0: 0x20, 1: 0x02}
		copy(six[2:], v4[:])
		out = append(out, p,
			netip.PrefixFrom(netip.AddrFrom16(mapped), 96+p.Bits()),
			netip.PrefixFrom(netip.AddrFrom16(nat), 96+p.Bits()),
			netip.PrefixFrom(netip.AddrFrom16(six), 16+p.Bits()))
	}
	for _, s := range refV6 {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// refBlocked is the reference verdict on addr under a policy.
func refBlocked(addr netip.Addr, allowLoopback bool) bool {
	in := func(set []netip.Prefix) bool {
		for _, p := range set {
			if p.Contains(addr) {
				return true
			}
		}
		return false
	}
	return in(refBlockedSet) && !(allowLoopback && in(refLoopbackSet))
}

// spelling is one way to write an address in a URL host.
type spelling struct {
	host      string
	canonical bool // Go dials it as written
}

// v4Spellings writes a in the spellings browsers and inet_aton accept.
func v4Spellings(a netip.Addr) []spelling {
	b := a.As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return []spelling{
		{a.String(), true},
		{fmt.Sprintf("[::ffff:%s]", a), true},
		{fmt.Sprintf("[::ffff:%x:%x]", n>>16, n&0xffff), true},
		{fmt.Sprintf("[0:0:0:0:0:FFFF:%04X:%04X]", n>>16, n&0xffff), true},
		{fmt.Sprint(n), false},
		{fmt.Sprintf("0x%x", n), false},
		{fmt.Sprintf("0X%08X", n), false},
		{fmt.Sprintf("0%o.0%o.0%o.0%o", b[0], b[1], b[2], b[3]), false},
		{fmt.Sprintf("%d.%d", b[0], n&0xffffff), false},
		{fmt.Sprintf("0x%x.%d.%d", b[0], b[1], n&0xffff), false},
		{fmt.Sprintf("%d.%d.%d.%d.", b[0], b[1], b[2], b[3]), false},
	}
}

// v6Spellings writes a (IPv6) in several bracketed forms.
func v6Spellings(a netip.Addr) []spelling {
	return []spelling{
		{"[" + a.String() + "]", true},
		{"[" + a.StringExpanded() + "]", true},
		{"[" + strings.ToUpper(a.StringExpanded()) + "]", true},
	}
}

// FuzzCheckURLAddr checks that, for any address in any spelling, CheckURL
// and Control agree with the reference classification.
func FuzzCheckURLAddr(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "8.8.8.8", "100.64.0.0",
		"172.15.255.255", "172.16.0.0", "224.0.0.1", "255.255.255.255", "0.0.0.0", "198.17.255.255",
		"::1", "::", "fe80::1", "fd00::1", "2606:4700::1111", "64:ff9b::a9fe:a9fe", "64:ff9b::808:808",
		"2002:7f00:1::", "2001:db8::1", "ff02::1", "::ffff:10.0.0.1", "2001::1", "::7f00:1"} {
		a := netip.MustParseAddr(s)
		b := a.AsSlice()
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, allowLoopback bool) {
		addr, ok := netip.AddrFromSlice(raw)
		if !ok {
			return
		}
		p := Policy{AllowLoopback: allowLoopback}
		var spellings []spelling
		v4 := addr.Is4()
		if v4 {
			spellings = v4Spellings(addr)
		} else {
			spellings = v6Spellings(addr)
		}
		for _, sp := range spellings {
			// A mapped spelling is judged as the mapped form.
			judged := addr
			if v4 && strings.HasPrefix(sp.host, "[") {
				judged = netip.AddrFrom16(addr.As16())
			}
			want := refBlocked(judged, allowLoopback)
			u := "http://" + sp.host + ":8080/x"
			err := p.CheckURL(context.Background(), u, panicResolver{t})
			var be *BlockedError
			switch {
			case want && !errors.As(err, &be):
				t.Fatalf("CheckURL(%q) = %v, want blocked (reference)", u, err)
			case want && v4 && !strings.Contains(be.Reason, addr.String()):
				t.Fatalf("CheckURL(%q) reason %q does not name %s", u, be.Reason, addr)
			case !want && sp.canonical && err != nil:
				t.Fatalf("CheckURL(%q) = %v, want allowed (reference)", u, err)
			case !want && !sp.canonical && err == nil:
				t.Fatalf("CheckURL(%q) allowed a spelling Go would not dial", u)
			}
		}
		// Zones are never accepted.
		if !v4 {
			u := "http://[" + addr.String() + "%25eth0]/"
			if err := p.CheckURL(context.Background(), u, panicResolver{t}); err == nil {
				t.Fatalf("CheckURL(%q) allowed a zone", u)
			}
		}
		// Dial time, as Go passes the address to Control (IPv4 unmapped).
		want := refBlocked(addr, allowLoopback)
		dialed := netip.AddrPortFrom(addr, 443).String()
		if err := p.Control("tcp", dialed, nil); (err != nil) != want {
			t.Fatalf("Control(%q) = %v, reference blocked=%v", dialed, err, want)
		}
		// Resolved names.
		res := fakeResolver{"name.example.com": {addr.String()}}
		err := p.CheckURL(context.Background(), "https://name.example.com/", res)
		if (err != nil) != refBlocked(addr.Unmap(), allowLoopback) {
			t.Fatalf("name resolving to %s: %v, reference blocked=%v", addr, err, want)
		}
	})
}

// failResolver refuses every lookup.
type failResolver struct{}

func (failResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	return nil, &net.DNSError{Err: "lookups disabled", Name: host}
}

// FuzzCheckURL feeds arbitrary strings. With lookups failing, CheckURL may
// accept only an IP literal the reference allows (or, with AllowLoopback, a
// localhost name), and never a URL Go would send elsewhere or with
// credentials.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1/", "https://8.8.8.8:8443/a?b#c", "http://[::ffff:7f00:1]/",
		"http://0x7f.1/", "http://2130706433/", "http://[fe80::1%25en0]/", "http://localhost./",
		"http://a@8.8.8.8/", "HTTP://8.8.8.8", "http://8.8.8.8:0/", "http://[::1]:80x/", "http://1.2.3.4.5/",
		"http://8.8.8.8./", "http://x.localhost/", "//8.8.8.8/",
		// Internationalised hosts, refused until converted (package idn).
		"https://bücher.example/", "https://b%C3%BCcher.example/", "http://１２７．０．０．１/", "http://127。0。0。1/",
		"http://０ｘ７ｆ．１/", "http://ｌｏｃａｌｈｏｓｔ/", "http://[::ｆｆｆｆ:7f00:1]/", "https://xn--bcher-kva.example/"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, allowLoopback bool) {
		p := Policy{AllowLoopback: allowLoopback}
		err := p.CheckURL(context.Background(), raw, failResolver{})
		if err != nil {
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("CheckURL(%q) allowed a URL that does not parse: %v", raw, perr)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || len(raw) > MaxURLLength {
			t.Fatalf("CheckURL(%q) allowed a bad shape", raw)
		}
		host := strings.ToLower(u.Hostname())
		if allowLoopback && strings.TrimSuffix(host, ".") == "localhost" {
			return
		}
		addr, aerr := netip.ParseAddr(host)
		if aerr != nil {
			t.Fatalf("CheckURL(%q) allowed host %q without resolving it", raw, host)
		}
		if addr.Zone() != "" || refBlocked(addr, allowLoopback) {
			t.Fatalf("CheckURL(%q) allowed %s, blocked by the reference", raw, addr)
		}
	})
}

// FuzzASCIIURL checks, for any string, that ASCIIURL only ever changes the
// host, into the ASCII form net/http would dial (idna.Lookup), that the
// result is stable, that CheckURL judges the URL exactly as its ASCII form,
// and, with lookups failing, allows nothing but an IP literal the reference
// allows (or localhost with AllowLoopback): no Unicode spelling sneaks a
// blocked address past the guard.
func FuzzASCIIURL(f *testing.F) {
	for _, s := range []string{
		"https://bücher.example/hook", "https://例え.テスト/x", "https://b%C3%BCcher.example:8443/a?b=ü#c",
		"http://１２７．０．０．１/", "http://127。0。0。1/", "http://１２７｡０．0。１:8080/", "http://１２７．０．０．１．/",
		"http://２１３０７０６４３３/", "http://０ｘ７ｆ．１/", "http://０Ｘ７Ｆ０００００１/", "http://０１７７．０．０．１/",
		"http://１６９．２５４．１６９．２５４/", "http://１０．１．１/", "http://０/", "http://８．８．８．８/",
		"http://ｌｏｃａｌｈｏｓｔ/", "http://api.ｌｏｃａｌｈｏｓｔ./", "http://ü.１/", "http://[::ｆｆｆｆ:7f00:1]/",
		"http://［：：１］/", "https://ü.xn--/", "https://ü.\u00ad/", "https://اb.example/", "https://a\u200db.ü/",
		"https://%FF%C3%BC.example/", "https://u:p@bücher.example/", "https://xn--bcher-kva.example/",
		"https://ü.xn--8g7ccp/", "http://127.0.0.1/",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, allowLoopback bool) {
		out, err := ASCIIURL(raw)
		if err != nil {
			var be *BlockedError
			if !errors.As(err, &be) || !strings.Contains(be.Reason, "is not a valid internationalised domain name") {
				t.Fatalf("ASCIIURL(%q) = %v, want a *BlockedError about the host", raw, err)
			}
			if got := (Policy{AllowLoopback: allowLoopback}).CheckURL(context.Background(), raw, failResolver{}); got == nil || got.Error() != err.Error() {
				t.Fatalf("CheckURL(%q) = %v, want ASCIIURL's refusal %v", raw, got, err)
			}
			return
		}
		in, perr := url.Parse(raw)
		if perr != nil || isASCII(in.Hostname()) {
			if out != raw {
				t.Fatalf("ASCIIURL(%q) = %q, want it unchanged", raw, out)
			}
		} else if out != raw {
			u, perr := url.Parse(out)
			if perr != nil {
				t.Fatalf("ASCIIURL(%q) = %q, which does not parse: %v", raw, out, perr)
			}
			want, lerr := idna.Lookup.ToASCII(in.Hostname())
			if lerr != nil || u.Hostname() != want {
				t.Fatalf("ASCIIURL(%q) host %q, idna.Lookup gives %q, %v", raw, u.Hostname(), want, lerr)
			}
			if again, aerr := idna.Lookup.ToASCII(want); aerr != nil || again != want {
				t.Fatalf("ASCIIURL(%q) host %q is not stable: %q, %v", raw, want, again, aerr)
			}
			if u.Scheme != in.Scheme || u.Port() != in.Port() || u.User.String() != in.User.String() ||
				u.Path != in.Path || u.RawQuery != in.RawQuery || u.Fragment != in.Fragment {
				t.Fatalf("ASCIIURL(%q) = %q changed more than the host", raw, out)
			}
			if again, aerr := ASCIIURL(out); aerr != nil || again != out {
				t.Fatalf("ASCIIURL(%q) = %q, %v; want it unchanged", out, again, aerr)
			}
		}

		// CheckURL converts as ASCIIURL does and judges the ASCII form: the
		// same refusal, or an *IDNError handing that form back.
		if out == raw {
			return // FuzzCheckURL covers ASCII hosts
		}
		p := Policy{AllowLoopback: allowLoopback}
		got := p.CheckURL(context.Background(), raw, failResolver{})
		same := p.CheckURL(context.Background(), out, failResolver{})
		var ie *IDNError
		switch {
		case same == nil && (!errors.As(got, &ie) || ie.URL != out):
			t.Fatalf("CheckURL(%q) = %v, want an *IDNError with %q", raw, got, out)
		case same != nil && (got == nil || got.Error() != same.Error()):
			t.Fatalf("CheckURL(%q) = %v, its ASCII form %q: %v", raw, got, out, same)
		case same != nil:
			return
		}
		// Allowed with lookups failing: an allowed IP literal, or localhost.
		u, _ := url.Parse(out)
		host := strings.ToLower(u.Hostname())
		if allowLoopback && strings.TrimSuffix(host, ".") == "localhost" {
			return
		}
		addr, aerr := netip.ParseAddr(host)
		if aerr != nil {
			t.Fatalf("guard allowed %q (from %q) without resolving it", out, raw)
		}
		if addr.Zone() != "" || refBlocked(addr, allowLoopback) {
			t.Fatalf("guard allowed %q (from %q), blocked by the reference", out, raw)
		}
	})
}
