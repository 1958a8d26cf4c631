package httpapi

import (
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
// path parameter has the form of its kind of ID (PathIDs).
func Wrap(route routes.Route, limiter RateLimiter, now func() time.Time, h http.Handler) http.Handler {
	params := route.PathParams()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		rec := &statusRecorder{ResponseWriter: w}
		p := CallerOf(r)
		defer func() {
			if v := recover(); v != nil {
				slog.ErrorContext(r.Context(), "panic", "route", route.Function, "panic", fmt.Sprint(v))
				if rec.status == 0 {
					WriteError(rec, r, fmt.Errorf("panic: %v", v))
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK // what net/http sends for a handler that wrote nothing
			}
			slog.InfoContext(r.Context(), "request", "route", route.Function, "method", r.Method, "path", r.URL.Path,
				"tenant", p.TenantID, "channel", p.ChannelID, "status", status, "duration_ms", now().Sub(start).Milliseconds())
		}()
		if err := admit(route.Auth, p); err != nil {
			WriteError(rec, r, err)
			return
		}
		if route.Auth != routes.AuthNone && route.Auth != routes.AuthAdmin {
			res, err := limiter.Hit(r.Context(), p.CredentialID)
			if err != nil {
				WriteError(rec, r, fmt.Errorf("rate limit: %w", err))
				return
			}
			h := rec.Header()
			h.Set("X-RateLimit-Limit", strconv.Itoa(res.Limit))
			h.Set("X-RateLimit-Remaining", strconv.Itoa(res.Remaining))
			h.Set("X-RateLimit-Reset", strconv.FormatInt(res.Reset.Unix(), 10))
			if !res.Allowed {
				h.Set("Retry-After", strconv.Itoa(res.RetryAfter(now())))
				WriteError(rec, r, &Error{Status: http.StatusTooManyRequests, Message: MsgTooManyRequests})
				return
			}
		}
		if err := checkPathIDs(params, route.Auth, r); err != nil {
			WriteError(rec, r, err)
			return
		}
		h.ServeHTTP(rec, r)
	})
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

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
