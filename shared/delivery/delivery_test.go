package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/netguard"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// testTimeout stands for production's 10 s; slack absorbs a busy machine.
const (
	testTimeout = time.Second
	slack       = 2 * time.Second
)

// dev is the guard of local runs: loopback only.
var dev = netguard.Policy{AllowLoopback: true}

func newTestClient(t testing.TB) *Client {
	t.Helper()
	c := New(dev, testTimeout)
	t.Cleanup(c.HTTP.CloseIdleConnections)
	return c
}

func serve(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// hang reads the request and then never answers (until the client leaves:
// the server notices only once the body was read).
func hang(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func TestSendSuccess(t *testing.T) {
	body := []byte(`{"email":"a@b.c"}`)
	hdr := webhook.Headers("dlv_1", time.Unix(1700000000, 0), "v1,abc")
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		switch {
		case r.Method != http.MethodPost, string(got) != string(body),
			r.Header.Get("webhook-id") != "dlv_1", r.Header.Get("User-Agent") != webhook.UserAgent,
			r.Header.Get("Content-Type") != "application/json", r.ContentLength != int64(len(body)),
			r.Header.Get("Accept-Encoding") != "":
			w.WriteHeader(http.StatusTeapot)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "thanks")
	})
	r := newTestClient(t).Send(context.Background(), s.URL+"/hook?x=1", hdr, body)
	if r.Outcome != connections.OutcomeSuccess || r.Status != 201 || r.Body != "thanks" || r.Err != nil || r.Duration <= 0 {
		t.Fatalf("Send = %+v", r)
	}
	if len(hdr) != 5 {
		t.Fatalf("caller's headers changed: %v", hdr)
	}
}

func TestSendStatuses(t *testing.T) {
	tests := []struct {
		status    int
		outcome   connections.Outcome
		retryable bool
	}{
		{200, connections.OutcomeSuccess, false},
		{204, connections.OutcomeSuccess, false},
		{299, connections.OutcomeSuccess, false},
		{301, connections.OutcomeHTTP, false},
		{304, connections.OutcomeHTTP, false},
		{400, connections.OutcomeHTTP, false},
		{401, connections.OutcomeHTTP, false},
		{404, connections.OutcomeHTTP, false},
		{408, connections.OutcomeHTTP, true},
		{410, connections.OutcomeHTTP, false},
		{422, connections.OutcomeHTTP, false},
		{429, connections.OutcomeHTTP, true},
		{500, connections.OutcomeHTTP, true},
		{502, connections.OutcomeHTTP, true},
		{503, connections.OutcomeHTTP, true},
		{504, connections.OutcomeHTTP, true},
	}
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("status"))
		w.WriteHeader(n)
	})
	c := newTestClient(t)
	for _, tt := range tests {
		r := c.Send(context.Background(), s.URL+"/?status="+strconv.Itoa(tt.status), nil, []byte("{}"))
		if r.Outcome != tt.outcome || r.Status != tt.status || Retryable(r) != tt.retryable || r.Err != nil {
			t.Errorf("status %d: %+v, retryable %v; want %s, retryable %v", tt.status, r, Retryable(r), tt.outcome, tt.retryable)
		}
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/other", http.StatusFound) })
	mux.HandleFunc("/other", func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	s := serve(t, mux.ServeHTTP)
	r := newTestClient(t).Send(context.Background(), s.URL+"/hook", nil, nil)
	if r.Outcome != connections.OutcomeHTTP || r.Status != http.StatusFound || Retryable(r) || followed.Load() != 0 {
		t.Fatalf("Send = %+v, followed %d", r, followed.Load())
	}
}

// sendTimed sends and checks that the attempt ended in time.
func sendTimed(t *testing.T, c *Client, url string) Result {
	t.Helper()
	start := time.Now()
	r := c.Send(context.Background(), url, nil, []byte("{}"))
	if el := time.Since(start); el > c.Timeout+slack {
		t.Fatalf("Send took %s, limit %s", el, c.Timeout)
	}
	return r
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
	}{
		{"never answers", hang, 0},
		{"headers then trickle", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
			for {
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}, 200},
		{"slow headers", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(2 * testTimeout):
			}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, tt.handler)
			r := sendTimed(t, newTestClient(t), s.URL)
			if r.Outcome != connections.OutcomeTimeout || r.Status != tt.status || !Retryable(r) || r.Err == nil {
				t.Fatalf("Send = %+v", r)
			}
		})
	}
}

