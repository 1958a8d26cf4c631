package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

// TestRevocationTakesEffectAtOnce runs with the authorizer cache on, as
// make run and API Gateway do (300 s): revoking a token or rotating an
// account secret flushes it, so the old credential is refused on its very
// next call.
func TestRevocationTakesEffectAtOnce(t *testing.T) {
	s := stacktest.NewWith(t, stacktest.Options{AuthCacheTTL: 300 * time.Second})
	a := s.NewTenant("A", "messenger")
	tokens := "/admin/tenants/" + a.ID + "/channels/" + a.ChannelID + "/tokens"
	r := s.Admin("POST", tokens, map[string]any{"name": "second"})
	second, secondID := stacktest.Path(r.JSON, "data.token").(string), stacktest.Path(r.JSON, "data.id").(string)
	r = s.Admin("POST", tokens, map[string]any{"name": "third"})
	third, thirdID := stacktest.Path(r.JSON, "data.token").(string), stacktest.Path(r.JSON, "data.id").(string)
	for _, tok := range []string{a.Token, second, third} {
		if r := s.Do("GET", "/v1/me", "Bearer "+tok, nil); r.Status != http.StatusOK {
			t.Fatalf("me: %d %s", r.Status, r.Body)
		}
	}
	// The cache is on: a token removed behind the admin API's back (no
	// flush) keeps working from its cached answer.
	if err := s.Deps.Tenancy().RevokeToken(context.Background(), a.ID, a.ChannelID, thirdID); err != nil {
		t.Fatal(err)
	}
	if r := s.Do("GET", "/v1/me", "Bearer "+third, nil); r.Status != http.StatusOK {
		t.Fatalf("the authorizer cache is not on: %d", r.Status)
	}

	// Revoked through the admin API: refused on the next call.
	r = s.Admin("DELETE", tokens+"/"+secondID, nil)
	if r.Status != http.StatusOK || r.JSON["message"] != "Token revoked." {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	envelopeError(t, s.Do("GET", "/v1/me", "Bearer "+second, nil), 401, "API Token is invalid.")
	envelopeError(t, s.Do("GET", "/v1/me", "Bearer "+third, nil), 401, "API Token is invalid.")
	if r := s.Do("GET", "/v1/me", "Bearer "+a.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("a token not revoked: %d %s", r.Status, r.Body)
	}

	// The account secret: cached by a call, rotated, refused next.
	actions := `[{"type":"SEARCH","Fname":"nobody"}]`
	if r := s.Do("POST", "/v1/actions", a.Secret, actions); r.Status != http.StatusOK {
		t.Fatalf("actions: %d %s", r.Status, r.Body)
	}
	r = s.Admin("POST", "/admin/tenants/"+a.ID+"/secret", nil)
	fresh, _ := stacktest.Path(r.JSON, "data.account_secret").(string)
	if r.Status != http.StatusOK || !strings.HasPrefix(fresh, "sk_") {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	envelopeError(t, s.Do("POST", "/v1/actions", a.Secret, actions), 401, "API Token is invalid.")
	if r := s.Do("POST", "/v1/actions", fresh, actions); r.Status != http.StatusOK {
		t.Fatalf("new secret: %d %s", r.Status, r.Body)
	}
}

// TestPerAddressLimit: 600 wrong tokens from one address are not 600
// answers of 401: after the limit the address gets 429 with Retry-After,
// its good token included, until the window ends.
func TestPerAddressLimit(t *testing.T) {
	const limit = 50
	s := stacktest.NewWith(t, stacktest.Options{IPLimit: limit, IPWindow: time.Minute})
	a := s.NewTenant("A", "sms")
	counts := map[int]int{}
	for i := range 600 {
		r := s.Do("GET", "/v1/me", "Bearer ct_wrong_"+strings.Repeat("x", i%7), nil)
		counts[r.Status]++
		if r.Status == http.StatusTooManyRequests {
			envelopeError(t, r, 429, "Too many requests")
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
	}
	if counts[401] != limit || counts[429] != 600-limit {
		t.Fatalf("answers %v, want %d × 401 then 429", counts, limit)
	}
	envelopeError(t, s.Do("GET", "/v1/me", "Bearer "+a.Token, nil), 429, "Too many requests")
	envelopeError(t, s.Do("GET", "/openapi.json", "", nil), 429, "Too many requests")
	s.Clock.Add(time.Minute)
	if r := s.Do("GET", "/v1/me", "Bearer "+a.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("next window: %d %s", r.Status, r.Body)
	}
}
