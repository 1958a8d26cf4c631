package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/ratelimit"
	"github.com/startmsg/chatbackend/shared/routes"
)

// readRoute is a read-only route: its call is counted while it is served.
var readRoute = routes.Route{Method: "GET", Path: "/v1/contact/{contactId}", Function: "contact-get",
	Auth: routes.AuthChannel, Access: routes.TableRead | routes.RateCount}

// writeRoute changes data: its call is counted before it is served.
var writeRoute = routes.Route{Method: "PUT", Path: "/v1/contact/{contactId}", Function: "contact-update",
	Auth: routes.AuthChannel, Access: routes.TableRead | routes.TableWrite | routes.Ops | routes.RateCount}

// handshakeLimiter waits, inside Hit, for the handler to have started;
// handshakeHandler waits for Hit to have started. Both give up after a
// while, so only a middleware that runs them at once gets a 200.
type handshake struct {
	counting, serving chan struct{}
}

func newHandshake() *handshake {
	return &handshake{counting: make(chan struct{}), serving: make(chan struct{})}
}

const handshakeWait = 3 * time.Second

func (hs *handshake) Hit(ctx context.Context, key string) (ratelimit.Result, error) {
	close(hs.counting)
	select {
	case <-hs.serving:
		return allowingLimiter().res, nil
	case <-time.After(handshakeWait):
		return ratelimit.Result{}, errors.New("the handler did not start while the call was counted")
	}
}

func (hs *handshake) handler() http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		close(hs.serving)
		select {
		case <-hs.counting:
			httpapi.WriteSuccess(w, "ok")
			return nil
		case <-time.After(handshakeWait):
			return errors.New("the call was not counted while the handler ran")
		}
	})
}

