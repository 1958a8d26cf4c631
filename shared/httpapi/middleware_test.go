package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/ratelimit"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

var fixedNow = time.Unix(1_700_000_030, 0)

func clock() time.Time { return fixedNow }

// fakeLimiter answers with res (or err) and records the keys it was asked about.
type fakeLimiter struct {
	res  ratelimit.Result
	err  error
	keys []string
}

func (l *fakeLimiter) Hit(_ context.Context, key string) (ratelimit.Result, error) {
	l.keys = append(l.keys, key)
	return l.res, l.err
}

func allowingLimiter() *fakeLimiter {
	return &fakeLimiter{res: ratelimit.Result{Allowed: true, Limit: 100, Remaining: 41, Reset: fixedNow.Add(30 * time.Second)}}
}

var (
	channelPrincipal = httpapi.Principal{Kind: string(tenancy.ChannelToken), TenantID: "ten_a", ChannelID: "ch_b", ChannelKind: tenancy.Viber, CredentialID: "tok_c"}
	accountPrincipal = httpapi.Principal{Kind: string(tenancy.AccountSecret), TenantID: "ten_a", CredentialID: "sec_d"}
	adminPrincipal   = httpapi.Principal{Kind: httpapi.KindAdmin, CredentialID: "local-admin"}
	noPrincipal      = httpapi.Principal{}
)

// sampleIDs are well-formed path IDs of each kind the tests' routes use.
var sampleIDs = map[string]string{"contactId": "100000000000042", "connectionId": "conn_abc", "fieldId": "7", "tenantId": "ten_abc", "channelId": "ch_abc", "tokenId": "tok_abc"}

// serve runs one request through Wrap with p as the caller.
func serve(route routes.Route, l httpapi.RateLimiter, p *httpapi.Principal, h http.Handler) *httptest.ResponseRecorder {
	r := httptest.NewRequest(route.Method, route.Path, nil)
	if p != nil {
		r = r.WithContext(httpapi.WithPrincipal(r.Context(), *p))
	}
	// Well-formed path IDs, as API Gateway would pass them.
	ids := map[string]string{}
	for _, name := range route.PathParams() {
		ids[name] = sampleIDs[name]
	}
	r = r.WithContext(httpapi.WithPathParams(r.Context(), ids))
	rec := httptest.NewRecorder()
	httpapi.Wrap(route, l, clock, h).ServeHTTP(rec, r)
	return rec
}

func okHandler(called *bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*called = true
		httpapi.WriteSuccess(w, "ok")
	})
}

