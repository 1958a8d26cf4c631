package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/bench/api"
	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/gateway"
	"github.com/startmsg/chatbackend/infra/local/provision"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring"
)

const (
	tableName    = "apibench"
	opsTableName = "apibench-ops"
	// authCacheTTL is API Gateway's authorizer result cache, as in AWS.
	authCacheTTL = 300 * time.Second
	// perToken is how many requests one token makes: below the limit of
	// wiring.RateLimit (100) per minute, with room for the request that
	// fills the authorizer cache.
	perToken = 90
)

// logLevel is the handlers' log level: warnings, except while wrk runs (it
// drops its connections at the end with requests in flight, and each logs
// a "context canceled" error; wrk counts every failed answer itself).
var logLevel slog.LevelVar

// env is the running stack: emulators, table and queues, the whole API on
// the local gateway, served on a loopback port.
type env struct {
	stack      *emulators.Stack
	d          *wiring.Env
	rec        *api.Recorder
	tenancy    *tenancy.Service
	contacts   *contacts.Service
	store      *ddbstore.Contacts
	gatewayURL string
	dynamoPort int
	srv        *http.Server
	client     *http.Client
	// gw is the gateway the server serves; getFn is contact-get's Lambda
	// handler, the one the gateway invokes for GET /v1/contact/{id}.
	gw    *gateway.Gateway
	getFn gateway.APIHandler
	// lambdaGet is contact-get's handler built as its Lambda builds it:
	// from the SDK config without the benchmark's recorder middleware (a
	// Lambda's config has no APIOptions), for part 4's function run.
	lambdaGet gateway.APIHandler
	// While captureGet is on, the gateway's invocations of getFn keep
	// their proxy event in capturedGet.
	captureGet  atomic.Bool
	capturedGet atomic.Pointer[events.APIGatewayProxyRequest]
	// credTenant maps a token's credential ID to its tenant, to tell whose
	// rate-limit counter an UpdateItem is.
	credMu     sync.Mutex
	credTenant map[string]string
	// dials counts the connections the handlers' SDK client opened.
	dials atomic.Int64
	// keepTokens keeps the SDK's idempotency tokens on the seed's
	// transactions (-keep-seed-tokens).
	keepTokens bool
}

func startEnv(ctx context.Context, o options, setup *[]string) (*env, error) {
	// The handlers log one line per request at Info; make run keeps
	// warnings only, and so does the benchmark.
	logLevel.Set(slog.LevelWarn)
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: &logLevel})))

	t0 := time.Now()
	stack, err := emulators.Start(ctx, emulators.Options{})
	if err != nil {
		return nil, err
	}
	e := &env{stack: stack, rec: &api.Recorder{}, credTenant: map[string]string{}, keepTokens: o.keepSeedTokens}
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()
	u, err := url.Parse(stack.DynamoEndpoint)
	if err != nil {
		return nil, err
	}
	if e.dynamoPort, err = strconv.Atoi(u.Port()); err != nil {
		return nil, err
	}
	started := time.Since(t0)

	t0 = time.Now()
	cfg := stack.AWSConfig()
	cfg.APIOptions = append(cfg.APIOptions, e.rec.APIOption)
	// The SDK's own default client (what it builds when HTTPClient is nil),
	// with a dialer that counts new connections.
	client := awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
		d.Control = func(string, string, syscall.RawConn) error {
			e.dials.Add(1)
			return nil
		}
	})
	if o.sdkIdleConns > 0 {
		client = client.WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = o.sdkIdleConns
		})
	}
	cfg.HTTPClient = client
	ddb := dynamodb.NewFromConfig(cfg)
	if err := provision.EnsureTables(ctx, ddb, tableName, opsTableName); err != nil {
		return nil, err
	}
	stream := "kept on (-keep-stream)"
	if !o.keepStream {
		// dynoxide 1.2.1 numbers each stream record with a MAX() over all
		// of the table's stream records, under its one database lock: every
		// write then costs time in proportion to the writes made before it
		// (a 100,000-contact seed would take hours, and each request's
		// rate-limit UpdateItem tens of milliseconds). Nothing reads the
		// stream here (no pollers run), so turn it off; the request path
		// is the same code either way.
		_, err := ddb.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName:           aws.String(tableName),
			StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(false)},
		})
		if err != nil {
			return nil, fmt.Errorf("disable the table's stream: %w", err)
		}
		stream = "turned off after provisioning (dynoxide's write cost grows with its stream records; -keep-stream keeps it)"
	}
	queues, err := provision.EnsureQueues(ctx, sqs.NewFromConfig(cfg), "")
	if err != nil {
		return nil, err
	}
	vars := map[string]string{
		appenv.TableName:    tableName,
		appenv.OpsTableName: opsTableName,
		appenv.QueueURL:     queues.DeliveriesURL,
		appenv.DLQURL:       queues.DLQURL,
		appenv.Stage:        "bench",
	}
	e.d = wiring.FromConfig(cfg, func(k string) string { return vars[k] })
	e.tenancy = &tenancy.Service{Store: e.d.Tenancy(), Now: time.Now}
	e.store = e.d.Contacts()
	e.contacts = &contacts.Service{Store: e.store, Now: time.Now}
	provisioned := time.Since(t0)

	lcfg := stack.AWSConfig()
	lcfg.HTTPClient = client
	if e.lambdaGet, err = wiring.APIHandler(wiring.FromConfig(lcfg, func(k string) string { return vars[k] }), getFunction, registry.All()); err != nil {
		return nil, err
	}

	adminKey, _ := tenancy.NewSecret("adm_")
	gwCfg, err := gateway.LocalConfig(e.d, registry.All(), adminKey, authCacheTTL)
	if err != nil {
		return nil, err
	}
	e.getFn = gwCfg.Handlers[getFunction]
	gwCfg.Handlers[getFunction] = func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		if e.captureGet.Load() {
			e.capturedGet.Store(&ev)
		}
		return e.getFn(ctx, ev)
	}
	gw, err := gateway.New(gwCfg)
	if err != nil {
		return nil, err
	}
	e.gw = gw
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.gatewayURL = "http://" + ln.Addr().String()
	e.srv = &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	e.client = &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true},
	}
	idle := "SDK default (10 idle connections per host)"
	if o.sdkIdleConns > 0 {
		idle = fmt.Sprintf("%d idle connections per host (-sdk-idle-conns)", o.sdkIdleConns)
	}
	*setup = append(*setup,
		fmt.Sprintf("stack: dynoxide %s and fauxqs %s in memory (started in %s), table and queues provisioned in %s; table stream %s",
			stack.DynamoEndpoint, stack.SQSEndpoint, started.Round(time.Millisecond), provisioned.Round(time.Millisecond), stream),
		fmt.Sprintf("gateway: gateway.ForRoutes on %s, authorizer cache %s; SDK client: %s", e.gatewayURL, authCacheTTL, idle))
	ok = true
	return e, nil
}

