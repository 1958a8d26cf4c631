package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/authorizer"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/routes"
)

func TestUnitMatchPath(t *testing.T) {
	segs := func(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }
	cases := []struct {
		tmpl, path string
		ok         bool
		params     map[string]string
	}{
		{"/v1/me", "/v1/me", true, nil},
		{"/v1/me", "/v1/me/", true, nil},
		{"/v1/me", "v1/me", true, nil},
		{"/v1/me", "/v1/you", false, nil},
		{"/v1/me", "/v1/me/x", false, nil},
		{"/v1/me", "/v1", false, nil},
		{"/v1/me", "/V1/ME", false, nil},
		{"/v1/contact/{contactId}", "/v1/contact/42", true, map[string]string{"contactId": "42"}},
		{"/v1/contact/{contactId}", "/v1/contact/42/", true, map[string]string{"contactId": "42"}},
		{"/v1/contact/{contactId}", "/v1/contact/", false, nil},
		{"/v1/contact/{contactId}", "/v1/contact//", false, nil},
		{"/v1/contact/{contactId}", "/v1/contact/a/b", false, nil},
		{"/v1/contact/{contactId}", "/v1/contacts/42", false, nil},
		{"/a/{x}/b/{y}", "/a/1/b/2", true, map[string]string{"x": "1", "y": "2"}},
		{"/a/{x}/b/{y}", "/a/1/c/2", false, nil},
		{"/a/{x}/b/{y}", "/a//b/2", false, nil},
		{"/", "/", true, nil},
		{"/", "", true, nil},
		{"/v1/me", "/", false, nil},
	}
	for _, c := range cases {
		p, ok := matchPath(c.tmpl, segs(c.path))
		if ok != c.ok || (ok && !reflect.DeepEqual(p, c.params)) {
			t.Errorf("matchPath(%q, %q) = %v, %v; want %v, %v", c.tmpl, c.path, p, ok, c.params, c.ok)
		}
	}
}

func TestUnitWildcardMatch(t *testing.T) {
	const arn = "arn:aws:execute-api:us-east-1:000000000000:local/local/GET/v1/me"
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{arn, arn, true},
		{arn, arn + "x", false},
		{arn + "x", arn, false},
		{"*", arn, true},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"arn:aws:execute-api:us-east-1:000000000000:local/local/*/*", arn, true},
		{"arn:aws:execute-api:us-east-1:000000000000:local/local/*", arn, true},
		{"arn:aws:execute-api:us-east-1:000000000000:local/other/*/*", arn, false},
		{"arn:aws:execute-api:us-east-1:000000000000:local/local/POST/*", arn, false},
		{"arn:aws:execute-api:*:*:local/local/GET/v1/me", arn, true},
		{"*/GET/v1/me", arn, true},
		{"*/GET/v1/you", arn, false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "ac", false},
		{"ab*b", "ab", false},
		{"a*a", "a", false},
		{"a*", "a", true},
		{"*a", "a", true},
		{"**", "", true},
		{"a**b", "ab", true},
		{"*b*", "abc", true},
		{"*x*", "abc", false},
		{"a*bc*bc", "abcbc", true},
		{"a*bc*bc", "abc", false},
	}
	for _, c := range cases {
		if got := wildcardMatch(c.pattern, c.s); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

// FuzzWildcardMatch compares wildcardMatch with a regular expression in
// which * is .* and everything else is literal.
func FuzzWildcardMatch(f *testing.F) {
	f.Add("arn:aws:execute-api:us-east-1:0:local/local/*/*", "arn:aws:execute-api:us-east-1:0:local/local/GET/v1/me")
	f.Add("a*b*c", "abc")
	f.Add("ab*b", "ab")
	f.Add("*", "")
	f.Add("a*bc*bc", "abcbc")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		parts := strings.Split(pattern, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re, err := regexp.Compile(`(?s)\A` + strings.Join(parts, ".*") + `\z`)
		if err != nil {
			return // no reference to compare with
		}
		// The regexp works on runes; compare on valid UTF-8 only.
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return
		}
		if got, want := wildcardMatch(pattern, s), re.MatchString(s); got != want {
			t.Fatalf("wildcardMatch(%q, %q) = %v, want %v", pattern, s, got, want)
		}
	})
}