func TestTimeoutDuringConnect(t *testing.T) {
	// A listener that never accepts still completes TCP handshakes up to its
	// backlog, so use TLS: the handshake never gets an answer.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	r := sendTimed(t, newTestClient(t), "https://"+ln.Addr().String()+"/")
	if r.Outcome != connections.OutcomeTimeout {
		t.Fatalf("Send = %+v", r)
	}
}

func TestParentContextBoundsToo(t *testing.T) {
	s := serve(t, hang)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := newTestClient(t).Send(ctx, s.URL, nil, nil)
	if r.Outcome != connections.OutcomeTimeout || time.Since(start) > testTimeout {
		t.Fatalf("Send = %+v after %s", r, time.Since(start))
	}
}

func TestResponseBodies(t *testing.T) {
	long := strings.Repeat("a", 64<<10)
	straddle := strings.Repeat("a", connections.MaxResponseBody-1) + "é" + "tail"
	tests := []struct {
		name string
		body string
		want string
	}{
		{"short", "ok", "ok"},
		{"exactly the limit", long[:connections.MaxResponseBody], long[:connections.MaxResponseBody]},
		{"64 KB cut at 20 KB", long, long[:connections.MaxResponseBody]},
		{"invalid bytes replaced", "a\xffb\xc3", "a\uFFFDb\uFFFD"},
		{"character cut by the limit dropped", straddle, straddle[:connections.MaxResponseBody-1]},
		{"empty", "", ""},
	}
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		for _, tt := range tests {
			if tt.name == r.URL.Query().Get("case") {
				io.WriteString(w, tt.body)
			}
		}
	})
	c := newTestClient(t)
	for _, tt := range tests {
		r := c.Send(context.Background(), s.URL+"/?case="+strings.ReplaceAll(tt.name, " ", "+"), nil, nil)
		if r.Outcome != connections.OutcomeSuccess || r.Body != tt.want {
			t.Errorf("%s: outcome %s, body %d bytes %.40q; want %d bytes", tt.name, r.Outcome, len(r.Body), r.Body, len(tt.want))
		}
	}
}

func TestEndlessBodyStopsAtLimit(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("z", 4096))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	start := time.Now()
	r := newTestClient(t).Send(context.Background(), s.URL, nil, nil)
	if r.Outcome != connections.OutcomeSuccess || len(r.Body) != connections.MaxResponseBody || time.Since(start) > testTimeout {
		t.Fatalf("Send = %s %d, %d bytes, after %s", r.Outcome, r.Status, len(r.Body), time.Since(start))
	}
}

func TestBodyText(t *testing.T) {
	max := connections.MaxResponseBody
	bad := strings.Repeat("\xff", max)
	tests := []struct {
		name      string
		in        string
		truncated bool
		wantLen   int
	}{
		{"all invalid stays within the limit", bad, true, max - max%3},
		{"valid", "héllo", false, 6},
		{"lead byte at the cut", strings.Repeat("a", max-1) + "\xe2", true, max - 1},
		{"two of three at the cut", strings.Repeat("a", max-2) + "\xe2\x82", true, max - 2},
		{"lone lead byte untruncated", "a\xe2", false, 4},
	}
	for _, tt := range tests {
		got := bodyText([]byte(tt.in), tt.truncated)
		if !utf8.ValidString(got) || len(got) != tt.wantLen || len(got) > max {
			t.Errorf("%s: %d bytes, valid %v; want %d", tt.name, len(got), utf8.ValidString(got), tt.wantLen)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	future := time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)
	tests := []struct {
		status int
		value  string
		min    time.Duration
		max    time.Duration
	}{
		{429, "120", 120 * time.Second, 120 * time.Second},
		{503, "0", 0, 0},
		{503, future, 118 * time.Second, 121 * time.Second},
		{429, "Wed, 21 Oct 2015 07:28:00 GMT", 0, 0}, // past
		{429, "soon", 0, 0},
		{429, "-5", 0, 0},
		{429, "1.5", 0, 0},
		{429, "99999999999999999999999", connections.MaxDelay, connections.MaxDelay},
		{503, "86400", connections.MaxDelay, connections.MaxDelay},
		{500, "120", 0, 0},
		{200, "120", 0, 0},
		{429, "", 0, 0},
	}
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("v"); v != "" {
			w.Header().Set("Retry-After", v)
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("s"))
		w.WriteHeader(n)
	})
	c := newTestClient(t)
	for _, tt := range tests {
		q := "/?s=" + strconv.Itoa(tt.status) + "&v=" + strings.NewReplacer(" ", "+", ",", "%2C", ":", "%3A").Replace(tt.value)
		r := c.Send(context.Background(), s.URL+q, nil, nil)
		if r.RetryAfter < tt.min || r.RetryAfter > tt.max {
			t.Errorf("%d Retry-After %q: %s, want %s–%s", tt.status, tt.value, r.RetryAfter, tt.min, tt.max)
		}
	}
}

