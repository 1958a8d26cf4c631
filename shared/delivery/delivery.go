// Package delivery is the HTTP client that makes one webhook attempt: a POST
// to a tenant's URL through the SSRF guard, bounded by a hard deadline, with
// the answer classified for the activity log and the retry decision. Job
// handling (queues, schedules, records) lives elsewhere; see Retryable for
// which results are worth another attempt.
package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"time"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/netguard"
)

// AttemptTimeout is the hard limit of one attempt: connect, TLS, request
// and response together (seed 000: "waits up to 10 seconds"). A Client
// whose timeout is not set uses it.
const AttemptTimeout = 10 * time.Second

// Transport limits.
const (
	maxIdleConnsPerHost = 64
	maxIdleConns        = 1024
	idleConnTimeout     = 90 * time.Second
	maxResponseHeaders  = 64 << 10
)

// Client makes delivery attempts. Build it with New; the zero value has no
// HTTP client and refuses every attempt.
type Client struct {
	// HTTP does the exchange; New's never follows redirects, never uses a
	// proxy and guards every dial.
	HTTP *http.Client
	// Timeout bounds a whole attempt: connect, TLS, sending, waiting and
	// reading the response (AttemptTimeout when ≤ 0).
	Timeout time.Duration

	// policy, when set, refuses URLs before any dial (bad shape, blocked IP
	// literals, localhost); names are checked at dial time by HTTP's dialer.
	policy *netguard.Policy
}

// Result is one attempt's outcome.
type Result struct {
	Outcome connections.Outcome
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Body is the start of the response body: at most
	// connections.MaxResponseBody bytes of valid UTF-8 (invalid bytes
	// replaced by U+FFFD).
	Body     string
	Duration time.Duration
	// RetryAfter is the target's Retry-After on a 429 or 503 (seconds or an
	// HTTP date), at most connections.MaxDelay; 0 when absent or invalid.
	RetryAfter time.Duration
	// Err says what went wrong when no complete response was read (and for
	// blocked targets); nil for any complete response, 2xx or not.
	Err error
}

// New returns a Client whose every connection is checked by policy (at dial
// time, on the address actually connected) and whose attempts last at most
// timeout (AttemptTimeout when ≤ 0).
func New(policy netguard.Policy, timeout time.Duration) *Client {
	return newClient(policy, timeout, nil)
}

// newClient is New with a resolver for the dialer (nil: the default).
func newClient(policy netguard.Policy, timeout time.Duration, resolver *net.Resolver) *Client {
	if timeout <= 0 {
		timeout = AttemptTimeout
	}
	dialer := &net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		Resolver:  resolver,
		Control:   policy.Control,
	}
	transport := &http.Transport{
		Proxy:                  nil, // never HTTP(S)_PROXY from the environment
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
		MaxResponseHeaderBytes: maxResponseHeaders,
		// Bodies are kept as sent; not asking for gzip keeps them readable.
		DisableCompression: true,
	}
	return &Client{
		HTTP: &http.Client{
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Timeout: timeout,
		policy:  &policy,
	}
}

// Send POSTs body to url with headers and classifies what happened. The
// whole exchange, reading the response included, ends within c.Timeout.
func (c *Client) Send(ctx context.Context, url string, headers http.Header, body []byte) Result {
	start := time.Now()
	r := c.send(ctx, url, headers, body)
	r.Duration = time.Since(start)
	return r
}

// send is Send without the timing.
func (c *Client) send(ctx context.Context, target string, headers http.Header, body []byte) Result {
	if c.HTTP == nil {
		return Result{Outcome: connections.OutcomeBlocked, Err: errors.New("delivery: client has no HTTP client")}
	}
	if c.policy != nil {
		if _, err := c.policy.ParseURL(target); err != nil {
			return Result{Outcome: connections.OutcomeBlocked, Err: err}
		}
	}
	timeout := c.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var hs handshake
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{TLSHandshakeDone: hs.done})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Result{Outcome: connections.OutcomeBlocked, Err: fmt.Errorf("delivery: %w", err)}
	}
	if headers != nil {
		req.Header = headers.Clone()
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return failed(ctx, err, hs.failed(), timeout)
	}
	defer resp.Body.Close()

	kept, truncated, err := readBody(resp.Body)
	r := Result{
		Status:     resp.StatusCode,
		Body:       bodyText(kept, truncated),
		RetryAfter: retryAfter(resp.StatusCode, resp.Header, time.Now()),
	}
	switch {
	case err != nil:
		f := failed(ctx, err, false, timeout)
		r.Outcome, r.Err = f.Outcome, fmt.Errorf("reading the response: %w", f.Err)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		r.Outcome = connections.OutcomeSuccess
	default:
		r.Outcome = connections.OutcomeHTTP
	}
	return r
}

// timeout is c.Timeout or the default.
func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return AttemptTimeout
}

// failed is the Result of an exchange that produced no complete response.
func failed(ctx context.Context, err error, handshakeFailed bool, timeout time.Duration) Result {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is the caller's; keep it out of logs
	}
	o := classify(ctx, err, handshakeFailed)
	if o == connections.OutcomeTimeout {
		err = fmt.Errorf("no complete response within %s: %w", timeout, err)
	}
	return Result{Outcome: o, Err: err}
}

// readBody reads at most connections.MaxResponseBody bytes of body,
// reporting whether more followed. A longer body is not drained: closing it
// drops the connection, which bounds the time spent on huge answers.
func readBody(body io.Reader) (kept []byte, truncated bool, err error) {
	b, err := io.ReadAll(io.LimitReader(body, connections.MaxResponseBody+1))
	if len(b) > connections.MaxResponseBody {
		return b[:connections.MaxResponseBody], true, nil
	}
	return b, false, err
}

// handshake remembers whether a TLS handshake made for the request failed.
// Its hook can run on the transport's dialing goroutine, even after Do
// returned, hence the lock.
type handshake struct {
	mu  sync.Mutex
	err error
}

func (h *handshake) done(_ tls.ConnectionState, err error) {
	if err != nil {
		h.mu.Lock()
		h.err = err
		h.mu.Unlock()
	}
}

func (h *handshake) failed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err != nil
}