// TestReadOnlyRouteCountsWhileServing: on a read-only route the counter's
// UpdateItem and the handler's reads overlap; on a route that writes, the
// count still comes first.
func TestReadOnlyRouteCountsWhileServing(t *testing.T) {
	hs := newHandshake()
	rec := serve(readRoute, hs, &channelPrincipal, hs.handler())
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"ok"`) {
		t.Fatalf("read-only route: %d %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("X-RateLimit-Remaining") != "41" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", rec.Header())
	}

	// A route that writes must not run before its call is counted.
	var ran atomic.Bool
	l := &fakeLimiter{res: ratelimit.Result{Allowed: false, Limit: 100, Reset: fixedNow.Add(30 * time.Second)}}
	rec = serve(writeRoute, l, &channelPrincipal, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran.Store(true) }))
	decodeEnvelope(t, rec, http.StatusTooManyRequests, httpapi.MsgTooManyRequests)
	if ran.Load() {
		t.Fatal("a route that writes ran over the limit")
	}
}

// slowLimiter takes d to count, as a round trip to DynamoDB does.
type slowLimiter struct{ d time.Duration }

func (l slowLimiter) Hit(context.Context, string) (ratelimit.Result, error) {
	time.Sleep(l.d)
	return allowingLimiter().res, nil
}

// TestReadOnlyRouteCountLatencyHidden: a slow counter does not add its
// latency to a read-only route's answer (it does to a route that writes).
func TestReadOnlyRouteCountLatencyHidden(t *testing.T) {
	const d = 400 * time.Millisecond
	slowHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d)
		httpapi.WriteSuccess(w, "ok")
	})
	t0 := time.Now()
	rec := serve(readRoute, slowLimiter{d}, &channelPrincipal, slowHandler)
	read := time.Since(t0)
	t0 = time.Now()
	rec2 := serve(writeRoute, slowLimiter{d}, &channelPrincipal, slowHandler)
	write := time.Since(t0)
	if rec.Code != 200 || rec2.Code != 200 {
		t.Fatalf("statuses %d %d", rec.Code, rec2.Code)
	}
	if read >= 2*d-d/4 {
		t.Fatalf("read-only route took %v with a %v counter and a %v handler: the count was not overlapped", read, d, d)
	}
	if write < 2*d {
		t.Fatalf("route that writes took %v, under counter + handler (%v)", write, 2*d)
	}
}

// TestReadOnlyRouteOverTheLimit: the handler may have run, but its answer
// is replaced by the 429 with every rate-limit header, and none of its own.
func TestReadOnlyRouteOverTheLimit(t *testing.T) {
	l := &fakeLimiter{res: ratelimit.Result{Allowed: false, Limit: 100, Remaining: 0, Reset: fixedNow.Add(30 * time.Second)}}
	for name, h := range map[string]http.Handler{
		"success": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Handler", "1")
			httpapi.WriteData(w, 200, map[string]string{"secret": "contact data"})
		}),
		"error":  httpapi.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return httpapi.ErrNotFound }),
		"panics": http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }),
	} {
		t.Run(name, func(t *testing.T) {
			rec := serve(readRoute, l, &channelPrincipal, h)
			decodeEnvelope(t, rec, http.StatusTooManyRequests, httpapi.MsgTooManyRequests)
			for k, v := range map[string]string{"Retry-After": "30", "X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000060", "X-Handler": ""} {
				if got := rec.Header().Get(k); got != v {
					t.Fatalf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestReadOnlyRouteLimiterFailure: a counter that fails (or panics) is a
// 500 without detail, whatever the handler answered.
func TestReadOnlyRouteLimiterFailure(t *testing.T) {
	for name, l := range map[string]httpapi.RateLimiter{
		"error":  &fakeLimiter{err: errors.New("ProvisionedThroughputExceededException: table RL")},
		"panics": panickingLimiter{},
	} {
		t.Run(name, func(t *testing.T) {
			called := false
			rec := serve(readRoute, l, &channelPrincipal, okHandler(&called))
			decodeEnvelope(t, rec, http.StatusInternalServerError, httpapi.MsgInternal)
			if strings.Contains(rec.Body.String(), "Provisioned") || rec.Header().Get("X-RateLimit-Limit") != "" {
				t.Fatalf("answer %v %s", rec.Header(), rec.Body)
			}
		})
	}
}

type panickingLimiter struct{}

func (panickingLimiter) Hit(context.Context, string) (ratelimit.Result, error) { panic("counter") }

// TestReadOnlyRouteHeaders: the handler's status, headers and body pass
// through with the rate-limit headers, as on the sequential path.
func TestReadOnlyRouteHeaders(t *testing.T) {
	cases := map[string]struct {
		h      http.Handler
		status int
		body   string
	}{
		"success": {http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Handler", "1")
			w.Header().Add("Vary", "a")
			w.Header().Add("Vary", "b")
			httpapi.WriteData(w, http.StatusOK, map[string]string{"id": "42"})
		}), 200, `{"data":{"id":"42"}}`},
		"404":            {httpapi.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return httpapi.ErrNotFound }), 404, `"Not found."`},
		"500":            {httpapi.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return errors.New("boom") }), 500, httpapi.MsgInternal},
		"writes nothing": {http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), 200, ""},
		"status only":    {http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }), 204, ""},
		"panics":         {http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), 500, httpapi.MsgInternal},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			l := allowingLimiter()
			rec := serve(readRoute, l, &channelPrincipal, c.h)
			if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.body) || (c.body == "" && rec.Body.Len() != 0) {
				t.Fatalf("%d %q, want %d with %q", rec.Code, rec.Body, c.status, c.body)
			}
			for k, v := range map[string]string{"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "41", "X-RateLimit-Reset": "1700000060", "Retry-After": ""} {
				if got := rec.Header().Get(k); got != v {
					t.Fatalf("%s = %q, want %q", k, got, v)
				}
			}
			if name == "success" && (rec.Header().Get("X-Handler") != "1" || len(rec.Header()["Vary"]) != 2) {
				t.Fatalf("handler headers lost: %v", rec.Header())
			}
			if len(l.keys) != 1 || l.keys[0] != channelPrincipal.CredentialID {
				t.Fatalf("limiter keys %v", l.keys)
			}
		})
	}
}