func TestParseRetryAfterUsesServerDate(t *testing.T) {
	h := http.Header{}
	server := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	h.Set("Date", server.Format(http.TimeFormat))
	h.Set("Retry-After", server.Add(90*time.Second).Format(http.TimeFormat))
	// The local clock is an hour behind; the server's own clock decides.
	if got := retryAfter(503, h, server.Add(-time.Hour)); got != 90*time.Second {
		t.Fatalf("retryAfter = %s, want 90s", got)
	}
	h.Set("Retry-After", "Monday, 01-Jan-30 12:00:30 GMT") // RFC 850 form
	if got := retryAfter(429, h, time.Time{}); got != 30*time.Second {
		t.Fatalf("retryAfter RFC 850 = %s, want 30s", got)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := sendTimed(t, newTestClient(t), "http://"+addr+"/")
	if r.Outcome != connections.OutcomeConnect || r.Status != 0 || !Retryable(r) || r.Err == nil {
		t.Fatalf("Send = %+v", r)
	}
	if strings.Contains(r.Err.Error(), "http://") {
		t.Errorf("error repeats the URL: %v", r.Err)
	}
}

func TestConnectionClosedWithoutAnswer(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	})
	r := newTestClient(t).Send(context.Background(), s.URL, nil, nil)
	if r.Outcome != connections.OutcomeConnect || !Retryable(r) {
		t.Fatalf("Send = %+v", r)
	}
}

func TestDNSFailure(t *testing.T) {
	noDNS := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS server in tests")
	}}
	c := newClient(dev, testTimeout, noDNS)
	r := sendTimed(t, c, "http://webhook.example.invalid/hook")
	var dnsErr *net.DNSError
	if r.Outcome != connections.OutcomeDNS || !Retryable(r) || !errors.As(r.Err, &dnsErr) {
		t.Fatalf("Send = %+v", r)
	}
}

func TestBlockedBeforeDialing(t *testing.T) {
	c := New(netguard.Policy{}, testTimeout)
	for _, u := range []string{"http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://0x7f.1/",
		"http://[::ffff:10.0.0.1]/", "http://localhost/", "ftp://example.com/", "http://u:p@example.com/"} {
		start := time.Now()
		r := c.Send(context.Background(), u, nil, nil)
		var be *netguard.BlockedError
		if r.Outcome != connections.OutcomeBlocked || Retryable(r) || !errors.As(r.Err, &be) || time.Since(start) > 50*time.Millisecond {
			t.Errorf("Send(%q) = %+v after %s", u, r, time.Since(start))
		}
	}
	if r := New(netguard.Policy{RequireHTTPS: true}, testTimeout).Send(context.Background(), "http://example.com/", nil, nil); r.Outcome != connections.OutcomeBlocked {
		t.Errorf("http under RequireHTTPS: %+v", r)
	}
}