func TestUnitAllows(t *testing.T) {
	const arn = "arn:aws:execute-api:us-east-1:000000000000:local/local/GET/v1/me"
	st := func(effect string, res ...string) events.IAMPolicyStatement {
		return events.IAMPolicyStatement{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: res}
	}
	doc := func(sts ...events.IAMPolicyStatement) events.APIGatewayCustomAuthorizerPolicy {
		return events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: sts}
	}
	cases := []struct {
		name string
		doc  events.APIGatewayCustomAuthorizerPolicy
		want bool
	}{
		{"empty policy denies", doc(), false},
		{"exact allow", doc(st("Allow", arn)), true},
		{"whole API allow", doc(st("Allow", authorizer.WholeAPI(arn))), true},
		{"allow of another method", doc(st("Allow", "arn:aws:execute-api:us-east-1:000000000000:local/local/POST/v1/me")), false},
		{"allow of another stage", doc(st("Allow", "arn:aws:execute-api:us-east-1:000000000000:local/prod/*/*")), false},
		{"allow without resources", doc(st("Allow")), false},
		{"deny alone", doc(st("Deny", arn)), false},
		{"deny wins over an earlier allow", doc(st("Allow", "*"), st("Deny", arn)), false},
		{"deny wins over a later allow", doc(st("Deny", "*/GET/*"), st("Allow", arn)), false},
		{"deny of another path does not block", doc(st("Allow", "*"), st("Deny", "*/GET/v1/contact/*")), true},
		{"one matching resource among several", doc(st("Allow", "x", arn, "y")), true},
		{"unknown effect neither allows nor denies", doc(st("allow", arn)), false},
		{"unknown effect next to an allow", doc(st("Maybe", arn), st("Allow", arn)), true},
	}
	for _, c := range cases {
		if got := allows(c.doc, arn); got != c.want {
			t.Errorf("%s: allows = %v, want %v", c.name, got, c.want)
		}
	}
}

// recordingHandler answers 200 with the function name and keeps the last event.
type recordingHandler struct {
	name  string
	calls int
	last  events.APIGatewayProxyRequest
	res   events.APIGatewayProxyResponse
	err   error
}

func (h *recordingHandler) handle(_ context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	h.calls++
	h.last = ev
	if h.err != nil || h.res.StatusCode != 0 {
		return h.res, h.err
	}
	return events.APIGatewayProxyResponse{StatusCode: 200, Body: h.name}, nil
}

var testRoutes = []routes.Route{
	{Method: "GET", Path: "/v1/me", Function: "me", Auth: routes.AuthNone},
	{Method: "GET", Path: "/v1/contact/{contactId}", Function: "contact-get", Auth: routes.AuthNone},
	{Method: "GET", Path: "/v1/contact/by_custom_field", Function: "contact-search", Auth: routes.AuthNone},
	{Method: "DELETE", Path: "/v1/contact/{contactId}", Function: "contact-delete", Auth: routes.AuthNone},
	{Method: "POST", Path: "/v1/contact", Function: "contact-create", Auth: routes.AuthNone},
	{Method: "GET", Path: "/v1/tagged/{tag}/contacts/{contactId}", Function: "tagged", Auth: routes.AuthNone},
	{Method: "GET", Path: "/v1/chan", Function: "chan", Auth: routes.AuthChannel},
	{Method: "GET", Path: "/v1/acct", Function: "acct", Auth: routes.AuthAccount},
	{Method: "POST", Path: "/v1/query", Function: "query", Auth: routes.AuthChannelQuery},
	{Method: "GET", Path: "/admin/thing", Function: "admin-thing", Auth: routes.AuthAdmin},
}

// fakeAuthorizer allows the whole API for "good..." identities, refuses
// "bad...", fails on "fail...", and answers with a Deny for "deny...".
type fakeAuthorizer struct {
	calls []events.APIGatewayCustomAuthorizerRequestTypeRequest
}

func (a *fakeAuthorizer) handle(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	a.calls = append(a.calls, req)
	secret := authorizer.Presented(req)
	effect := "Allow"
	switch {
	case strings.HasPrefix(secret, "bad"):
		return events.APIGatewayCustomAuthorizerResponse{}, authorizer.ErrUnauthorized
	case strings.HasPrefix(secret, "fail"):
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("lookup: throttled")
	case strings.HasPrefix(secret, "deny"):
		effect = "Deny"
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: "tok_1",
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
			{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{authorizer.WholeAPI(req.MethodArn)}},
		}},
		Context: map[string]any{httpapi.AuthCtxTenantID: "ten_a", httpapi.AuthCtxKind: "channel"},
	}, nil
}

