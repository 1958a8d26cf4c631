package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/netguard"
)

// Retryable reports whether another attempt may succeed: timeouts, DNS,
// connection and TLS failures, and HTTP 408, 429 and 5xx. Other 4xx
// (410 Gone included), 3xx, successes and blocked targets are final.
func Retryable(r Result) bool {
	switch r.Outcome {
	case connections.OutcomeTimeout, connections.OutcomeDNS, connections.OutcomeConnect, connections.OutcomeTLS:
		return true
	case connections.OutcomeHTTP:
		return r.Status == http.StatusRequestTimeout || r.Status == http.StatusTooManyRequests || r.Status >= 500
	}
	return false
}

// classify names the failure of an exchange that ran under ctx.
// handshakeFailed says a TLS handshake for it failed.
func classify(ctx context.Context, err error, handshakeFailed bool) connections.Outcome {
	var blocked *netguard.BlockedError
	var dns *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &blocked):
		return connections.OutcomeBlocked
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return connections.OutcomeTimeout
	case errors.As(err, &dns):
		return connections.OutcomeDNS
	case errors.As(err, &netErr) && netErr.Timeout():
		return connections.OutcomeTimeout
	case handshakeFailed || isTLS(err):
		return connections.OutcomeTLS
	}
	// Refused, reset, unreachable, closed early, malformed answer.
	return connections.OutcomeConnect
}

// isTLS reports whether err comes from TLS: a non-TLS answer, a certificate
// that does not verify, or an alert from the peer (crypto/tls reports those
// as a *net.OpError with Op "remote error", e.g. a client certificate
// demanded after a TLS 1.3 handshake).
func isTLS(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		return true
	}
	var (
		record    tls.RecordHeaderError
		recordPtr *tls.RecordHeaderError
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	return errors.As(err, &record) || errors.As(err, &recordPtr) || errors.As(err, &verify) ||
		errors.As(err, &alert) || errors.As(err, &authority) || errors.As(err, &hostname) ||
		errors.As(err, &invalid)
}

// retryAfter is the Retry-After of a 429 or 503 answer, 0 otherwise. A date
// is measured from the answer's Date header when it has one (the server's
// clock), else from now.
func retryAfter(status int, h http.Header, now time.Time) time.Duration {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return 0
	}
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		now = date
	}
	return parseRetryAfter(h.Get("Retry-After"), now)
}

// parseRetryAfter parses a Retry-After value: delay seconds or an HTTP date.
// It returns 0 for invalid or past values and caps at connections.MaxDelay.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > int64(connections.MaxDelay/time.Second) {
			return connections.MaxDelay // all digits: only too large to parse
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), connections.MaxDelay)
}

// bodyText turns the kept start of a body into at most
// connections.MaxResponseBody bytes of valid UTF-8: invalid bytes become
// U+FFFD, and a character cut by truncation is dropped.
func bodyText(b []byte, truncated bool) string {
	if truncated {
		b = dropPartialRune(b)
	}
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		out := b[:size]
		if r == utf8.RuneError && size == 1 {
			out = []byte(string(utf8.RuneError))
		}
		if sb.Len()+len(out) > connections.MaxResponseBody {
			break
		}
		sb.Write(out)
		b = b[size:]
	}
	return sb.String()
}

// dropPartialRune removes an incomplete UTF-8 sequence at the end of b.
func dropPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		start := len(b) - i
		if utf8.RuneStart(b[start]) {
			if !utf8.FullRune(b[start:]) {
				return b[:start]
			}
			break
		}
	}
	return b
}
