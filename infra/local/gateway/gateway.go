// Package gateway is the local stand-in for API Gateway (REST API, v1 proxy
// events): it matches the route table, runs the REQUEST authorizer with the
// route's identity source and a result cache, turns the HTTP request into an
// events.APIGatewayProxyRequest, invokes the function's Lambda handler (the
// same function value lambda.Start gets in AWS) and writes the proxy
// response back. Its error answers mirror the CDK app's gateway responses.
package gateway

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/authorizer"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/routes"
)

// APIHandler is a proxy-integration Lambda handler.
type APIHandler func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// AuthorizerHandler is a REQUEST authorizer Lambda handler.
type AuthorizerHandler func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// Config is what the gateway serves.
type Config struct {
	Routes     []routes.Route
	Handlers   map[string]APIHandler // by function name
	Authorizer AuthorizerHandler
	// AdminKey is the local stand-in for IAM on admin routes.
	AdminKey string
	// CacheTTL is the authorizer result cache (300 s in AWS; 0 disables).
	CacheTTL time.Duration
	// Cache holds the authorizer answers; New makes one when it is nil.
	// LocalConfig shares it with the functions that flush it.
	Cache *AuthCache
	// IPLimit is how many unauthenticated calls (routes without auth,
	// unknown paths) and failed authentications (401, 403) one source
	// address may make per IPWindow; once over, its calls are answered 429
	// until the window ends. 0 disables. AWS's WAF rate-based rule is the
	// counterpart (infra: counted per address over 5 minutes).
	IPLimit  int
	IPWindow time.Duration // default one minute
	// Prefixes are base paths stripped before matching, as a custom
	// domain's base path mapping does in AWS (e.g. "/api").
	Prefixes []string
	// MinCompressionSize is the API's minimumCompressionSize: 0 is the
	// stage's (routes.MinCompressionSize), below 0 turns compression off
	// (request bodies are then passed on as they come).
	MinCompressionSize int
	Now                func() time.Time
}

// MaxPayload is API Gateway's request payload limit.
const MaxPayload = 10 << 20

const (
	stage     = "local"
	apiID     = "local"
	accountID = "000000000000"
)

// Gateway is an http.Handler serving the route table.
type Gateway struct {
	cfg   Config
	cache *AuthCache
	ips   *ipLimiter
}

// AuthCache is the gateway's authorizer result cache. It implements
// authcache.Flusher: the admin functions that revoke a token or rotate an
// account secret flush it, as they flush API Gateway's in AWS.
type AuthCache struct {
	mu      sync.Mutex
	entries map[string]cached
}

func (c *AuthCache) get(key string) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok
}

func (c *AuthCache) put(key string, e cached) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cached{}
	}
	c.entries[key] = e
}

// FlushAuthorizerCache drops every cached answer, as API Gateway's
// FlushStageAuthorizersCache does for a stage.
func (c *AuthCache) FlushAuthorizerCache(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	return nil
}

