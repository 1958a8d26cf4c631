package ddblean

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// conns is a keep-alive HTTP/1.1 client for one endpoint: the calling
// goroutine writes the request and reads the answer itself, where
// net/http hands each request to a writer and a reader goroutine per
// connection (most of its CPU on a three-call request). It is used only
// with the SDK's own HTTP client (awshttp.BuildableClient: its dialer, TLS
// settings, idle limits and timeout) and no proxy for the endpoint;
// otherwise requests go through that client's Do.
type conns struct {
	addr       string // host:port to dial
	host       string // the Host header
	path       string // the request target
	tls        *tls.Config
	dial       func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsTimeout time.Duration
	timeout    time.Duration // the whole exchange, 0 for none
	maxIdle    int
	idleFor    time.Duration

	mu   sync.Mutex
	idle []*pconn // most recently used last
}

type pconn struct {
	c     net.Conn
	raw   net.Conn // the TCP connection under c
	probe *idleProbe
	br    *bufio.Reader
	// deadline is the one last set on c (zero: none).
	deadline time.Time
	wbuf     []byte
	used     time.Time
}

// newConns builds the client for endpoint u from hc, or nil when hc is not
// the SDK's buildable client or a proxy applies.
func newConns(hc any, u *url.URL) *conns {
	b, ok := hc.(*awshttp.BuildableClient)
	if !ok || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return nil
	}
	tr := b.GetTransport()
	if tr.Proxy != nil {
		p, err := tr.Proxy(&http.Request{Method: http.MethodPost, URL: u, Header: http.Header{}})
		if err != nil || p != nil {
			return nil
		}
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	c := &conns{
		addr:       net.JoinHostPort(u.Hostname(), port),
		host:       signHost(u),
		path:       u.RequestURI(),
		dial:       b.GetDialer().DialContext,
		tlsTimeout: tr.TLSHandshakeTimeout,
		timeout:    b.GetTimeout(),
		maxIdle:    tr.MaxIdleConnsPerHost,
		idleFor:    tr.IdleConnTimeout,
	}
	if tr.DialContext != nil {
		c.dial = tr.DialContext
	}
	if c.maxIdle <= 0 {
		c.maxIdle = http.DefaultMaxIdleConnsPerHost
	}
	if u.Scheme == "https" {
		cfg := &tls.Config{}
		if tr.TLSClientConfig != nil {
			cfg = tr.TLSClientConfig.Clone()
		}
		cfg.NextProtos = []string{"http/1.1"}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		c.tls = cfg
	}
	return c
}

// get is an idle connection still open, or a new one.
func (t *conns) get(ctx context.Context) (*pconn, bool, error) {
	now := time.Now()
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			break
		}
		pc := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		if !pc.deadline.IsZero() && !now.Before(pc.deadline) {
			// An earlier call's deadline, passed: it would fail the
			// check below (the connection taken for closed) and the
			// call.
			pc.c.SetDeadline(time.Time{})
			pc.deadline = time.Time{}
		}
		if t.idleFor > 0 && now.Sub(pc.used) > t.idleFor || !pc.probe.isOpen() {
			pc.c.Close()
			continue
		}
		return pc, true, nil
	}
	c, err := t.dial(ctx, "tcp", t.addr)
	if err != nil {
		return nil, false, err
	}
	raw := c
	c = rawSocket(c)
	if t.tls != nil {
		tc := tls.Client(c, t.tls)
		hctx := ctx
		if t.tlsTimeout > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, t.tlsTimeout)
			defer cancel()
		}
		if err := tc.HandshakeContext(hctx); err != nil {
			c.Close()
			return nil, false, err
		}
		c = tc
	}
	return &pconn{c: c, raw: raw, probe: newIdleProbe(raw), br: bufio.NewReaderSize(c, 16<<10)}, false, nil
}

func (t *conns) put(pc *pconn) {
	pc.used = time.Now()
	t.mu.Lock()
	if len(t.idle) < t.maxIdle {
		t.idle = append(t.idle, pc)
		pc = nil
	}
	t.mu.Unlock()
	if pc != nil {
		pc.c.Close()
	}
}

// answer is one HTTP response: status, the headers the client reads, the
// whole body.
type answer struct {
	status    int
	statusMsg string
	header    http.Header // every header, kept for error answers only
	requestID string      // of an error answer (not 2xx) only
	crc32     string
	body      []byte
}

// errStaleConn: a reused connection ended before any byte of an answer.
var errStaleConn = errors.New("ddblean: connection closed by the server before the answer")