func TestWrapAdmitsCredentialKinds(t *testing.T) {
	const (
		takesChannel = "This endpoint takes a channel API token, not the account secret key."
		takesAccount = "This endpoint takes the account secret key, not a channel API token."
		needsAdmin   = "The admin API needs operator credentials."
	)
	partialChannel := channelPrincipal
	partialChannel.ChannelID = ""
	noTenantChannel := channelPrincipal
	noTenantChannel.TenantID = ""
	noTenantAccount := accountPrincipal
	noTenantAccount.TenantID = ""

	cases := []struct {
		name    string
		auth    routes.Auth
		p       *httpapi.Principal
		status  int
		message string // for refusals
	}{
		{"channel route, channel token", routes.AuthChannel, &channelPrincipal, 200, ""},
		{"channel route, account secret", routes.AuthChannel, &accountPrincipal, 403, takesChannel},
		{"channel route, no principal", routes.AuthChannel, nil, 401, httpapi.MsgInvalidToken},
		{"channel route, zero principal", routes.AuthChannel, &noPrincipal, 401, httpapi.MsgInvalidToken},
		{"channel route, admin", routes.AuthChannel, &adminPrincipal, 401, httpapi.MsgInvalidToken},
		{"channel route, token without channel", routes.AuthChannel, &partialChannel, 401, httpapi.MsgInvalidToken},
		{"channel route, token without tenant", routes.AuthChannel, &noTenantChannel, 401, httpapi.MsgInvalidToken},
		{"query route, channel token", routes.AuthChannelQuery, &channelPrincipal, 200, ""},
		{"query route, account secret", routes.AuthChannelQuery, &accountPrincipal, 403, takesChannel},
		{"query route, no principal", routes.AuthChannelQuery, nil, 401, httpapi.MsgInvalidToken},
		{"account route, account secret", routes.AuthAccount, &accountPrincipal, 200, ""},
		{"account route, channel token", routes.AuthAccount, &channelPrincipal, 403, takesAccount},
		{"account route, no principal", routes.AuthAccount, nil, 401, httpapi.MsgInvalidToken},
		{"account route, admin", routes.AuthAccount, &adminPrincipal, 401, httpapi.MsgInvalidToken},
		{"account route, secret without tenant", routes.AuthAccount, &noTenantAccount, 401, httpapi.MsgInvalidToken},
		{"channel-or-account route, channel token", routes.AuthChannelOrAccount, &channelPrincipal, 200, ""},
		{"channel-or-account route, account secret", routes.AuthChannelOrAccount, &accountPrincipal, 200, ""},
		{"channel-or-account route, no principal", routes.AuthChannelOrAccount, nil, 401, httpapi.MsgInvalidToken},
		{"channel-or-account route, zero principal", routes.AuthChannelOrAccount, &noPrincipal, 401, httpapi.MsgInvalidToken},
		{"channel-or-account route, admin", routes.AuthChannelOrAccount, &adminPrincipal, 401, httpapi.MsgInvalidToken},
		{"channel-or-account route, token without channel", routes.AuthChannelOrAccount, &partialChannel, 401, httpapi.MsgInvalidToken},
		{"channel-or-account route, token without tenant", routes.AuthChannelOrAccount, &noTenantChannel, 401, httpapi.MsgInvalidToken},
		{"channel-or-account route, secret without tenant", routes.AuthChannelOrAccount, &noTenantAccount, 401, httpapi.MsgInvalidToken},
		{"admin route, admin", routes.AuthAdmin, &adminPrincipal, 200, ""},
		{"admin route, no principal", routes.AuthAdmin, nil, 403, needsAdmin},
		{"admin route, channel token", routes.AuthAdmin, &channelPrincipal, 403, needsAdmin},
		{"admin route, account secret", routes.AuthAdmin, &accountPrincipal, 403, needsAdmin},
		{"public route, no principal", routes.AuthNone, nil, 200, ""},
		{"public route, channel token", routes.AuthNone, &channelPrincipal, 200, ""},
		{"unknown auth is a server fault", routes.Auth("bogus"), &channelPrincipal, 500, httpapi.MsgInternal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := allowingLimiter()
			called := false
			rec := serve(routes.Route{Method: "GET", Path: "/v1/x", Function: "x", Auth: c.auth}, l, c.p, okHandler(&called))
			if c.status == 200 {
				if rec.Code != 200 || !called {
					t.Fatalf("status %d, handler called %v: %s", rec.Code, called, rec.Body)
				}
				return
			}
			decodeEnvelope(t, rec, c.status, c.message)
			if called {
				t.Fatal("handler ran for a refused caller")
			}
			if len(l.keys) != 0 {
				t.Fatalf("limiter hit for a refused caller: %v", l.keys)
			}
		})
	}
}

func TestWrapRateLimitHeaders(t *testing.T) {
	handlers := map[string]http.Handler{
		"success": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { httpapi.WriteSuccess(w, "ok") }),
		"404 from the handler": httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return httpapi.ErrNotFound
		}),
		"400 from the handler": httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return httpapi.Errorf(400, "bad")
		}),
		"500 from the handler": httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return errors.New("boom")
		}),
		"handler writes nothing": http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		"handler panics":         http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }),
	}
	for _, auth := range []struct {
		auth routes.Auth
		p    httpapi.Principal
	}{{routes.AuthChannel, channelPrincipal}, {routes.AuthChannelQuery, channelPrincipal}, {routes.AuthAccount, accountPrincipal}, {routes.AuthChannelOrAccount, channelPrincipal}, {routes.AuthChannelOrAccount, accountPrincipal}} {
		for name, h := range handlers {
			t.Run(string(auth.auth)+"/"+auth.p.Kind+"/"+name, func(t *testing.T) {
				l := allowingLimiter()
				rec := serve(routes.Route{Method: "GET", Path: "/v1/x", Function: "x", Auth: auth.auth}, l, &auth.p, h)
				want := map[string]string{"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "41", "X-RateLimit-Reset": "1700000060"}
				for k, v := range want {
					if got := rec.Header().Get(k); got != v {
						t.Fatalf("%s = %q, want %q (status %d)", k, got, v, rec.Code)
					}
				}
				if rec.Header().Get("Retry-After") != "" {
					t.Fatal("Retry-After on an allowed call")
				}
				if len(l.keys) != 1 || l.keys[0] != auth.p.CredentialID {
					t.Fatalf("limiter keys %v, want [%s]", l.keys, auth.p.CredentialID)
				}
			})
		}
	}
}

