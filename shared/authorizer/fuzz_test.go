package authorizer

import (
	"strings"
	"testing"
	"unicode"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// withQueryRoute adds a seed 002 style route (token in ?token=) to the table
// for the test; the real table has none yet.
func withQueryRoute(tb testing.TB) (method, resource string) {
	saved := routes.Table
	routes.Table = append(append([]routes.Route(nil), saved...), routes.Route{Method: "POST", Path: "/fuzz/message", Function: "fuzz", Auth: routes.AuthChannelQuery})
	tb.Cleanup(func() { routes.Table = saved })
	return "POST", "/fuzz/message"
}

func hasOuterSpace(s string) bool {
	return s != "" && (unicode.IsSpace([]rune(s)[0]) || unicode.IsSpace([]rune(s)[len([]rune(s))-1]))
}

func TestPresented(t *testing.T) {
	qm, qr := withQueryRoute(t)
	const tok = "ct_abcdefghijklmnopqrstuvwxyz"
	cases := []struct {
		name             string
		method, resource string
		headers          map[string]string
		query            map[string]string
		want             string
	}{
		{"bearer", "GET", "/v1/me", map[string]string{"Authorization": "Bearer " + tok}, nil, tok},
		{"lower-case name and scheme", "GET", "/v1/me", map[string]string{"authorization": "bearer " + tok}, nil, tok},
		{"upper-case scheme", "GET", "/v1/me", map[string]string{"AUTHORIZATION": "BEARER " + tok}, nil, tok},
		{"bare secret", "GET", "/v1/me", map[string]string{"Authorization": tok}, nil, tok},
		{"surrounding space", "GET", "/v1/me", map[string]string{"Authorization": "  Bearer   " + tok + " \t"}, nil, tok},
		{"scheme only", "GET", "/v1/me", map[string]string{"Authorization": "Bearer"}, nil, "Bearer"},
		{"scheme and space only", "GET", "/v1/me", map[string]string{"Authorization": "Bearer   "}, nil, "Bearer"},
		{"other scheme is kept", "GET", "/v1/me", map[string]string{"Authorization": "Basic " + tok}, nil, "Basic " + tok},
		{"no space after the scheme", "GET", "/v1/me", map[string]string{"Authorization": "Bearer" + tok}, nil, "Bearer" + tok},
		{"query token ignored on a header route", "GET", "/v1/me", nil, map[string]string{"token": tok}, ""},
		{"other headers ignored", "GET", "/v1/me", map[string]string{"X-Api-Key": tok, "Cookie": "token=" + tok}, nil, ""},
		{"no headers", "GET", "/v1/me", nil, nil, ""},
		{"unknown route reads the header", "GET", "/nope", map[string]string{"Authorization": "Bearer " + tok}, nil, tok},
		{"method not of the query route reads the header", "GET", qr, map[string]string{"Authorization": "Bearer " + tok}, map[string]string{"token": "q"}, tok},
		{"query route", qm, qr, nil, map[string]string{"token": tok}, tok},
		{"query route ignores the header", qm, qr, map[string]string{"Authorization": "Bearer other"}, map[string]string{"token": tok}, tok},
		{"query route without a token", qm, qr, map[string]string{"Authorization": "Bearer " + tok}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Presented(events.APIGatewayCustomAuthorizerRequestTypeRequest{HTTPMethod: c.method, Resource: c.resource, Headers: c.headers, QueryStringParameters: c.query})
			if got != c.want {
				t.Fatalf("Presented = %q, want %q", got, c.want)
			}
		})
	}
}

