package netguard

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

// fakeResolver answers from a map; names not in it do not exist.
type fakeResolver map[string][]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := f[strings.TrimSuffix(host, ".")] // as real resolvers do
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

var names = fakeResolver{
	"example.com":              {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
	"hooks.zapier.com":         {"54.86.1.2"},
	"xn--bcher-kva.example":    {"93.184.215.14"},        // bücher.example
	"xn--r8jz45g.xn--zckzah":   {"2606:4700::1111"},      // 例え.テスト
	"api.xn--bcher-kva.test":   {"54.86.1.2"},            // api.bücher.test
	"xn--mgbh0fb.example":      {"93.184.215.14"},        // مثال.example
	"xn--tda.1.example":        {"93.184.215.14"},        // ü.1.example
	"xn--priv-epa.example":     {"10.0.0.5"},             // privé.example
	"xn--mtadat-bva.example":   {"169.254.169.254"},      // métadat.example
	"xn--lcal-l3a.example":     {"93.184.215.14", "::1"}, // lōcal.example
	"private.example.com":      {"10.0.0.5"},
	"mixed.example.com":        {"93.184.215.14", "192.168.1.1"},
	"metadata.example.com":     {"169.254.169.254"},
	"loop.example.com":         {"127.0.0.1"},
	"loop6.example.com":        {"::1"},
	"mapped.example.com":       {"::ffff:10.1.2.3"},
	"nat64.example.com":        {"64:ff9b::a9fe:a9fe"},
	"nat64public.example.com":  {"64:ff9b::808:808"},
	"ula.example.com":          {"fd00::1"},
	"empty.example.com":        {},
	"127.0.0.1.nip.example.io": {"127.0.0.1"},
}

var (
	strict   = Policy{}
	aws      = Policy{RequireHTTPS: true}
	loopback = Policy{AllowLoopback: true}
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		url    string
		want   string // "" allowed; else a substring of the BlockedError reason
	}{
		{"public name", aws, "https://example.com/hook?x=1", ""},
		{"public name any port", aws, "https://hooks.zapier.com:8443/hooks/standard/1/2/", ""},
		{"public IPv4", strict, "http://93.184.215.14/", ""},
		{"public IPv6", strict, "http://[2606:4700::1111]:8080/", ""},
		{"mapped public IPv4", strict, "http://[::ffff:8.8.8.8]/", ""},
		{"NAT64 public", strict, "http://[64:ff9b::808:808]/", ""},
		{"6to4 public", strict, "http://[2002:808:808::1]/", ""},
		{"NAT64 public by name", strict, "http://nat64public.example.com/", ""},
		{"trailing dot name", strict, "http://example.com./", ""},
		{"upper case", strict, "HTTP://EXAMPLE.COM/", ""},

		{"http under RequireHTTPS", aws, "http://example.com/", "must use https"},
		{"ftp", strict, "ftp://example.com/", "https:// or http://"},
		{"no scheme", strict, "example.com/hook", "https:// or http://"},
		{"javascript", strict, "javascript:alert(1)", "https:// or http://"},
		{"userinfo", strict, "http://user:pw@example.com/", "user name"},
		{"user only", strict, "http://user@example.com/", "user name"},
		{"no host", strict, "http:///path", "no host"},
		{"opaque", strict, "http:example.com", "no host"},
		{"too long", strict, "http://example.com/" + strings.Repeat("a", 2048), "longer than 2048"},
		{"space", strict, "http://example.com/a b", "spaces"},
		{"port 0", strict, "http://example.com:0/", "port"},
		{"port too big", strict, "http://example.com:70000/", "port"},
		{"bad escape", strict, "http://%31%32%37.0.0.1/", "does not parse"},

		{"loopback", strict, "http://127.0.0.1/", "loopback"},
		{"loopback high", strict, "http://127.255.255.254:9000/", "loopback"},
		{"decimal", strict, "http://2130706433/", "2130706433 is 127.0.0.1, a loopback"},
		{"octal", strict, "http://0177.0.0.1/", "127.0.0.1, a loopback"},
		{"hex", strict, "http://0x7f.1/", "127.0.0.1, a loopback"},
		{"hex whole", strict, "http://0x7F000001/", "127.0.0.1, a loopback"},
		{"short", strict, "http://127.1/", "127.0.0.1, a loopback"},
		{"short three", strict, "http://10.1.1/", "10.1.0.1, a private address"},
		{"trailing dot IP", strict, "http://127.0.0.1./", "loopback"},
		{"trailing dot public IP", strict, "http://8.8.8.8./", "written unusually"},
		{"octal private", strict, "http://012.0.0.1/", "10.0.0.1, a private"},
		{"zero", strict, "http://0/", `0.0.0.0, a "this network"`},
		{"0.0.0.0", strict, "http://0.0.0.0:8080/", "this network"},
		{"bad number host", strict, "http://1.2.3.4.5/", "neither a name"},
		{"huge number host", strict, "http://99999999999/", "neither a name"},
		{"octal with 9", strict, "http://09.1.1.1/", "neither a name"},
		{"public written loosely", strict, "http://134744072/", "written unusually"},
		{"public leading zero", strict, "http://08.08.08.08/", "neither a name"},

		{"10/8", strict, "http://10.0.0.1/", "10.0.0.1 is a private address (RFC 1918)"},
		{"172.16/12", strict, "http://172.31.255.255/", "RFC 1918"},
		{"172.32 is public", strict, "http://172.32.0.1/", ""},
		{"192.168/16", strict, "http://192.168.0.1/", "RFC 1918"},
		{"CGNAT", strict, "http://100.64.0.1/", "carrier-grade NAT"},
		{"CGNAT end", strict, "http://100.127.255.255/", "carrier-grade NAT"},
		{"100.128 public", strict, "http://100.128.0.1/", ""},
		{"metadata", strict, "http://169.254.169.254/latest/meta-data/", "cloud metadata"},
		{"link-local", strict, "http://169.254.1.1/", "link-local"},
		{"192.0.0/24", strict, "http://192.0.0.8/", "IETF protocol"},
		{"TEST-NET-1", strict, "http://192.0.2.1/", "TEST-NET-1"},
		{"benchmark", strict, "http://198.19.255.1/", "benchmarking"},
		{"TEST-NET-2", strict, "http://198.51.100.7/", "TEST-NET-2"},
		{"TEST-NET-3", strict, "http://203.0.113.9/", "TEST-NET-3"},
		{"multicast", strict, "http://239.1.1.1/", "multicast"},
		{"reserved", strict, "http://250.1.1.1/", "reserved"},
		{"broadcast", strict, "http://255.255.255.255/", "broadcast"},

		{"IPv6 loopback", strict, "http://[::1]:8080/", "loopback"},
		{"IPv6 loopback long", strict, "http://[0:0:0:0:0:0:0:1]/", "loopback"},
		{"IPv6 unspecified", strict, "http://[::]/", "unspecified"},
		{"mapped loopback", strict, "http://[::ffff:127.0.0.1]/", "IPv4-mapped form of 127.0.0.1, a loopback"},
		{"mapped loopback hex", strict, "http://[::ffff:7f00:1]/", "IPv4-mapped form of 127.0.0.1"},
		{"mapped metadata long", strict, "http://[0:0:0:0:0:ffff:a9fe:a9fe]/", "169.254.169.254, the cloud metadata"},
		{"IPv4-compatible", strict, "http://[::127.0.0.1]/", "IPv4-compatible"},
		{"NAT64 metadata", strict, "http://[64:ff9b::169.254.169.254]/", "NAT64 form of 169.254.169.254"},
		{"NAT64 loopback", loopback, "http://[64:ff9b::7f00:1]/", "NAT64 form of 127.0.0.1"},
		{"6to4 private", strict, "http://[2002:a00:1::1]/", "6to4 form of 10.0.0.1"},
		{"ULA", strict, "http://[fd12:3456::1]/", "unique local"},
		{"link-local v6", strict, "http://[fe80::1]/", "link-local"},
		{"zone", strict, "http://[fe80::1%25eth0]/", "zone"},
		{"zone on public", strict, "http://[2606:4700::1111%25eth0]/", "zone"},
		{"multicast v6", strict, "http://[ff02::1]/", "multicast"},
		{"doc v6", strict, "http://[2001:db8::1]/", "documentation"},
		{"teredo", strict, "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo"},

		{"localhost", strict, "http://localhost:8080/", "loopback name"},
		{"LOCALHOST.", strict, "http://LOCALHOST./", "loopback name"},
		{"sub.localhost", strict, "http://api.localhost/", "loopback name"},
		{"resolves private", strict, "http://private.example.com/", "resolves to 10.0.0.5, a private address (RFC 1918)"},
		{"one private address", strict, "http://mixed.example.com/", "resolves to 192.168.1.1"},
		{"resolves metadata", strict, "http://metadata.example.com/", "cloud metadata"},
		{"resolves loopback", strict, "http://loop.example.com/", "resolves to 127.0.0.1, a loopback"},
		{"resolves ::1", strict, "http://loop6.example.com/", "resolves to ::1"},
		{"resolves mapped", strict, "http://mapped.example.com/", "resolves to 10.1.2.3"},
		{"resolves NAT64", strict, "http://nat64.example.com/", "NAT64 form of 169.254.169.254"},
		{"resolves ULA", strict, "http://ula.example.com/", "unique local"},
		{"ip-looking name", strict, "http://127.0.0.1.nip.example.io/", "resolves to 127.0.0.1"},

		// Internationalised names: more in TestCheckURLIDN.
		{"IDN in ASCII", aws, "https://xn--bcher-kva.example/hook", ""},
		{"full-width loopback", strict, "http://１２７．０．０．１/", "127.0.0.1 is a loopback"},
		{"full-width IPv6", loopback, "http://[::ｆｆｆｆ:7f00:1]/", "does not parse"},

		{"dev loopback", loopback, "http://127.0.0.1:9000/hook", ""},
		{"dev loopback v6", loopback, "http://[::1]:9000/", ""},
		{"dev localhost", loopback, "http://localhost:9000/", ""},
		{"dev localhost dot", loopback, "http://LocalHost.:9000/", ""},
		{"dev sub.localhost", loopback, "http://api.localhost/", "loopback name"},
		{"dev trailing dot loopback", loopback, "http://127.0.0.1./", "written unusually"},
		{"dev mapped loopback", loopback, "http://[::ffff:127.0.0.1]:9000/", ""},
		{"dev resolves loopback", loopback, "http://loop.example.com/", ""},
		{"dev loopback spelled", loopback, "http://127.1/", "written unusually"},
		{"dev still no private", loopback, "http://10.0.0.1/", "RFC 1918"},
		{"dev still no 0.0.0.0", loopback, "http://0.0.0.0/", "this network"},
		{"dev still no metadata", loopback, "http://metadata.example.com/", "cloud metadata"},
		{"dev https loopback", Policy{AllowLoopback: true, RequireHTTPS: true}, "https://127.0.0.1/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.CheckURL(context.Background(), tt.url, names)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v, want allowed", tt.url, err)
				}
				return
			}
			var be *BlockedError
			if !errors.As(err, &be) {
				t.Fatalf("CheckURL(%q) = %v (%T), want *BlockedError", tt.url, err, err)
			}
			if !strings.Contains(be.Reason, tt.want) {
				t.Fatalf("CheckURL(%q) reason %q, want it to contain %q", tt.url, be.Reason, tt.want)
			}
		})
	}
}