func TestWrapTooManyRequests(t *testing.T) {
	l := &fakeLimiter{res: ratelimit.Result{Allowed: false, Limit: 100, Remaining: 0, Reset: fixedNow.Add(30 * time.Second)}}
	called := false
	rec := serve(routes.Route{Method: "GET", Path: "/v1/me", Function: "me", Auth: routes.AuthChannel}, l, &channelPrincipal, okHandler(&called))
	decodeEnvelope(t, rec, http.StatusTooManyRequests, httpapi.MsgTooManyRequests)
	if called {
		t.Fatal("handler ran over the limit")
	}
	for k, v := range map[string]string{"Retry-After": "30", "X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000060"} {
		if got := rec.Header().Get(k); got != v {
			t.Fatalf("%s = %q, want %q", k, got, v)
		}
	}

	// A reset already past still asks for at least a second.
	l.res.Reset = fixedNow.Add(-time.Second)
	rec = serve(routes.Route{Method: "GET", Path: "/v1/me", Function: "me", Auth: routes.AuthAccount}, l, &accountPrincipal, okHandler(&called))
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("%d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func TestWrapLimiterFailure(t *testing.T) {
	l := &fakeLimiter{err: errors.New("ProvisionedThroughputExceededException: table RL")}
	called := false
	rec := serve(routes.Route{Method: "GET", Path: "/v1/me", Function: "me", Auth: routes.AuthChannel}, l, &channelPrincipal, okHandler(&called))
	decodeEnvelope(t, rec, http.StatusInternalServerError, httpapi.MsgInternal)
	if called {
		t.Fatal("handler ran without a rate-limit answer")
	}
	if strings.Contains(rec.Body.String(), "Provisioned") {
		t.Fatalf("limiter error leaked: %s", rec.Body)
	}
}

func TestWrapLimiterNotHitForPublicAndAdmin(t *testing.T) {
	for _, c := range []struct {
		auth routes.Auth
		p    *httpapi.Principal
	}{{routes.AuthNone, nil}, {routes.AuthNone, &channelPrincipal}, {routes.AuthAdmin, &adminPrincipal}} {
		t.Run(string(c.auth), func(t *testing.T) {
			// A limiter that would refuse and fail: it must not be asked.
			l := &fakeLimiter{err: errors.New("must not be called")}
			called := false
			rec := serve(routes.Route{Method: "GET", Path: "/x", Function: "x", Auth: c.auth}, l, c.p, okHandler(&called))
			if rec.Code != 200 || !called || len(l.keys) != 0 {
				t.Fatalf("status %d, called %v, limiter keys %v", rec.Code, called, l.keys)
			}
			if rec.Header().Get("X-RateLimit-Limit") != "" {
				t.Fatal("rate-limit headers on a route without a limit")
			}
		})
	}
	// A nil limiter is fine for these routes too.
	called := false
	rec := serve(routes.Route{Method: "GET", Path: "/x", Function: "x", Auth: routes.AuthAdmin}, nil, &adminPrincipal, okHandler(&called))
	if rec.Code != 200 || !called {
		t.Fatalf("nil limiter: %d", rec.Code)
	}
}

func TestWrapPanic(t *testing.T) {
	for _, auth := range []routes.Auth{routes.AuthNone, routes.AuthChannel} {
		t.Run(string(auth), func(t *testing.T) {
			rec := serve(routes.Route{Method: "GET", Path: "/x", Function: "x", Auth: auth}, allowingLimiter(), &channelPrincipal,
				http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(errors.New("nil map: secret detail")) }))
			decodeEnvelope(t, rec, http.StatusInternalServerError, httpapi.MsgInternal)
			if strings.Contains(rec.Body.String(), "secret detail") {
				t.Fatalf("panic value leaked: %s", rec.Body)
			}
		})
	}
	t.Run("after the handler wrote", func(t *testing.T) {
		rec := serve(routes.Route{Method: "GET", Path: "/x", Function: "x", Auth: routes.AuthNone}, nil, nil,
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				_, _ = w.Write([]byte("partial"))
				panic("late")
			}))
		if rec.Code != http.StatusAccepted || rec.Body.String() != "partial" {
			t.Fatalf("a panic after the response started must not write again: %d %q", rec.Code, rec.Body)
		}
	})
}

// TestWrapLogLine: one JSON log line per request with route, tenant and the
// status written.
func TestWrapLogLine(t *testing.T) {
	var buf bytes.Buffer
	saved := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(saved) })

	rec := serve(routes.Route{Method: "GET", Path: "/v1/me", Function: "me", Auth: routes.AuthChannel}, allowingLimiter(), &channelPrincipal,
		httpapi.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return httpapi.ErrNotFound }))
	if rec.Code != 404 {
		t.Fatalf("status %d", rec.Code)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var requestLines []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "request" {
			requestLines = append(requestLines, m)
		}
	}
	if len(requestLines) != 1 {
		t.Fatalf("want one request line, got %q", buf.String())
	}
	m := requestLines[0]
	if m["route"] != "me" || m["tenant"] != "ten_a" || m["channel"] != "ch_b" || m["status"] != float64(404) || m["path"] != "/v1/me" {
		t.Fatalf("log line %v", m)
	}
}
