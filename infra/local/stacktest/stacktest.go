// Package stacktest runs the whole API in-process for integration tests: the
// emulators (through package emulators), every function behind the local
// gateway, and helpers that call it like a client would.
//
// Every function's DynamoDB and SQS calls are checked against the Access
// bits of its route (package accesstest): a call the CDK app would not
// grant in AWS fails the test that made it.
package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the IANA zone database for allowed hours: the stack under test runs the installations' functions in-process, as their Lambdas embed it

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/gateway"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/routes/accesstest"
	"github.com/startmsg/chatbackend/shared/scheduler"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// AdminKey is the admin key test stacks use.
const AdminKey = "test-admin-key-0123456789"

// Stack is one test's API.
type Stack struct {
	T    testing.TB
	Env  *emulators.TestEnv
	Deps *wiring.Env
	URL  string
	// Clock is the time every function sees; tests may move it.
	Clock *Clock
	// onCalls is Options.OnCalls.
	onCalls func(fn string, calls []accesstest.Call)
	// dueHandlers is Options.DueHandlers.
	dueHandlers map[string]scheduler.Handler
}

// Clock is a settable time source, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// New starts the API for one test on its own table and queues. The
// authorizer cache and the per-address limit are off.
func New(t testing.TB) *Stack {
	t.Helper()
	return NewWith(t, Options{})
}

// Options change what NewWith starts.
type Options struct {
	// AuthCacheTTL is the gateway's authorizer cache (make run's is 300 s).
	AuthCacheTTL time.Duration
	// IPLimit and IPWindow are the gateway's limit on unauthenticated and
	// failed calls per source address (gateway.Config); 0 is off.
	IPLimit  int
	IPWindow time.Duration
	// OnCalls, when set, is given the SDK calls of every invocation of a
	// function (API routes and event consumers), after it returns: the
	// capacity tool counts them (infra/capacity).
	OnCalls func(fn string, calls []accesstest.Call)
	// Vars are more environment variables for every function (a stage
	// setting such as limits.EnvContactsPerTenant).
	Vars map[string]string
	// DueHandlers are scheduler handlers the ticker (Pipeline) takes beside
	// wiring.DueHandlers': kinds only tests register.
	DueHandlers map[string]scheduler.Handler
}

