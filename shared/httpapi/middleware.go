package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/ratelimit"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// RateLimiter counts a call of a credential.
type RateLimiter interface {
	Hit(ctx context.Context, key string) (ratelimit.Result, error)
}

// Wrap adds what every route needs around h: panic recovery, one log line
// per request, the check that the caller's credential is of the kind the
// route takes, the rate limit with its headers, and the check that every
// path parameter has the form of its kind of ID (PathIDs). On a read-only
// route (routes.Access.ReadOnly) the call is counted while h runs, not
// before.
func Wrap(route routes.Route, limiter RateLimiter, now func() time.Time, h http.Handler) http.Handler {
	concurrent := route.Access.Has(routes.RateCount) && route.Access.ReadOnly()
	params := route.PathParams()
	// checked answers a malformed path ID as an unknown one, before h.
	checked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkPathIDs(params, route.Auth, r); err != nil {
			WriteError(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		rec := &StatusRecorder{ResponseWriter: w}
		p := CallerOf(r)
		defer func() {
			if v := recover(); v != nil {
				slog.ErrorContext(r.Context(), "panic", "route", route.Function, "panic", fmt.Sprint(v))
				if rec.Status == 0 {
					WriteError(rec, r, fmt.Errorf("panic: %v", v))
				}
			}
			status := rec.Status
			if status == 0 {
				status = http.StatusOK // what net/http sends for a handler that wrote nothing
			}
			logRequest(r.Context(), route.Function, r, p, status, now().Sub(start))
		}()
		if err := admit(route.Auth, p); err != nil {
			WriteError(rec, r, err)
			return
		}
		if route.Auth == routes.AuthNone || route.Auth == routes.AuthAdmin {
			checked.ServeHTTP(rec, r)
			return
		}
		if concurrent {
			countWhileServing(rec, r, limiter, p.CredentialID, now, checked)
			return
		}
		res, err := limiter.Hit(r.Context(), p.CredentialID)
		if !limitAnswer(rec, r, res, err, now) {
			return
		}
		checked.ServeHTTP(rec, r)
	})
}

// logRequest writes the request's log line at Info: typed attributes (no
// boxing of each value), nothing at all when Info is off.
func logRequest(ctx context.Context, function string, r *http.Request, p Principal, status int, took time.Duration) {
	l := slog.Default()
	if !l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	l.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("route", function), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.String("tenant", p.TenantID), slog.String("channel", p.ChannelID),
		slog.Int("status", status), slog.Int64("duration_ms", took.Milliseconds()))
}

// limitAnswer sets the rate-limit headers of res on w and reports whether
// the call may go on; if not, it has written the answer (429, or 500 when
// the counter failed).
func limitAnswer(w http.ResponseWriter, r *http.Request, res ratelimit.Result, err error, now func() time.Time) bool {
	if err != nil {
		WriteError(w, r, fmt.Errorf("rate limit: %w", err))
		return false
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(res.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(res.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(res.Reset.Unix(), 10))
	if !res.Allowed {
		h.Set("Retry-After", strconv.Itoa(res.RetryAfter(now())))
		WriteError(w, r, &Error{Status: http.StatusTooManyRequests, Message: MsgTooManyRequests})
		return false
	}
	return true
}

// countWhileServing counts the call on another goroutine while h serves it
// into a buffer, then answers as the sequential path would: h's answer with
// the rate-limit headers, or the 429 (or the counter's 500) instead of it.
// Only for read-only routes: the answer thrown away had no side effect.
// The count's round trip then overlaps the handler's reads instead of
// preceding them.
func countWhileServing(w http.ResponseWriter, r *http.Request, limiter RateLimiter, credential string, now func() time.Time, h http.Handler) {
	type hit struct {
		res ratelimit.Result
		err error
	}
	done := make(chan hit, 1)
	Go(func() {
		var v hit
		defer func() {
			if p := recover(); p != nil {
				v.err = fmt.Errorf("panic: %v", p)
			}
			done <- v
		}()
		v.res, v.err = limiter.Hit(r.Context(), credential)
	})
	buf := &bufferedResponse{header: http.Header{}}
	var panicked any
	func() {
		defer func() { panicked = recover() }()
		h.ServeHTTP(buf, r)
	}()
	v := <-done
	if !limitAnswer(w, r, v.res, v.err, now) {
		return // over the limit (or not counted): whatever h answered is dropped
	}
	if panicked != nil {
		panic(panicked) // Wrap's recovery answers, the rate-limit headers set
	}
	dst := w.Header()
	for k, vs := range buf.header {
		dst[k] = vs
	}
	status := buf.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if buf.body.Len() > 0 {
		_, _ = w.Write(buf.body.Bytes())
	}
}

// bufferedResponse keeps a handler's answer until the middleware sends it.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// admit checks that the principal is of the kind the route takes. API Gateway
// has already authenticated it; a mismatch is a token of the wrong kind.
func admit(auth routes.Auth, p Principal) error {
	switch auth {
	case routes.AuthNone:
		return nil
	case routes.AuthAdmin:
		if p.Kind != KindAdmin {
			return apperr.Forbidden("The admin API needs operator credentials.")
		}
	case routes.AuthChannel, routes.AuthChannelQuery:
		if p.Kind != string(tenancy.ChannelToken) || p.TenantID == "" || p.ChannelID == "" {
			if p.Kind == string(tenancy.AccountSecret) {
				return apperr.Forbidden("This endpoint takes a channel API token, not the account secret key.")
			}
			return ErrInvalidToken
		}
	case routes.AuthChannelOrAccount:
		// A channel token whole (tenant and channel), or the account
		// secret; the handler scopes what each sees.
		if p.Kind == string(tenancy.ChannelToken) && p.TenantID != "" && p.ChannelID != "" ||
			p.Kind == string(tenancy.AccountSecret) && p.TenantID != "" {
			return nil
		}
		return ErrInvalidToken
	case routes.AuthAccount:
		if p.Kind != string(tenancy.AccountSecret) || p.TenantID == "" {
			if p.Kind == string(tenancy.ChannelToken) {
				return apperr.Forbidden("This endpoint takes the account secret key, not a channel API token.")
			}
			return ErrInvalidToken
		}
	default:
		return fmt.Errorf("route has unknown auth %q", auth)
	}
	return nil
}

// StatusRecorder remembers the status a handler wrote (0 until it writes);
// the middleware logs it, and the local gateway counts failed calls by it.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records the first status and passes it on.
func (s *StatusRecorder) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records 200 if no status was written, and passes b on.
func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
