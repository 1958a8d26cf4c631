package gateway

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// newLimitedGateway is newTestGateway with the per-address limit on.
func newLimitedGateway(t *testing.T, limit int, cacheTTL time.Duration) *testGateway {
	t.Helper()
	tg := newTestGateway(t, cacheTTL)
	cfg := tg.cfg
	cfg.IPLimit, cfg.IPWindow = limit, time.Minute
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tg.Gateway = g
	return tg
}

// from sends a request from the given source address.
func (tg *testGateway) from(addr, method, target, auth string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, bytes.NewReader(nil))
	r.RemoteAddr = addr + ":40000"
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	tg.ServeHTTP(rec, r)
	return rec
}

func wantLimited(t *testing.T, rec *httptest.ResponseRecorder, retryAfter string) {
	t.Helper()
	wantEnvelope(t, rec, http.StatusTooManyRequests, "Too many requests")
	if got := rec.Header().Get("Retry-After"); got != retryAfter {
		t.Fatalf("Retry-After %q, want %q", got, retryAfter)
	}
}

func TestUnitPerAddressLimitOnFailedAuth(t *testing.T) {
	tg := newLimitedGateway(t, 3, 0)
	for i := range 3 {
		wantEnvelope(t, tg.from("192.0.2.1", "GET", "/v1/chan", "Bearer bad-"+string(rune('a'+i))), 401, "API Token is invalid.")
	}
	tg.now = tg.now.Add(20 * time.Second)
	wantLimited(t, tg.from("192.0.2.1", "GET", "/v1/chan", "Bearer bad-d"), "40")
	if len(tg.authz.calls) != 3 {
		t.Fatalf("the authorizer ran %d times; a limited call must not reach it", len(tg.authz.calls))
	}
	// Every call of the address waits, a good credential's too.
	wantLimited(t, tg.from("192.0.2.1", "GET", "/v1/chan", "Bearer good"), "40")
	// Another address has its own budget.
	if rec := tg.from("192.0.2.2", "GET", "/v1/chan", "Bearer good"); rec.Code != 200 {
		t.Fatalf("other address: %d", rec.Code)
	}
	// Wrong-kind answers (403) and no credential (401) count as failures.
	wantEnvelope(t, tg.from("192.0.2.2", "GET", "/v1/chan", "Bearer deny"), 403, "Forbidden.")
	wantEnvelope(t, tg.from("192.0.2.2", "GET", "/v1/chan", ""), 401, "API Token is invalid.")
	wantEnvelope(t, tg.from("192.0.2.2", "GET", "/admin/thing", "Bearer not-the-key"), 403, "Forbidden.")
	wantLimited(t, tg.from("192.0.2.2", "GET", "/v1/chan", "Bearer good"), "60")
	// The next window starts afresh.
	tg.now = tg.now.Add(40 * time.Second)
	if rec := tg.from("192.0.2.1", "GET", "/v1/chan", "Bearer good"); rec.Code != 200 {
		t.Fatalf("next window: %d %s", rec.Code, rec.Body)
	}
}

func TestUnitPerAddressLimitOnUnauthenticatedCalls(t *testing.T) {
	tg := newLimitedGateway(t, 4, 0)
	// Successful authenticated calls are not counted.
	for range 10 {
		if rec := tg.from("192.0.2.1", "GET", "/v1/chan", "Bearer good"); rec.Code != 200 {
			t.Fatalf("%d", rec.Code)
		}
	}
	// Routes without auth are, and so are calls that match no route.
	for _, target := range []string{"/v1/me", "/v1/me", "/nothing", "/v1/me"} {
		if rec := tg.from("192.0.2.1", "GET", target, ""); rec.Code == http.StatusTooManyRequests {
			t.Fatalf("%s limited early", target)
		}
	}
	wantLimited(t, tg.from("192.0.2.1", "GET", "/v1/me", ""), "60")
	if tg.handlers["me"].calls != 3 {
		t.Fatalf("me ran %d times", tg.handlers["me"].calls)
	}
}

func TestUnitPerAddressLimitOff(t *testing.T) {
	tg := newTestGateway(t, 0)
	for range 600 {
		if rec := tg.from("192.0.2.1", "GET", "/v1/chan", "Bearer bad"); rec.Code != 401 {
			t.Fatalf("%d", rec.Code)
		}
	}
}

func TestUnitAuthCacheFlush(t *testing.T) {
	tg := newTestGateway(t, 300*time.Second)
	hdr := http.Header{"Authorization": {"Bearer good-1"}}
	tg.do("GET", "/v1/chan", nil, hdr)
	tg.do("GET", "/v1/chan", nil, hdr)
	if len(tg.authz.calls) != 1 || tg.cache.Len() != 1 {
		t.Fatalf("calls %d, cached %d", len(tg.authz.calls), tg.cache.Len())
	}
	if err := tg.FlushAuthorizerCache(context.Background()); err != nil || tg.cache.Len() != 0 {
		t.Fatalf("flush: %v, %d left", err, tg.cache.Len())
	}
	tg.do("GET", "/v1/chan", nil, hdr)
	if len(tg.authz.calls) != 2 {
		t.Fatalf("after a flush the authorizer must run again: %d calls", len(tg.authz.calls))
	}
	// API Gateway's flush call, as the AWS SDK sends it (make invoke).
	rec := tg.do("DELETE", "/restapis/local/stages/local/cache/authorizers", nil, nil)
	if rec.Code != http.StatusAccepted || tg.cache.Len() != 0 {
		t.Fatalf("flush call: %d, %d left", rec.Code, tg.cache.Len())
	}
	// Another API's or stage's cache is not this one.
	if rec := tg.do("DELETE", "/restapis/other/stages/local/cache/authorizers", nil, nil); rec.Code != http.StatusNotFound {
		t.Fatalf("other API: %d", rec.Code)
	}
}