func TestCheckURLResolveFailure(t *testing.T) {
	for _, u := range []string{"http://nxdomain.example.com/", "http://empty.example.com/"} {
		err := strict.CheckURL(context.Background(), u, names)
		var be *BlockedError
		if !errors.Is(err, ErrResolve) || errors.As(err, &be) {
			t.Errorf("CheckURL(%q) = %v, want ErrResolve and not blocked", u, err)
		}
	}
	var dns *net.DNSError
	if err := strict.CheckURL(context.Background(), "http://nxdomain.example.com/", names); !errors.As(err, &dns) {
		t.Errorf("resolver error not wrapped: %v", err)
	}
}

// panicResolver fails the test if a lookup happens.
type panicResolver struct{ t testing.TB }

func (p panicResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	p.t.Fatalf("unexpected lookup of %q", host)
	return nil, nil
}

func TestLiteralsAndLocalhostNeverResolve(t *testing.T) {
	for _, u := range []string{"http://8.8.8.8/", "http://[2606:4700::1111]/", "http://localhost/", "http://10.0.0.1/", "http://0x7f.1/",
		"http://１２７．０．０．１/", "http://８．８．８．８/", "http://ｌｏｃａｌｈｏｓｔ/", "http://０ｘ７ｆ．１/"} {
		_ = loopback.CheckURL(context.Background(), u, panicResolver{t})
	}
}