// The dialer's guard acts on the address actually connected, whatever the
// URL said: here the pre-check is off and names resolve through /etc/hosts.
func TestBlockedAtDialTime(t *testing.T) {
	var hits atomic.Int32
	s := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	c := New(netguard.Policy{}, testTimeout)
	c.policy = nil
	for _, u := range []string{s.URL, "http://localhost:" + port + "/"} {
		r := c.Send(context.Background(), u, nil, nil)
		var be *netguard.BlockedError
		if r.Outcome != connections.OutcomeBlocked || !errors.As(r.Err, &be) || !strings.Contains(be.Reason, "loopback") {
			t.Errorf("Send(%q) = %+v", u, r)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the blocked server was reached %d times", hits.Load())
	}
}

func TestTLS(t *testing.T) {
	// The first handshake verified against the system's roots loads them
	// (once per process); on a loaded machine that alone can outlast the
	// test client's timeout. Load them before any send is timed.
	if _, err := x509.SystemCertPool(); err != nil {
		t.Fatal(err)
	}
	quiet := func(h http.HandlerFunc, cfg *tls.Config) *httptest.Server {
		s := httptest.NewUnstartedServer(h)
		s.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are the point
		s.TLS = cfg
		s.StartTLS()
		t.Cleanup(s.Close)
		return s
	}
	s := quiet(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secure") }, nil)
	demanding := quiet(func(http.ResponseWriter, *http.Request) {}, &tls.Config{ClientAuth: tls.RequireAnyClientCert})
	plain := serve(t, func(http.ResponseWriter, *http.Request) {})
	hangUp := closingListener(t)

	trusting := newTestClient(t)
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	trusting.HTTP.Transport.(*http.Transport).TLSClientConfig.RootCAs = pool
	if r := trusting.Send(context.Background(), s.URL, nil, nil); r.Outcome != connections.OutcomeSuccess || r.Body != "secure" {
		t.Fatalf("with the test CA: %+v", r)
	}
	tests := []struct {
		name   string
		client *Client
		url    string
	}{
		{"unknown CA", newTestClient(t), s.URL},
		{"plain HTTP server", trusting, strings.Replace(plain.URL, "http://", "https://", 1)},
		{"client certificate demanded", trusting, demanding.URL},
		{"hang-up during the handshake", trusting, "https://" + hangUp},
	}
	for _, tt := range tests {
		r := sendTimed(t, tt.client, tt.url)
		if r.Outcome != connections.OutcomeTLS || !Retryable(r) || r.Status != 0 {
			t.Errorf("%s: %+v", tt.name, r)
		}
	}
}

// closingListener accepts connections and closes them at once; it returns
// its address.
func closingListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestTransportSettings(t *testing.T) {
	c := New(netguard.Policy{RequireHTTPS: true}, 0)
	tr := c.HTTP.Transport.(*http.Transport)
	if c.Timeout != AttemptTimeout || tr.Proxy != nil || tr.MaxIdleConnsPerHost < 64 || tr.DisableKeepAlives ||
		tr.TLSHandshakeTimeout != AttemptTimeout || tr.ResponseHeaderTimeout != AttemptTimeout || c.HTTP.CheckRedirect == nil {
		t.Fatalf("transport %+v", tr)
	}
	if r := (&Client{}).Send(context.Background(), "https://example.com/", nil, nil); r.Outcome != connections.OutcomeBlocked {
		t.Fatalf("zero Client: %+v", r)
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		r    Result
		want bool
	}{
		{Result{Outcome: connections.OutcomeSuccess, Status: 200}, false},
		{Result{Outcome: connections.OutcomeTimeout}, true},
		{Result{Outcome: connections.OutcomeTimeout, Status: 200}, true},
		{Result{Outcome: connections.OutcomeDNS}, true},
		{Result{Outcome: connections.OutcomeConnect}, true},
		{Result{Outcome: connections.OutcomeTLS}, true},
		{Result{Outcome: connections.OutcomeBlocked}, false},
		{Result{Outcome: connections.OutcomeHTTP, Status: 302}, false},
		{Result{Outcome: connections.OutcomeHTTP, Status: 410}, false},
		{Result{Outcome: connections.OutcomeHTTP, Status: 408}, true},
		{Result{Outcome: connections.OutcomeHTTP, Status: 429}, true},
		{Result{Outcome: connections.OutcomeHTTP, Status: 599}, true},
		{Result{Outcome: ""}, false},
	}
	for _, tt := range tests {
		if got := Retryable(tt.r); got != tt.want {
			t.Errorf("Retryable(%s %d) = %v", tt.r.Outcome, tt.r.Status, got)
		}
	}
}

// BenchmarkSend measures attempts against a local keep-alive sink, with as
// many concurrent senders as a dispatcher batch (the target is ≥ 1,000/s on
// 2 cores).
func BenchmarkSend(b *testing.B) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer s.Close()
	c := New(dev, time.Second)
	defer c.HTTP.CloseIdleConnections()
	body := []byte(`{"psid":"123","first_name":"Ana","email":"ana@example.com"}`)
	hdr := webhook.Headers("dlv_1", time.Now(), "v1,abc")
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := c.Send(context.Background(), s.URL, hdr, body); r.Outcome != connections.OutcomeSuccess {
				b.Errorf("Send = %+v", r)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
}

func TestKeepAlive(t *testing.T) {
	var opened atomic.Int32
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			opened.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	c := newTestClient(t)
	for range 100 {
		if r := c.Send(context.Background(), s.URL, nil, []byte("{}")); r.Outcome != connections.OutcomeSuccess {
			t.Fatalf("Send = %+v", r)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Fatalf("100 sequential sends opened %d connections, want 1", n)
	}
	done := make(chan struct{})
	for range 32 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 10 {
				c.Send(context.Background(), s.URL, nil, []byte("{}"))
			}
		}()
	}
	for range 32 {
		<-done
	}
	// Bursts may open a few more than 32 (the pool keeps 64 idle per host),
	// but 320 sends must mostly reuse connections.
	if n := opened.Load(); n > 100 {
		t.Fatalf("32 concurrent senders opened %d connections for 320 sends", n)
	}
}