type testGateway struct {
	*Gateway
	handlers map[string]*recordingHandler
	authz    *fakeAuthorizer
	now      time.Time
}

func newTestGateway(t *testing.T, cacheTTL time.Duration) *testGateway {
	t.Helper()
	tg := &testGateway{handlers: map[string]*recordingHandler{}, authz: &fakeAuthorizer{}, now: time.Unix(1_700_000_000, 0)}
	hs := map[string]APIHandler{}
	for _, r := range testRoutes {
		h := &recordingHandler{name: r.Function}
		tg.handlers[r.Function] = h
		hs[r.Function] = h.handle
	}
	g, err := New(Config{
		Routes: testRoutes, Handlers: hs, Authorizer: tg.authz.handle, AdminKey: "admin-secret",
		CacheTTL: cacheTTL, Prefixes: []string{"/api"}, Now: func() time.Time { return tg.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	tg.Gateway = g
	return tg
}

func (tg *testGateway) do(method, target string, body []byte, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	for k, vs := range header {
		r.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	tg.ServeHTTP(rec, r)
	return rec
}

func wantEnvelope(t *testing.T, rec *httptest.ResponseRecorder, status int, message string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != string(httpapi.ErrorBody(message)) {
		t.Fatalf("answer %q %s, want the envelope with %q", rec.Header().Get("Content-Type"), rec.Body, message)
	}
}

func TestUnitNewNeedsEveryHandler(t *testing.T) {
	_, err := New(Config{Routes: testRoutes, Handlers: map[string]APIHandler{}})
	if err == nil || !strings.Contains(err.Error(), "GET /v1/me") {
		t.Fatalf("err = %v", err)
	}
	g, err := New(Config{})
	if err != nil || g.cfg.Now == nil {
		t.Fatalf("empty config: %v", err)
	}
}

func TestUnitRouting(t *testing.T) {
	cases := []struct {
		method, target string
		status         int
		function       string // handler expected to run
		message        string // envelope message for refusals
	}{
		{"GET", "/v1/me", 200, "me", ""},
		{"GET", "/v1/me/", 200, "me", ""},
		{"GET", "/v1/me?x=1", 200, "me", ""},
		{"GET", "/api/v1/me", 200, "me", ""},
		{"GET", "/api/v1/me/", 200, "me", ""},
		{"GET", "/apix/v1/me", 404, "", httpapi.MsgNotFound},
		{"GET", "/api", 404, "", httpapi.MsgNotFound},
		{"GET", "/api/", 404, "", httpapi.MsgNotFound},
		{"GET", "/api/api/v1/me", 404, "", httpapi.MsgNotFound},
		{"GET", "/v1/api/v1/me", 404, "", httpapi.MsgNotFound},
		{"GET", "/", 404, "", httpapi.MsgNotFound},
		{"GET", "/v1/nope", 404, "", httpapi.MsgNotFound},
		{"GET", "/V1/ME", 404, "", httpapi.MsgNotFound},
		{"POST", "/v1/me", 405, "", httpapi.MsgMethodNotAllowed},
		{"POST", "/api/v1/me", 405, "", httpapi.MsgMethodNotAllowed},
		{"HEAD", "/v1/me", 405, "", httpapi.MsgMethodNotAllowed},
		{"get", "/v1/me", 405, "", httpapi.MsgMethodNotAllowed},
		{"GET", "/v1/contact/42", 200, "contact-get", ""},
		{"DELETE", "/v1/contact/42", 200, "contact-delete", ""},
		{"PUT", "/v1/contact/42", 405, "", httpapi.MsgMethodNotAllowed},
		{"GET", "/v1/contact", 405, "", httpapi.MsgMethodNotAllowed},
		{"POST", "/v1/contact", 200, "contact-create", ""},
		{"POST", "/v1/contact/", 200, "contact-create", ""},
		{"GET", "/v1/contact/42/x", 404, "", httpapi.MsgNotFound},
		{"GET", "/v1/tagged/vip/contacts/7", 200, "tagged", ""},
		// A literal segment beats a {parameter}, whatever the table order.
		{"GET", "/v1/contact/by_custom_field", 200, "contact-search", ""},
		{"GET", "/v1/contact/by_custom_field/", 200, "contact-search", ""},
		{"GET", "/v1/contact/by_custom_fieldx", 200, "contact-get", ""},
		// The literal resource has GET only: other methods are 405, not the
		// {contactId} resource's DELETE.
		{"DELETE", "/v1/contact/by_custom_field", 405, "", httpapi.MsgMethodNotAllowed},
		{"PUT", "/v1/contact/by_custom_field", 405, "", httpapi.MsgMethodNotAllowed},
		{"GET", "/v1/tagged//contacts/7", 404, "", httpapi.MsgNotFound},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.target, func(t *testing.T) {
			tg := newTestGateway(t, 0)
			rec := tg.do(c.method, c.target, nil, nil)
			if c.function == "" {
				wantEnvelope(t, rec, c.status, c.message)
				for name, h := range tg.handlers {
					if h.calls != 0 {
						t.Fatalf("%s ran", name)
					}
				}
				return
			}
			if rec.Code != c.status || rec.Body.String() != c.function {
				t.Fatalf("%d %q, want %d from %s", rec.Code, rec.Body, c.status, c.function)
			}
			if h := tg.handlers[c.function]; h.calls != 1 {
				t.Fatalf("%s ran %d times", c.function, h.calls)
			}
		})
	}
}

func TestUnitEventFromPrefixedPath(t *testing.T) {
	tg := newTestGateway(t, 0)
	if rec := tg.do("GET", "/api/v1/tagged/vip/contacts/7?x=1", nil, nil); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	ev := tg.handlers["tagged"].last
	if ev.Path != "/v1/tagged/vip/contacts/7" || ev.Resource != "/v1/tagged/{tag}/contacts/{contactId}" ||
		ev.RequestContext.Path != "/api/v1/tagged/vip/contacts/7" || ev.RequestContext.ResourcePath != ev.Resource {
		t.Fatalf("path %q resource %q context path %q", ev.Path, ev.Resource, ev.RequestContext.Path)
	}
	if !reflect.DeepEqual(ev.PathParameters, map[string]string{"tag": "vip", "contactId": "7"}) {
		t.Fatalf("path parameters %v", ev.PathParameters)
	}
}

func TestUnitEvent(t *testing.T) {
	g, err := New(Config{Now: func() time.Time { return time.Date(2024, 3, 5, 7, 8, 9, 0, time.FixedZone("x", 3600)) }})
	if err != nil {
		t.Fatal(err)
	}
	route := routes.Route{Method: "POST", Path: "/v1/contact/{contactId}", Function: "contact-update"}
	build := func(target string, body []byte, header http.Header) events.APIGatewayProxyRequest {
		r := httptest.NewRequest("POST", target, bytes.NewReader(body))
		r.Host = "api.example.test:8080"
		r.RemoteAddr = "203.0.113.9:51234"
		for k, vs := range header {
			r.Header[k] = vs
		}
		return g.event(r, "/v1/contact/42", route, map[string]string{"contactId": "42"}, body)
	}

	ev := build("/api/v1/contact/42?a=1&a=2&b=&c=x%20y", []byte(`{"name":"é"}`), http.Header{
		"X-Multi":      {"one", "two"},
		"Content-Type": {"application/json"},
		"User-Agent":   {"zapier/1"},
	})
	if ev.HTTPMethod != "POST" || ev.Path != "/v1/contact/42" || ev.Resource != route.Path {
		t.Fatalf("method %q path %q resource %q", ev.HTTPMethod, ev.Path, ev.Resource)
	}
	if ev.Headers["X-Multi"] != "two" || !reflect.DeepEqual(ev.MultiValueHeaders["X-Multi"], []string{"one", "two"}) {
		t.Fatalf("multi-value header: %q / %q", ev.Headers["X-Multi"], ev.MultiValueHeaders["X-Multi"])
	}
	if ev.Headers["Host"] != "api.example.test:8080" || !reflect.DeepEqual(ev.MultiValueHeaders["Host"], []string{"api.example.test:8080"}) {
		t.Fatalf("Host: %q / %q", ev.Headers["Host"], ev.MultiValueHeaders["Host"])
	}
	if ev.Headers["Content-Type"] != "application/json" {
		t.Fatalf("headers %v", ev.Headers)
	}
	wantQS := map[string]string{"a": "2", "b": "", "c": "x y"}
	wantMVQ := map[string][]string{"a": {"1", "2"}, "b": {""}, "c": {"x y"}}
	if !reflect.DeepEqual(ev.QueryStringParameters, wantQS) || !reflect.DeepEqual(ev.MultiValueQueryStringParameters, wantMVQ) {
		t.Fatalf("query %v / %v", ev.QueryStringParameters, ev.MultiValueQueryStringParameters)
	}
	if !reflect.DeepEqual(ev.PathParameters, map[string]string{"contactId": "42"}) {
		t.Fatalf("path parameters %v", ev.PathParameters)
	}
	if ev.Body != `{"name":"é"}` || ev.IsBase64Encoded {
		t.Fatalf("UTF-8 body %q base64 %v", ev.Body, ev.IsBase64Encoded)
	}
	rc := ev.RequestContext
	if rc.Stage != "local" || rc.APIID != "local" || rc.AccountID != "000000000000" || rc.ResourceID != "contact-update" ||
		rc.ResourcePath != route.Path || rc.Path != "/api/v1/contact/42" || rc.HTTPMethod != "POST" || rc.DomainName != "api.example.test:8080" {
		t.Fatalf("request context %+v", rc)
	}
	if rc.Identity.SourceIP != "203.0.113.9" || rc.Identity.UserAgent != "zapier/1" {
		t.Fatalf("identity %+v", rc.Identity)
	}
	if rc.RequestTime != "05/Mar/2024:06:08:09 +0000" || rc.RequestTimeEpoch != time.Date(2024, 3, 5, 6, 8, 9, 0, time.UTC).UnixMilli() {
		t.Fatalf("request time %q %d", rc.RequestTime, rc.RequestTimeEpoch)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(rc.RequestID) {
		t.Fatalf("request id %q", rc.RequestID)
	}
	if other := build("/v1/contact/42", nil, nil); other.RequestContext.RequestID == rc.RequestID {
		t.Fatal("request ids repeat")
	}

	// Binary bodies are base64 encoded; empty ones are plain.
	bin := []byte{0xff, 0xfe, 0x00, 'a'}
	ev = build("/v1/contact/42", bin, nil)
	if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString(bin) {
		t.Fatalf("binary body %q base64 %v", ev.Body, ev.IsBase64Encoded)
	}
	ev = build("/v1/contact/42", nil, nil)
	if ev.IsBase64Encoded || ev.Body != "" {
		t.Fatalf("empty body %q base64 %v", ev.Body, ev.IsBase64Encoded)
	}
	if ev.QueryStringParameters != nil || ev.MultiValueQueryStringParameters != nil {
		t.Fatalf("no query string must be null, as in API Gateway: %v", ev.QueryStringParameters)
	}

	// Remote address without a port is used as it is.
	r := httptest.NewRequest("GET", "/v1/me", nil)
	r.RemoteAddr = "unix-socket"
	if ev := g.event(r, "/v1/me", route, nil, nil); ev.RequestContext.Identity.SourceIP != "unix-socket" {
		t.Fatalf("source ip %q", ev.RequestContext.Identity.SourceIP)
	}
}

func TestUnitProxyResponse(t *testing.T) {
	cases := []struct {
		name   string
		res    events.APIGatewayProxyResponse
		status int
		body   string
		header http.Header
	}{
		{"plain", events.APIGatewayProxyResponse{StatusCode: 201, Body: `{"a":1}`, Headers: map[string]string{"Content-Type": "application/json"}},
			201, `{"a":1}`, http.Header{"Content-Type": {"application/json"}}},
		{"status 0 is 200", events.APIGatewayProxyResponse{Body: "x"}, 200, "x", nil},
		{"multi-value headers win", events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Set-Cookie": "single", "X-A": "a"},
			MultiValueHeaders: map[string][]string{"Set-Cookie": {"one", "two"}}}, 200, "", http.Header{"Set-Cookie": {"one", "two"}, "X-A": {"a"}}},
		{"base64 body", events.APIGatewayProxyResponse{StatusCode: 200, Body: base64.StdEncoding.EncodeToString([]byte{0xff, 0x00}), IsBase64Encoded: true},
			200, "\xff\x00", nil},
		{"bad base64 is a 502", events.APIGatewayProxyResponse{StatusCode: 200, Body: "!!!", IsBase64Encoded: true}, 502, string(httpapi.ErrorBody("Internal server error.")), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeProxyResponse(rec, c.res, "", -1)
			if rec.Code != c.status || rec.Body.String() != c.body {
				t.Fatalf("%d %q, want %d %q", rec.Code, rec.Body, c.status, c.body)
			}
			for k, vs := range c.header {
				if got := rec.Header().Values(k); !reflect.DeepEqual(got, vs) {
					t.Fatalf("%s = %q, want %q", k, got, vs)
				}
			}
		})
	}
}

func TestUnitFunctionErrorIs502(t *testing.T) {
	tg := newTestGateway(t, 0)
	tg.handlers["me"].err = errors.New("handler returned an error")
	wantEnvelope(t, tg.do("GET", "/v1/me", nil, nil), http.StatusBadGateway, "Internal server error.")
}

func TestUnitBodyLimit(t *testing.T) {
	tg := newTestGateway(t, 0)
	rec := tg.do("POST", "/v1/contact", bytes.Repeat([]byte("a"), MaxPayload), nil)
	if rec.Code != 200 || len(tg.handlers["contact-create"].last.Body) != MaxPayload {
		t.Fatalf("10 MB body: %d", rec.Code)
	}
	rec = tg.do("POST", "/v1/contact", bytes.Repeat([]byte("a"), MaxPayload+1), nil)
	if rec.Code != http.StatusRequestEntityTooLarge || tg.handlers["contact-create"].calls != 1 {
		t.Fatalf("10 MB + 1 body: %d", rec.Code)
	}
}

func TestUnitAdminKey(t *testing.T) {
	cases := []struct {
		auth string
		ok   bool
	}{
		{"Bearer admin-secret", true},
		{"bearer admin-secret", true},
		{"admin-secret", true},
		{"  Bearer   admin-secret  ", true},
		{"", false},
		{"Bearer admin-secre", false},
		{"Bearer admin-secretx", false},
		{"Basic admin-secret", false},
	}
	for _, c := range cases {
		t.Run(c.auth, func(t *testing.T) {
			tg := newTestGateway(t, 0)
			rec := tg.do("GET", "/admin/thing", nil, http.Header{"Authorization": {c.auth}})
			if !c.ok {
				wantEnvelope(t, rec, http.StatusForbidden, "Forbidden.")
				if tg.handlers["admin-thing"].calls != 0 || len(tg.authz.calls) != 0 {
					t.Fatal("admin handler or authorizer ran")
				}
				return
			}
			ev := tg.handlers["admin-thing"].last
			if rec.Code != 200 || ev.RequestContext.Identity.Caller != "local-admin" || !strings.HasPrefix(ev.RequestContext.Identity.UserArn, "arn:aws:iam::000000000000:") {
				t.Fatalf("%d identity %+v", rec.Code, ev.RequestContext.Identity)
			}
			if len(tg.authz.calls) != 0 {
				t.Fatal("the REQUEST authorizer ran on an admin route")
			}
		})
	}
	// No admin key configured: nothing passes, not even an empty bearer.
	g, _ := New(Config{Routes: testRoutes[:1], Handlers: map[string]APIHandler{"me": (&recordingHandler{}).handle}})
	if g.adminAllowed(httptest.NewRequest("GET", "/", nil)) {
		t.Fatal("empty admin key allowed")
	}
}

func TestUnitAuthorizer(t *testing.T) {
	cases := []struct {
		name      string
		method    string
		target    string
		header    string
		status    int
		message   string
		authCalls int
	}{
		{"no header", "GET", "/v1/chan", "", 401, httpapi.MsgInvalidToken, 0},
		{"blank header", "GET", "/v1/chan", "   ", 401, httpapi.MsgInvalidToken, 0},
		{"query token on a header route", "GET", "/v1/chan?token=good", "", 401, httpapi.MsgInvalidToken, 0},
		{"header on a query route", "POST", "/v1/query", "Bearer good", 401, httpapi.MsgInvalidToken, 0},
		{"refused", "GET", "/v1/chan", "Bearer bad", 401, httpapi.MsgInvalidToken, 1},
		{"authorizer failure", "GET", "/v1/acct", "Bearer fail", 500, httpapi.MsgInternal, 1},
		{"deny policy", "GET", "/v1/chan", "Bearer deny", 403, "Forbidden.", 1},
		{"allowed header", "GET", "/v1/chan", "Bearer good", 200, "", 1},
		{"allowed account", "GET", "/v1/acct", "good", 200, "", 1},
		{"allowed query", "POST", "/v1/query?token=good", "", 200, "", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := newTestGateway(t, 0)
			var h http.Header
			if c.header != "" {
				h = http.Header{"Authorization": {c.header}}
			}
			rec := tg.do(c.method, c.target, nil, h)
			if len(tg.authz.calls) != c.authCalls {
				t.Fatalf("authorizer called %d times, want %d", len(tg.authz.calls), c.authCalls)
			}
			if c.status != 200 {
				wantEnvelope(t, rec, c.status, c.message)
				return
			}
			if rec.Code != 200 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			var ran *recordingHandler
			for _, hd := range tg.handlers {
				if hd.calls == 1 {
					ran = hd
				}
			}
			want := map[string]any{"principalId": "tok_1", httpapi.AuthCtxTenantID: "ten_a", httpapi.AuthCtxKind: "channel"}
			if ran == nil || !reflect.DeepEqual(ran.last.RequestContext.Authorizer, want) {
				t.Fatalf("authorizer context %v", ran)
			}
			req := tg.authz.calls[0]
			if req.Type != "REQUEST" || req.MethodArn != "arn:aws:execute-api:us-east-1:000000000000:local/local/"+c.method+ran.last.Path ||
				req.Resource != ran.last.Resource || req.RequestContext.Stage != "local" {
				t.Fatalf("authorizer request %+v", req)
			}
		})
	}
}

func TestUnitAuthorizerCache(t *testing.T) {
	tg := newTestGateway(t, 300*time.Second)
	hdr := http.Header{"Authorization": {"Bearer good-1"}}
	for i := 0; i < 3; i++ {
		if rec := tg.do("GET", "/v1/chan", nil, hdr); rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	if len(tg.authz.calls) != 1 {
		t.Fatalf("authorizer called %d times within the TTL", len(tg.authz.calls))
	}
	// Another identity is another cache entry.
	tg.do("GET", "/v1/chan", nil, http.Header{"Authorization": {"Bearer good-2"}})
	if len(tg.authz.calls) != 2 {
		t.Fatalf("calls %d", len(tg.authz.calls))
	}
	// Refusals are not cached.
	tg.do("GET", "/v1/chan", nil, http.Header{"Authorization": {"Bearer bad"}})
	tg.do("GET", "/v1/chan", nil, http.Header{"Authorization": {"Bearer bad"}})
	if len(tg.authz.calls) != 4 {
		t.Fatalf("calls %d", len(tg.authz.calls))
	}
	// The same value as a query token is a different identity source.
	tg.do("POST", "/v1/query?token=good-1", nil, nil)
	if len(tg.authz.calls) != 5 {
		t.Fatalf("calls %d", len(tg.authz.calls))
	}
	// Expiry.
	tg.now = tg.now.Add(299 * time.Second)
	tg.do("GET", "/v1/chan", nil, hdr)
	if len(tg.authz.calls) != 5 {
		t.Fatalf("expired early: calls %d", len(tg.authz.calls))
	}
	tg.now = tg.now.Add(time.Second)
	tg.do("GET", "/v1/chan", nil, hdr)
	if len(tg.authz.calls) != 6 {
		t.Fatalf("not expired at the TTL: calls %d", len(tg.authz.calls))
	}

	// With no TTL nothing is cached.
	tg = newTestGateway(t, 0)
	tg.do("GET", "/v1/chan", nil, hdr)
	tg.do("GET", "/v1/chan", nil, hdr)
	if len(tg.authz.calls) != 2 {
		t.Fatalf("no cache: calls %d", len(tg.authz.calls))
	}
}

func TestUnitErrorEnvelopeIsJSON(t *testing.T) {
	tg := newTestGateway(t, 0)
	rec := tg.do("GET", "/nope", nil, nil)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["status"] != "error" {
		t.Fatalf("%s %v", rec.Body, err)
	}
}