func TestControl(t *testing.T) {
	tests := []struct {
		policy  Policy
		address string
		want    string // "" allowed
	}{
		{strict, "93.184.215.14:443", ""},
		{strict, "[2606:4700::1111]:443", ""},
		{strict, "10.0.0.1:80", "connects to 10.0.0.1, a private address (RFC 1918)"},
		{strict, "169.254.169.254:80", "cloud metadata"},
		{strict, "127.0.0.1:8080", "loopback"},
		{strict, "[::1]:8080", "loopback"},
		{strict, "[::ffff:10.0.0.1]:80", "connects to 10.0.0.1"},
		{strict, "[fe80::1%eth0]:80", "connects to fe80::1, a link-local"},
		{strict, "0.0.0.0:80", "this network"},
		{strict, "not-an-address:80", "unparsable"},
		{loopback, "127.0.0.1:8080", ""},
		{loopback, "[::1]:8080", ""},
		{loopback, "192.168.1.1:80", "RFC 1918"},
	}
	for _, tt := range tests {
		err := tt.policy.Control("tcp", tt.address, nil)
		if tt.want == "" {
			if err != nil {
				t.Errorf("Control(%q) = %v, want nil", tt.address, err)
			}
			continue
		}
		var be *BlockedError
		if !errors.As(err, &be) || !strings.Contains(be.Reason, tt.want) {
			t.Errorf("Control(%q) = %v, want *BlockedError containing %q", tt.address, err, tt.want)
		}
	}
}

func TestParseLooseIPv4(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" invalid
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0x7f.0.0.1", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"0x", "0.0.0.0"},
		{"0xffffffff", "255.255.255.255"},
		{"4294967296", ""},
		{"256.0.0.1", ""},
		{"1.2.65536", ""},
		{"1.2.3.256", ""},
		{"1..2", ""},
		{"08", ""},
		{"0x1g", ""},
		{"+1.2.3.4", ""},
		{"1_0.0.0.1", ""},
		{"1.2.3.4.5", ""},
	}
	for _, tt := range tests {
		got, ok := parseLooseIPv4(tt.in)
		if (tt.want == "") == ok || (ok && got.String() != tt.want) {
			t.Errorf("parseLooseIPv4(%q) = %v, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}