// headerLines appends h as header lines ("Name: value" and CRLF each).
func headerLines(b []byte, h http.Header) []byte {
	for k, vs := range h {
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// roundTrip sends a request with the header lines head (every header but
// Host and Content-Length, which it writes) and body, and reads the
// answer. A reused connection whose write fails (the server closed it
// while idle) is given up for a new one, once: nothing of the request
// reached the server.
func (t *conns) roundTrip(ctx context.Context, head, body []byte) (*answer, error) {
	if t.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
		defer cancel()
	}
	for try := 0; ; try++ {
		pc, reused, err := t.get(ctx)
		if err != nil {
			return nil, err
		}
		// The context's deadline (none: zero), set only when it differs
		// from the one this connection has (the calls of one invocation
		// share theirs). A connection whose deadline the AfterFunc below
		// moved is closed, never kept.
		dl, _ := ctx.Deadline()
		if !dl.Equal(pc.deadline) {
			pc.c.SetDeadline(dl)
			pc.deadline = dl
		}
		stop := func() bool { return true }
		if ctx.Done() != nil {
			stop = context.AfterFunc(ctx, func() { pc.c.SetDeadline(time.Unix(1, 0)) })
		}
		a, keep, wrote, err := t.exchange(pc, head, body)
		// A connection whose deadline the context may still move is not
		// handed to another request.
		if stopped := stop(); err == nil && keep && stopped {
			t.put(pc)
		} else {
			pc.c.Close()
		}
		if err == nil {
			return a, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if reused && !wrote && try == 0 {
			continue
		}
		return nil, err
	}
}

func (t *conns) exchange(pc *pconn, head, body []byte) (a *answer, keep, wrote bool, err error) {
	w := pc.wbuf[:0]
	w = append(w, "POST "...)
	w = append(w, t.path...)
	w = append(w, " HTTP/1.1\r\nHost: "...)
	w = append(w, t.host...)
	w = append(w, "\r\n"...)
	w = append(w, head...)
	w = append(w, "Content-Length: "...)
	w = strconv.AppendInt(w, int64(len(body)), 10)
	w = append(w, "\r\n\r\n"...)
	w = append(w, body...)
	if cap(w) <= 64<<10 {
		pc.wbuf = w
	}
	if _, err := pc.c.Write(w); err != nil {
		return nil, false, false, err
	}
	a, keep, err = readAnswer(pc.br)
	if err != nil {
		if errors.Is(err, io.EOF) && a == nil {
			err = errStaleConn
		}
		return nil, false, true, err
	}
	return a, keep, true, nil
}

// readAnswer reads one response; keep reports whether the connection can
// carry another request. a is nil when nothing of an answer was read.
func readAnswer(br *bufio.Reader) (a *answer, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if len(line) == 0 {
			if err == io.EOF {
				return nil, false, io.EOF
			}
			return nil, false, err
		}
		return nil, false, fmt.Errorf("read status line: %w", err)
	}
	a = &answer{}
	// HTTP/1.1 200 OK
	line = bytes.TrimRight(line, "\r\n")
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return a, false, fmt.Errorf("malformed HTTP status line %q", line)
	}
	keep = line[7] == '1'
	a.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return a, false, fmt.Errorf("malformed HTTP status line %q", line)
	}
	if a.status < 200 || a.status >= 300 {
		a.statusMsg = string(line[9:])
	}
	length := int64(-1)
	chunked := false
	var hdr http.Header
	if a.status < 200 || a.status >= 300 {
		hdr = http.Header{}
	}
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return a, false, fmt.Errorf("read headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return a, false, fmt.Errorf("malformed HTTP header %q", line)
		}
		name, value := line[:i], bytes.TrimSpace(line[i+1:])
		switch {
		case equalFold(name, "content-length"):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return a, false, fmt.Errorf("malformed Content-Length %q", value)
			}
		case equalFold(name, "transfer-encoding"):
			chunked = equalFold(value, "chunked")
			if !chunked {
				return a, false, fmt.Errorf("unsupported Transfer-Encoding %q", value)
			}
		case equalFold(name, "connection"):
			if equalFold(value, "close") {
				keep = false
			}
		case equalFold(name, "x-amzn-requestid"):
			if hdr != nil { // only an error carries it
				a.requestID = string(value)
			}
		case equalFold(name, "x-amz-crc32"):
			a.crc32 = string(value)
		}
		if hdr != nil {
			hdr.Add(string(name), string(value))
		}
	}
	a.header = hdr
	switch {
	case chunked:
		a.body, err = io.ReadAll(httputil.NewChunkedReader(br))
		if err == nil {
			// the trailer section: lines up to an empty one
			for {
				line, err = br.ReadSlice('\n')
				if err != nil || len(bytes.TrimRight(line, "\r\n")) == 0 {
					break
				}
			}
		}
	case length >= 0:
		if length > 64<<20 {
			return a, false, fmt.Errorf("answer of %d bytes", length)
		}
		a.body = make([]byte, length)
		_, err = io.ReadFull(br, a.body)
	case a.status == http.StatusNoContent || a.status == http.StatusNotModified:
	default:
		// no length: the body ends with the connection
		keep = false
		a.body, err = io.ReadAll(br)
	}
	if err != nil {
		return a, false, fmt.Errorf("read body: %w", err)
	}
	return a, keep, nil
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// response is a as an *http.Response, for the SDK's error decoding and
// the wrapped errors' StatusCode.
func (a *answer) response(req *http.Request) *http.Response {
	h := a.header
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{
		Status: a.statusMsg, StatusCode: a.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: int64(len(a.body)), Request: req,
	}
}