// FuzzPresented checks Presented against its contract for one header and
// one query token: on a query-token route the answer is ?token= trimmed and
// the header is never read; elsewhere it is the Authorization header, trimmed
// and without one "Bearer " scheme, and never the query string or another
// header. A value with surrounding space never passes LooksLikeSecret.
func FuzzPresented(f *testing.F) {
	for _, s := range []struct {
		query           bool
		name, value, qt string
	}{
		{false, "Authorization", "Bearer ct_abcdefghijklmnopqrstuvwxyz", ""},
		{false, "authorization", "bearer   ct_abc  ", "ct_q"},
		{false, "AUTHORIZATION", "  sk_abcdefghijklmnopqrstuvwxyz\t", ""},
		{false, "Authorization", "Bearer Bearer x", ""},
		{false, "Authorization", "Bearer", ""},
		{false, "Authorization", "Bearer\u00a0x", ""},
		{false, "X-Api-Key", "Bearer ct_abc", "ct_q"},
		{true, "Authorization", "Bearer ct_header", "ct_query"},
		{true, "Authorization", "", " ct_query "},
		{true, "x", "y", ""},
	} {
		f.Add(s.query, s.name, s.value, s.qt)
	}
	qm, qr := withQueryRoute(f)
	f.Fuzz(func(t *testing.T, queryRoute bool, name, value, queryToken string) {
		req := events.APIGatewayCustomAuthorizerRequestTypeRequest{
			HTTPMethod: "GET", Resource: "/v1/me",
			Headers:               map[string]string{name: value},
			QueryStringParameters: map[string]string{"token": queryToken},
		}
		if queryRoute {
			req.HTTPMethod, req.Resource = qm, qr
		}
		got := Presented(req)

		if hasOuterSpace(got) && tenancy.LooksLikeSecret(got) {
			t.Fatalf("%q has surrounding space and passes LooksLikeSecret", got)
		}

		if queryRoute {
			if got != strings.TrimSpace(queryToken) {
				t.Fatalf("query route: Presented = %q, want the query token %q trimmed", got, queryToken)
			}
			// The header is never read: removing or changing it changes nothing.
			for _, h := range []map[string]string{nil, {"Authorization": "Bearer sk_other_secret_value_123"}, {name: value + "x"}} {
				r2 := req
				r2.Headers = h
				if g := Presented(r2); g != got {
					t.Fatalf("query route read the header: %q then %q", got, g)
				}
			}
			return
		}

		// A header route never reads the query string.
		r2 := req
		r2.QueryStringParameters = map[string]string{"token": queryToken + "x"}
		if g := Presented(r2); g != got {
			t.Fatalf("header route read the query string: %q then %q", got, g)
		}
		if !strings.EqualFold(name, "Authorization") {
			if got != "" {
				t.Fatalf("read header %q: %q", name, got)
			}
			return
		}
		if hasOuterSpace(got) {
			t.Fatalf("Presented(%q) = %q has surrounding space", value, got)
		}
		if !strings.Contains(value, got) {
			t.Fatalf("Presented(%q) = %q is not part of the header", value, got)
		}
		v := strings.TrimSpace(value)
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			if got != strings.TrimSpace(v[7:]) {
				t.Fatalf("Presented(%q) = %q, want the header without its scheme", value, got)
			}
			if len(got) >= 7 && strings.EqualFold(got[:7], "bearer ") && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(v[7:])), "bearer ") {
				t.Fatalf("Presented(%q) = %q kept the Bearer scheme", value, got)
			}
			return
		}
		if got != v {
			t.Fatalf("Presented(%q) = %q, want the trimmed header", value, got)
		}
	})
}

func TestWholeAPI(t *testing.T) {
	cases := []struct{ in, want string }{
		{"arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v1/contact/42", "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*"},
		{"arn:aws:execute-api:us-east-1:1:a/s/POST/test/message", "arn:aws:execute-api:us-east-1:1:a/s/*/*"},
		{"arn:aws:execute-api:us-east-1:1:a/s/GET/", "arn:aws:execute-api:us-east-1:1:a/s/*/*"},
		{"arn:aws:execute-api:us-east-1:1:a/s/GET", "arn:aws:execute-api:us-east-1:1:a/s/*/*"},
		{"arn:aws:execute-api:us-east-1:1:a/s", "arn:aws:execute-api:us-east-1:1:a/s/*/*"},
		{"arn:aws:execute-api:us-east-1:1:a/s/*/*", "arn:aws:execute-api:us-east-1:1:a/s/*/*"},
		// Malformed: no stage. Returned unchanged, so the policy covers that
		// string only, never more.
		{"arn:aws:execute-api:us-east-1:1:a", "arn:aws:execute-api:us-east-1:1:a"},
		{"", ""},
		{"garbage", "garbage"},
		// Malformed: empty stage or API id stays as it was.
		{"arn:aws:execute-api:us-east-1:1:a//GET/x", "arn:aws:execute-api:us-east-1:1:a//*/*"},
		{"/s/GET/x", "/s/*/*"},
		{"a/", "a//*/*"},
	}
	for _, c := range cases {
		if got := WholeAPI(c.in); got != c.want {
			t.Errorf("WholeAPI(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzWholeAPI: the widened ARN keeps the API and stage of the method ARN,
// so one cached answer never reaches another API or stage.
func FuzzWholeAPI(f *testing.F) {
	f.Add("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v1/contact/42")
	f.Add("arn:aws:execute-api:us-east-1:1:a")
	f.Add("a/b")
	f.Add("")
	f.Fuzz(func(t *testing.T, arn string) {
		got := WholeAPI(arn)
		parts := strings.SplitN(arn, "/", 3)
		if len(parts) < 2 {
			if got != arn {
				t.Fatalf("WholeAPI(%q) = %q, want it unchanged", arn, got)
			}
			return
		}
		if !strings.HasSuffix(got, "/*/*") {
			t.Fatalf("WholeAPI(%q) = %q", arn, got)
		}
		gp := strings.SplitN(strings.TrimSuffix(got, "/*/*"), "/", 3)
		if len(gp) != 2 || gp[0] != parts[0] || gp[1] != parts[1] {
			t.Fatalf("WholeAPI(%q) = %q changed the API or stage", arn, got)
		}
	})
}