// Len is the number of cached answers.
func (c *AuthCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

type cached struct {
	res     events.APIGatewayCustomAuthorizerResponse
	expires time.Time
}

// New checks that every route has a handler.
func New(cfg Config) (*Gateway, error) {
	for _, r := range cfg.Routes {
		if cfg.Handlers[r.Function] == nil {
			return nil, errors.New("gateway: route " + r.Method + " " + r.Path + " has no handler for " + r.Function)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Cache == nil {
		cfg.Cache = &AuthCache{}
	}
	if cfg.MinCompressionSize == 0 {
		cfg.MinCompressionSize = routes.MinCompressionSize
	}
	g := &Gateway{cfg: cfg, cache: cfg.Cache}
	if cfg.IPLimit > 0 {
		if cfg.IPWindow <= 0 {
			cfg.IPWindow = time.Minute
		}
		g.ips = &ipLimiter{limit: cfg.IPLimit, window: cfg.IPWindow, seen: map[string]ipWindow{}}
		g.cfg = cfg
	}
	return g, nil
}

// FlushAuthorizerCache implements authcache.Flusher on the gateway's cache.
func (g *Gateway) FlushAuthorizerCache(ctx context.Context) error {
	return g.cache.FlushAuthorizerCache(ctx)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(httpapi.ErrorBody(msg))
}

// match finds the route for a method and path as API Gateway does: the
// most specific resource first (a literal segment beats a {parameter}), then
// the method on it; pathKnown reports a resource that exists with other
// methods only.
func (g *Gateway) match(method, path string) (r routes.Route, params map[string]string, pathKnown bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	best, bestScore := "", -1
	for _, rt := range g.cfg.Routes {
		if _, ok := matchPath(rt.Path, segs); ok {
			if score := specificity(rt.Path); score > bestScore {
				best, bestScore = rt.Path, score
			}
		}
	}
	if best == "" {
		return routes.Route{}, nil, false
	}
	for _, rt := range g.cfg.Routes {
		if rt.Path == best && rt.Method == method {
			p, _ := matchPath(rt.Path, segs)
			return rt, p, true
		}
	}
	return routes.Route{}, nil, true
}

// specificity ranks templates of the same length: literal segments earlier
// in the path weigh more, as API Gateway prefers /a/b over /a/{x}.
func specificity(tmpl string) int {
	score := 0
	for _, seg := range strings.Split(strings.Trim(tmpl, "/"), "/") {
		score <<= 1
		if !strings.HasPrefix(seg, "{") {
			score |= 1
		}
	}
	return score
}

func matchPath(tmpl string, segs []string) (map[string]string, bool) {
	ts := strings.Split(strings.Trim(tmpl, "/"), "/")
	if len(ts) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, t := range ts {
		if strings.HasPrefix(t, "{") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[strings.Trim(t, "{}")] = segs[i]
			continue
		}
		if t != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// flushPath is API Gateway's FlushStageAuthorizersCache resource for the
// local API and stage: a function run outside this process (make invoke)
// flushes the local cache through it with the AWS SDK, its endpoint
// pointed here (AWS_ENDPOINT_URL_API_GATEWAY).
const flushPath = "/restapis/" + apiID + "/stages/" + stage + "/cache/authorizers"

// ServeHTTP serves one request as API Gateway would, behind the per-address
// limit on unauthenticated and failed calls.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodDelete && r.URL.Path == flushPath {
		_ = g.FlushAuthorizerCache(r.Context())
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if g.ips == nil {
		g.serve(w, r)
		return
	}
	ip := sourceIP(r)
	now := g.cfg.Now()
	if wait, ok := g.ips.allowed(ip, now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		writeError(w, http.StatusTooManyRequests, httpapi.MsgTooManyRequests)
		return
	}
	rec := &httpapi.StatusRecorder{ResponseWriter: w}
	if unauthenticated := g.serve(rec, r); unauthenticated ||
		rec.Status == http.StatusUnauthorized || rec.Status == http.StatusForbidden {
		g.ips.hit(ip, now)
	}
}

// serve serves one request as API Gateway would; unauthenticated reports a
// call that no credential stood behind (a route without auth, or no route).
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) (unauthenticated bool) {
	path := r.URL.Path
	for _, p := range g.cfg.Prefixes {
		if rest, ok := strings.CutPrefix(path, p); ok && (rest == "" || rest[0] == '/') {
			path = rest
			break
		}
	}
	route, params, known := g.match(r.Method, path)
	if route.Function == "" {
		if known {
			writeError(w, http.StatusMethodNotAllowed, httpapi.MsgMethodNotAllowed)
		} else {
			writeError(w, http.StatusNotFound, httpapi.MsgNotFound)
		}
		return true
	}
	unauthenticated = route.Auth == routes.AuthNone
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayload+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Could not read the request body.")
		return unauthenticated
	}
	if len(body) > MaxPayload {
		writeError(w, http.StatusRequestEntityTooLarge, "Request body is too large (API Gateway's limit is 10 MB).")
		return unauthenticated
	}
	if g.cfg.MinCompressionSize >= 0 {
		switch body, err = decodeBody(r.Header.Get("Content-Encoding"), body); {
		case errors.Is(err, errTooLarge):
			writeError(w, http.StatusRequestEntityTooLarge, "Request body is too large once decompressed (API Gateway's limit is 10 MB).")
			return unauthenticated
		case err != nil:
			writeError(w, http.StatusUnsupportedMediaType, "Could not decompress the request body: Content-Encoding must be gzip, deflate or identity, and the body encoded with it.")
			return unauthenticated
		}
	}
	ev := g.event(r, path, route, params, body)
	switch route.Auth {
	case routes.AuthAdmin:
		if !g.adminAllowed(r) {
			writeError(w, http.StatusForbidden, "Forbidden.")
			return unauthenticated
		}
		ev.RequestContext.Identity.UserArn = "arn:aws:iam::" + accountID + ":user/local-admin"
		ev.RequestContext.Identity.Caller = "local-admin"
	case routes.AuthChannel, routes.AuthChannelQuery, routes.AuthAccount, routes.AuthChannelOrAccount:
		authz, status, msg := g.authorize(r.Context(), route, ev)
		if status != 0 {
			writeError(w, status, msg)
			return unauthenticated
		}
		ev.RequestContext.Authorizer = authz
	}
	res, err := g.cfg.Handlers[route.Function](r.Context(), ev)
	if err != nil {
		// A Lambda that returns an error becomes a 502 in API Gateway.
		slog.ErrorContext(r.Context(), "function error", "function", route.Function, "err", err)
		writeError(w, http.StatusBadGateway, "Internal server error.")
		return unauthenticated
	}
	writeProxyResponse(w, res, r.Header.Get("Accept-Encoding"), g.cfg.MinCompressionSize)
	return unauthenticated
}

// writeProxyResponse writes a function's answer, its body compressed as
// compressBody says (minCompression < 0: never).
func writeProxyResponse(w http.ResponseWriter, res events.APIGatewayProxyResponse, acceptEncoding string, minCompression int) {
	for k, v := range res.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range res.MultiValueHeaders {
		w.Header().Del(k)
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body := []byte(res.Body)
	if res.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(res.Body)
		if err != nil {
			writeError(w, http.StatusBadGateway, "Internal server error.")
			return
		}
		body = b
	}
	status := res.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	if w.Header().Get("Content-Encoding") == "" && status != http.StatusNoContent && status != http.StatusNotModified {
		var coding string
		if body, coding = compressBody(acceptEncoding, body, minCompression); coding != "" {
			w.Header().Set("Content-Encoding", coding)
			w.Header().Del("Content-Length")
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (g *Gateway) adminAllowed(r *http.Request) bool {
	if g.cfg.AdminKey == "" {
		return false
	}
	got := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(got) > 7 && strings.EqualFold(got[:7], "bearer ") {
		got = strings.TrimSpace(got[7:])
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(g.cfg.AdminKey)) == 1
}

// authorize runs the REQUEST authorizer as API Gateway does: a missing
// identity source is a 401 without calling it; answers are cached per
// identity source value.
func (g *Gateway) authorize(ctx context.Context, route routes.Route, ev events.APIGatewayProxyRequest) (map[string]any, int, string) {
	identity := ""
	if route.Auth == routes.AuthChannelQuery {
		identity = ev.QueryStringParameters["token"]
	} else {
		identity = headerValue(ev.Headers, "Authorization")
	}
	if strings.TrimSpace(identity) == "" {
		return nil, http.StatusUnauthorized, httpapi.MsgInvalidToken
	}
	cacheKey := string(route.Auth) + "\x00" + identity
	now := g.cfg.Now()
	c, ok := g.cache.get(cacheKey)
	if !ok || !now.Before(c.expires) {
		req := events.APIGatewayCustomAuthorizerRequestTypeRequest{
			Type:                            "REQUEST",
			MethodArn:                       methodArn(ev.HTTPMethod, ev.Path),
			Resource:                        ev.Resource,
			Path:                            ev.Path,
			HTTPMethod:                      ev.HTTPMethod,
			Headers:                         ev.Headers,
			MultiValueHeaders:               ev.MultiValueHeaders,
			QueryStringParameters:           ev.QueryStringParameters,
			MultiValueQueryStringParameters: ev.MultiValueQueryStringParameters,
			PathParameters:                  ev.PathParameters,
			RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
				Path: ev.RequestContext.Path, AccountID: accountID, ResourceID: ev.RequestContext.ResourceID,
				Stage: stage, RequestID: ev.RequestContext.RequestID, ResourcePath: ev.Resource,
				HTTPMethod: ev.HTTPMethod, APIID: apiID,
				Identity: events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: ev.RequestContext.Identity.SourceIP},
			},
		}
		res, err := g.cfg.Authorizer(ctx, req)
		if errors.Is(err, authorizer.ErrUnauthorized) || (err != nil && err.Error() == "Unauthorized") {
			return nil, http.StatusUnauthorized, httpapi.MsgInvalidToken
		}
		if err != nil {
			slog.ErrorContext(ctx, "authorizer error", "err", err)
			return nil, http.StatusInternalServerError, httpapi.MsgInternal
		}
		c = cached{res: res, expires: now.Add(g.cfg.CacheTTL)}
		if g.cfg.CacheTTL > 0 {
			g.cache.put(cacheKey, c)
		}
	}
	if !allows(c.res.PolicyDocument, methodArn(ev.HTTPMethod, ev.Path)) {
		return nil, http.StatusForbidden, "Forbidden."
	}
	ctxMap := map[string]any{"principalId": c.res.PrincipalID}
	for k, v := range c.res.Context {
		ctxMap[k] = v
	}
	return ctxMap, 0, ""
}

func methodArn(method, path string) string {
	return "arn:aws:execute-api:us-east-1:" + accountID + ":" + apiID + "/" + stage + "/" + method + path
}

// allows evaluates an authorizer policy for one method ARN: an explicit Deny
// wins, otherwise an Allow must match. Resources may use * wildcards.
func allows(doc events.APIGatewayCustomAuthorizerPolicy, arn string) bool {
	allowed := false
	for _, st := range doc.Statement {
		for _, res := range st.Resource {
			if !wildcardMatch(res, arn) {
				continue
			}
			switch st.Effect {
			case "Deny":
				return false
			case "Allow":
				allowed = true
			}
		}
	}
	return allowed
}

func wildcardMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i := 1; i < len(parts)-1; i++ {
		j := strings.Index(s, parts[i])
		if j < 0 {
			return false
		}
		s = s[j+len(parts[i]):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// event builds the proxy event API Gateway would send.
func (g *Gateway) event(r *http.Request, path string, route routes.Route, params map[string]string, body []byte) events.APIGatewayProxyRequest {
	headers := map[string]string{}
	mvh := map[string][]string{}
	for k, vs := range r.Header {
		headers[k] = vs[len(vs)-1]
		mvh[k] = append([]string(nil), vs...)
	}
	headers["Host"] = r.Host
	mvh["Host"] = []string{r.Host}
	headers["X-Forwarded-Proto"] = "http"
	mvh["X-Forwarded-Proto"] = []string{"http"}
	var qs map[string]string
	var mvq map[string][]string
	if q := r.URL.Query(); len(q) > 0 {
		qs, mvq = map[string]string{}, map[string][]string{}
		for k, vs := range q {
			qs[k] = vs[len(vs)-1]
			mvq[k] = vs
		}
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	ev := events.APIGatewayProxyRequest{
		Resource:                        route.Path,
		Path:                            path,
		HTTPMethod:                      r.Method,
		Headers:                         headers,
		MultiValueHeaders:               mvh,
		QueryStringParameters:           qs,
		MultiValueQueryStringParameters: mvq,
		PathParameters:                  params,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:        accountID,
			ResourceID:       route.Function,
			Stage:            stage,
			RequestID:        requestID(),
			Identity:         events.APIGatewayRequestIdentity{SourceIP: ip, UserAgent: r.UserAgent()},
			ResourcePath:     route.Path,
			Path:             r.URL.Path, // as API Gateway: the path the client called, base path included
			HTTPMethod:       r.Method,
			APIID:            apiID,
			DomainName:       r.Host,
			RequestTime:      g.cfg.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: g.cfg.Now().UnixMilli(),
		},
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// sourceIP is the caller's address, as API Gateway's
// $context.identity.sourceIp (the connection's peer, not a header).
func sourceIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

// ipLimiter counts unauthenticated and failed calls per source address in
// fixed windows.
type ipLimiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	seen   map[string]ipWindow
}

type ipWindow struct {
	start time.Time
	count int
}

// allowed reports whether ip is under its limit at now; if not, wait is the
// seconds until its window ends (at least 1).
func (l *ipLimiter) allowed(ip string, now time.Time) (wait int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, found := l.seen[ip]
	if !found || !now.Before(w.start.Add(l.window)) || w.count < l.limit {
		return 0, true
	}
	wait = int((w.start.Add(l.window).Sub(now) + time.Second - 1) / time.Second)
	return max(wait, 1), false
}

// hit counts one call of ip at now.
func (l *ipLimiter) hit(ip string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, found := l.seen[ip]
	if !found || !now.Before(w.start.Add(l.window)) {
		if len(l.seen) > 10000 { // forget finished windows now and then
			for k, v := range l.seen {
				if !now.Before(v.start.Add(l.window)) {
					delete(l.seen, k)
				}
			}
		}
		w = ipWindow{start: now}
	}
	w.count++
	l.seen[ip] = w
}