// NewWith is New with options.
func NewWith(t testing.TB, o Options) *Stack {
	t.Helper()
	env := emulators.ForTest(t)
	// One line per request is noise in tests; warnings and errors stay.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	clock := &Clock{t: time.Now().Truncate(time.Minute).Add(time.Second)}
	vars := map[string]string{
		appenv.TableName:    env.Table,
		appenv.OpsTableName: env.OpsTable,
		appenv.QueueURL:     env.Queues.DeliveriesURL,
		appenv.DLQURL:       env.Queues.DLQURL,
		appenv.OutboxURL:    env.Queues.OutboxURL,
		appenv.OutboxDLQURL: env.Queues.OutboxDLQURL,
		appenv.Stage:        "test",
		// Webhook receivers in tests listen on 127.0.0.1.
		appenv.AllowLoopbackTargets: "true",
	}
	maps.Copy(vars, o.Vars)
	d := wiring.FromConfig(accesstest.Instrument(env.Config), func(k string) string { return vars[k] })
	d.Now = clock.Now
	s := &Stack{T: t, Env: env, Deps: d, Clock: clock, onCalls: o.OnCalls, dueHandlers: o.DueHandlers}
	cfg, err := gateway.LocalConfig(d, registry.All(), AdminKey, o.AuthCacheTTL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.IPLimit, cfg.IPWindow = o.IPLimit, o.IPWindow
	for _, r := range cfg.Routes {
		cfg.Handlers[r.Function] = audited(s, r.Function, r.Access, cfg.Handlers[r.Function])
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(gw)
	srv.Listener = gateway.EnvelopeListener(srv.Listener)
	srv.Start()
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// audited runs h with its SDK calls recorded, and fails the test for each
// one that access does not grant in AWS.
func audited[E, R any](s *Stack, fn string, access routes.Access, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	res := accesstest.Resources{Table: s.Env.Table, OpsTable: s.Env.OpsTable, Queue: s.Env.Queues.DeliveriesURL, DLQ: s.Env.Queues.DLQURL,
		Outbox: s.Env.Queues.OutboxURL, OutboxDLQ: s.Env.Queues.OutboxDLQURL}
	return func(ctx context.Context, ev E) (R, error) {
		ctx, rec := accesstest.WithRecorder(ctx)
		out, err := h(ctx, ev)
		if s.onCalls != nil {
			s.onCalls(fn, rec.Calls())
		}
		for _, m := range accesstest.MissingFor(fn, access, rec.Calls(), res) {
			s.T.Errorf("%s: not granted in AWS by its Access bits: %s", fn, m)
		}
		return out, err
	}
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// Do sends a request; body may be nil, a string (sent as is) or a value
// (sent as JSON). auth is the Authorization header value ("" for none).
func (s *Stack) Do(method, path, auth string, body any) Response {
	s.T.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.T.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		s.T.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return s.Send(req)
}

// Send sends a prepared request.
func (s *Stack) Send(req *http.Request) Response {
	s.T.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.T.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.T.Fatal(err)
	}
	out := Response{Status: res.StatusCode, Header: res.Header, Body: b}
	_ = json.Unmarshal(b, &out.JSON)
	s.checkContract(req, out)
	return out
}

// Admin calls the admin API with the admin key.
func (s *Stack) Admin(method, path string, body any) Response {
	s.T.Helper()
	return s.Do(method, path, "Bearer "+AdminKey, body)
}

// Tenant is a tenant made for a test, with one channel and its token.
type Tenant struct {
	ID, Secret, ChannelID, Token string
}

// NewTenant creates a tenant with one channel of the given kind and a token.
func (s *Stack) NewTenant(name, kind string) Tenant {
	s.T.Helper()
	r := s.Admin("POST", "/admin/tenants", map[string]any{"name": name})
	if r.Status != http.StatusCreated {
		s.T.Fatalf("create tenant: %d %s", r.Status, r.Body)
	}
	var t Tenant
	t.ID = Path(r.JSON, "data.tenant.id").(string)
	t.Secret = Path(r.JSON, "data.account_secret").(string)
	r = s.Admin("POST", "/admin/tenants/"+t.ID+"/channels", map[string]any{"kind": kind, "name": name + " " + kind, "default_country": "PK"})
	if r.Status != http.StatusCreated {
		s.T.Fatalf("create channel: %d %s", r.Status, r.Body)
	}
	t.ChannelID = Path(r.JSON, "data.id").(string)
	r = s.Admin("POST", "/admin/tenants/"+t.ID+"/channels/"+t.ChannelID+"/tokens", map[string]any{"name": "test"})
	if r.Status != http.StatusCreated {
		s.T.Fatalf("create token: %d %s", r.Status, r.Body)
	}
	t.Token = Path(r.JSON, "data.token").(string)
	return t
}

// Path walks a decoded JSON value by dot-separated keys; nil if absent.
func Path(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// Pipeline runs the event functions as Lambda's event-source mappings
// would: each stream consumer on the test table's stream and each queue
// consumer on its deliveries queue, until the test ends.
func (s *Stack) Pipeline() {
	s.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, f := range routes.EventFunctions {
		switch f.Source {
		case "stream":
			p := &pollers.StreamPoller{DDB: s.Env.DDB, Streams: s.Env.Streams, Table: s.Env.Table, BatchSize: f.BatchSize,
				Handler: audited(s, f.Function, f.Access, registry.Streams[f.Function](s.Deps)), PollInterval: 50 * time.Millisecond,
				Filter:     pollers.RouteFilter(f.StreamFilters()),
				RetryDelay: func(int) time.Duration { return 100 * time.Millisecond }}
			wg.Go(func() { _ = p.Run(ctx) })
		case "queue":
			p := &pollers.SQSPoller{Client: s.Env.SQS, QueueURL: s.Env.Queues.DeliveriesURL, QueueARN: s.Env.Queues.DeliveriesARN,
				BatchSize: f.BatchSize, Concurrency: 4, WaitTime: time.Second, Handler: audited(s, f.Function, f.Access, registry.Queues[f.Function](s.Deps))}
			wg.Go(func() { _ = p.Run(ctx) })
		case "outbox":
			p := &pollers.SQSPoller{Client: s.Env.SQS, QueueURL: s.Env.Queues.OutboxURL, QueueARN: s.Env.Queues.OutboxARN,
				BatchSize: f.BatchSize, Concurrency: 4, WaitTime: time.Second, Handler: audited(s, f.Function, f.Access, registry.Queues[f.Function](s.Deps))}
			wg.Go(func() { _ = p.Run(ctx) })
		case routes.SourceSchedule:
			// The ticker with the wiring's handlers and the test's own,
			// every 250 ms; not at all while there is no handler (each tick
			// reads a few minutes' shards).
			handlers := wiring.DueHandlers(s.Deps)
			maps.Copy(handlers, s.dueHandlers)
			if len(handlers) == 0 {
				continue
			}
			p := &pollers.SchedulePoller[scheduler.Result]{Function: f.Function, Every: 250 * time.Millisecond,
				Handler: audited(s, f.Function, f.Access, wiring.Ticker(s.Deps, handlers))}
			wg.Go(func() { _ = p.Run(ctx) })
		}
	}
	s.T.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}