func (e *env) close() {
	if e.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = e.srv.Shutdown(ctx)
		cancel()
	}
	e.stack.Stop()
}

// fixture is a tenant with one channel, its custom fields and a supply of
// tokens, each handed out once.
type fixture struct {
	label     string
	tenantID  string
	channelID string
	fields    map[string]contacts.Field // by name
}

func (e *env) newFixture(ctx context.Context, label string) (*fixture, error) {
	nt, err := e.tenancy.CreateTenant(ctx, "apibench "+label)
	if err != nil {
		return nil, err
	}
	ch, err := e.tenancy.CreateChannel(ctx, nt.Tenant.ID, tenancy.ChannelInput{Kind: string(tenancy.Messenger), Name: "bench " + label, DefaultCountry: "PK"})
	if err != nil {
		return nil, err
	}
	f := &fixture{label: label, tenantID: nt.Tenant.ID, channelID: ch.ID, fields: map[string]contacts.Field{}}
	str := func(s string) *string { return &s }
	for _, in := range []contacts.FieldInput{
		{Name: str("code"), Type: str(string(contacts.Text))},
		{Name: str("plan"), Type: str(string(contacts.List)), Options: &[]string{"free", "pro", "enterprise"}},
		{Name: str("score"), Type: str(string(contacts.Number))},
		{Name: str("tier"), Type: str(string(contacts.Text))},
	} {
		fd, err := e.contacts.CreateField(ctx, f.tenantID, in)
		if err != nil {
			return nil, fmt.Errorf("create field %s: %w", *in.Name, err)
		}
		f.fields[fd.Name] = fd
	}
	return f, nil
}

// tokens creates n channel tokens of f through the tenancy service.
func (e *env) tokens(ctx context.Context, f *fixture, n int) ([]string, error) {
	out := make([]string, n)
	err := bench.Parallel(ctx, 8, n, func(ctx context.Context, i int) error {
		t, err := e.tenancy.CreateToken(ctx, f.tenantID, f.channelID, fmt.Sprintf("bench %d", i))
		if err != nil {
			return err
		}
		e.credMu.Lock()
		e.credTenant[t.ID] = f.tenantID
		e.credMu.Unlock()
		out[i] = t.Secret
		return nil
	})
	return out, err
}

// response is one answer of the gateway.
type response struct {
	status int
	body   []byte
	took   time.Duration
}

// get sends GET path with the token and reads the whole answer.
func (e *env) get(ctx context.Context, path, token string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.gatewayURL+path, nil)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	res, err := e.client.Do(req)
	if err != nil {
		return response{}, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	took := time.Since(start)
	if err != nil {
		return response{}, err
	}
	return response{status: res.StatusCode, body: body, took: took}, nil
}

// prime sends one request per token, so that the authorizer cache holds
// every token before anything is measured (as it does for a client that
// called in the last 300 s); it fails on any answer but 200 and returns
// the answers in token order.
func (e *env) prime(ctx context.Context, path string, tokens []string) ([]response, error) {
	out := make([]response, len(tokens))
	err := bench.Parallel(ctx, 4, len(tokens), func(ctx context.Context, i int) error {
		r, err := e.get(ctx, path, tokens[i])
		if err != nil {
			return err
		}
		if r.status != http.StatusOK {
			return fmt.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
		out[i] = r
		return nil
	})
	return out, err
}
