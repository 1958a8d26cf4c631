package connections

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/netguard"
)

// memStore keeps connections in memory; the Store methods the URL tests do
// not reach are left to the embedded nil interface (they would panic).
type memStore struct {
	Store
	conns map[string]Connection
}

func (m *memStore) CreateConnection(_ context.Context, c Connection) error {
	m.conns[c.ID] = c
	return nil
}

func (m *memStore) GetConnection(_ context.Context, tenantID, id string) (Connection, error) {
	c, ok := m.conns[id]
	if !ok || c.TenantID != tenantID {
		return Connection{}, apperr.NotFound("Item", "")
	}
	return c, nil
}

func (m *memStore) ListConnections(_ context.Context, tenantID string) ([]Connection, error) {
	var out []Connection
	for _, c := range m.conns {
		if c.TenantID == tenantID {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *memStore) PutConnection(_ context.Context, c Connection) error {
	old, ok := m.conns[c.ID]
	switch {
	case !ok:
		return apperr.NotFound("Item", "")
	case old.Version != c.Version-1:
		return apperr.Conflict("item")
	}
	m.conns[c.ID] = c
	return nil
}

// resolver knows ASCII names only, as DNS does, and notes the names asked.
type resolver struct {
	ips   map[string]string
	asked *[]string
}

func (r resolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	*r.asked = append(*r.asked, host)
	ip, ok := r.ips[strings.TrimSuffix(host, ".")]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []net.IPAddr{{IP: net.ParseIP(ip)}}, nil
}

// newService returns a Service guarded as in AWS, and the names the guard
// looked up.
func newService() (*Service, *memStore, *[]string) {
	store := &memStore{conns: map[string]Connection{}}
	var asked []string
	names := resolver{asked: &asked, ips: map[string]string{
		"xn--bcher-kva.example":  "93.184.215.14",   // bücher.example
		"xn--r8jz45g.xn--zckzah": "2606:4700::1111", // 例え.テスト
		"xn--priv-epa.example":   "10.0.0.5",        // privé.example
		"example.com":            "93.184.215.14",
	}}
	policy := netguard.Policy{RequireHTTPS: true}
	n := 0
	return &Service{
		Store:        store,
		CheckURL:     func(ctx context.Context, u string) error { return policy.CheckURL(ctx, u, names) },
		CustomFields: func(context.Context, string) ([]string, error) { return nil, nil },
		NewSecret:    func() string { return "whsec_test" },
		NewID: func() string {
			n++
			return "conn_" + string(rune('a'+n))
		},
		Now: func() time.Time { return time.Unix(1_700_000_000, 0) },
	}, store, &asked
}

func TestCreateInternationalisedURL(t *testing.T) {
	tests := []struct {
		in   string
		want string // the URL stored and checked
	}{
		{"https://bücher.example/hook", "https://xn--bcher-kva.example/hook"},
		{"  https://BÜCHER.example:8443/hook?x=1  ", "https://xn--bcher-kva.example:8443/hook?x=1"},
		{"https://例え.テスト/x", "https://xn--r8jz45g.xn--zckzah/x"},
		{"https://例え。テスト/x", "https://xn--r8jz45g.xn--zckzah/x"},
		{"https://b%C3%BCcher.example/", "https://xn--bcher-kva.example/"},
		{"https://xn--bcher-kva.example/hook", "https://xn--bcher-kva.example/hook"},
		{"https://example.com/hook", "https://example.com/hook"},
	}
	for _, tt := range tests {
		svc, store, asked := newService()
		name, url, triggers := "n", tt.in, []string{"email"}
		c, err := svc.Create(context.Background(), "ten_1", "ch_1", SourceAPI, Input{Name: &name, URL: &url, Triggers: &triggers})
		if err != nil {
			t.Errorf("Create(%q) = %v", tt.in, err)
			continue
		}
		if c.URL != tt.want || store.conns[c.ID].URL != tt.want {
			t.Errorf("Create(%q) URL %q, stored %q; want %q", tt.in, c.URL, store.conns[c.ID].URL, tt.want)
		}
		if host := hostOf(tt.want); len(*asked) != 1 || (*asked)[0] != host {
			t.Errorf("Create(%q) looked up %q; want only %q", tt.in, *asked, host)
		}
	}
}

func TestCreateRefusesURL(t *testing.T) {
	tests := []struct {
		in   string
		want string // a substring of the problem
	}{
		{"https://a\u2024b.example/", `host "a․b.example" is not a valid internationalised domain name: it contains U+2024`},
		{"https://-bücher.example/", "begins or ends with a hyphen"},
		{"https://اb.example/", "bidi rule"},
		{"https://" + strings.Repeat("ü", 60) + ".example/", "more than 63"},
		{"https://privé.example/", "resolves to 10.0.0.5, a private address"},
		{"https://１２７．０．０．１/", "127.0.0.1 is a loopback address"},
		{"https://127。0。0。1/", "127.0.0.1 is a loopback address"},
		{"https://０ｘ７ｆ．１/", "0x7f.1 is 127.0.0.1, a loopback address"},
		{"https://ｌｏｃａｌｈｏｓｔ/", "localhost is a loopback name"},
		{"https://１６９．２５４．１６９．２５４/", "cloud metadata"},
		{"http://bücher.example/", "must use https"},
		{"https://nowhere.bücher.example/", "cannot resolve host"},
	}
	for _, tt := range tests {
		svc, store, _ := newService()
		name, url, triggers := "n", tt.in, []string{"email"}
		_, err := svc.Create(context.Background(), "ten_1", "ch_1", SourceAPI, Input{Name: &name, URL: &url, Triggers: &triggers})
		var ve *apperr.Error
		if !errors.As(err, &ve) || ve.Field != "url" || !strings.Contains(ve.Problem, tt.want) {
			t.Errorf("Create(%q) = %v, want a url rejection containing %q", tt.in, err, tt.want)
		}
		if len(store.conns) != 0 {
			t.Errorf("Create(%q) stored %v", tt.in, store.conns)
		}
	}
}

func TestUpdateInternationalisedURL(t *testing.T) {
	svc, store, _ := newService()
	ctx := context.Background()
	name, url, triggers := "n", "https://example.com/hook", []string{"email"}
	c, err := svc.Create(ctx, "ten_1", "ch_1", SourceAPI, Input{Name: &name, URL: &url, Triggers: &triggers})
	if err != nil {
		t.Fatal(err)
	}
	idnURL := "https://bücher.example/neu"
	if c, err = svc.Update(ctx, "ten_1", "ch_1", c.ID, Input{URL: &idnURL}); err != nil {
		t.Fatal(err)
	}
	if want := "https://xn--bcher-kva.example/neu"; c.URL != want || store.conns[c.ID].URL != want {
		t.Fatalf("Update URL %q, stored %q; want %q", c.URL, store.conns[c.ID].URL, want)
	}
	bad := "https://１２７．０．０．１/"
	_, err = svc.Update(ctx, "ten_1", "ch_1", c.ID, Input{URL: &bad})
	var ve *apperr.Error
	if !errors.As(err, &ve) || ve.Field != "url" || !strings.Contains(ve.Problem, "loopback") {
		t.Fatalf("Update(%q) = %v, want refused as loopback", bad, err)
	}
	if got := store.conns[c.ID].URL; got != "https://xn--bcher-kva.example/neu" {
		t.Fatalf("refused update changed the URL to %q", got)
	}
}

// hostOf is the host of a URL the tests wrote.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u.Hostname()
}

// asciiForm is an error handing back the form to keep, as netguard's
// IDNError does.
type asciiForm string

func (e asciiForm) Error() string    { return "use " + string(e) }
func (e asciiForm) ASCIIURL() string { return string(e) }

// TestCheckURLProtocol checks the Service against CheckURL's contract alone:
// an error with ASCIIURL() (wrapped or not) means "allowed, keep this form";
// any other error refuses.
func TestCheckURLProtocol(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantURL string // "" refused
	}{
		{"allowed", nil, "https://raw.example/"},
		{"ASCII form", asciiForm("https://xn--ascii.example/"), "https://xn--ascii.example/"},
		{"wrapped ASCII form", fmt.Errorf("checked: %w", asciiForm("https://xn--w.example/")), "https://xn--w.example/"},
		{"refused", &netguard.BlockedError{Reason: "no"}, ""},
		{"resolve failure", fmt.Errorf("%w: boom", netguard.ErrResolve), ""},
	}
	for _, tt := range tests {
		svc, store, _ := newService()
		svc.CheckURL = func(context.Context, string) error { return tt.err }
		name, u, triggers := "n", "https://raw.example/", []string{"email"}
		c, err := svc.Create(context.Background(), "ten_1", "ch_1", SourceAPI, Input{Name: &name, URL: &u, Triggers: &triggers})
		if tt.wantURL == "" {
			var ve *apperr.Error
			if !errors.As(err, &ve) || ve.Field != "url" || ve.Problem != tt.err.Error() || len(store.conns) != 0 {
				t.Errorf("%s: Create = %v, want the url rejection %q and nothing stored", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || c.URL != tt.wantURL || store.conns[c.ID].URL != tt.wantURL {
			t.Errorf("%s: Create = %q, %v; stored %q; want %q", tt.name, c.URL, err, store.conns[c.ID].URL, tt.wantURL)
		}
	}
}
