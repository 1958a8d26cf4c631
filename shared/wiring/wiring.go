// Package wiring is the composition root: it reads the configuration,
// builds the DynamoDB stores and hands every handler the ports it declares.
// Dependencies point one way: functions/<fn>/main.go → wiring → handlers
// (shared/*api, router, dispatch) → domain (tenancy, contacts, connections)
// ← adapters (ddbstore). Handler packages never import wiring: each declares
// a Ports interface of what it needs, and *Env satisfies every one of them,
// except the messaging handlers' (chatapi, messageapi, templateapi, sender,
// the WhatsApp intake): shared/wiring/messaging's Env, a *Env with the
// WhatsApp Cloud API and the sender's providers, satisfies theirs, so that
// only their functions link those.
package wiring

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/authcache"
	"github.com/startmsg/chatbackend/shared/authorizer"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddblean"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/idempotency"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/limits"
	"github.com/startmsg/chatbackend/shared/messenger"
	"github.com/startmsg/chatbackend/shared/ratelimit"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wahook"
)

// Env is what one function instance is built from: the SDK configuration,
// the DynamoDB client and the settings, read once during init. Only the
// DynamoDB client is built here: a handler that needs SQS builds its client
// from AWSConfig, so the others stay smaller.
type Env struct {
	AWS aws.Config
	DDB *dynamodb.Client
	// Lean is the stores' DynamoDB client: DDB's operations over the lean
	// path (a *ddblean.Client); nil sends the stores to DDB. An interface,
	// so that a function that never sets it does not link the lean client.
	Lean      ddbstore.API
	DataTable string // appenv.TableName
	OpsTable  string // appenv.OpsTableName: the operations table
	QueueURL  string
	DLQURL    string
	Stage     string
	Getenv    func(string) string
	Now       func() time.Time
	// PhoneParser normalises phone numbers; nil in the functions that parse
	// none (WithPhone sets it, so only those link the phone library).
	PhoneParser contacts.PhoneNormalizer
	// FixedLineCheck reports whether an E.164 number is a fixed line (no
	// SMS reaches it); nil where no phone library is linked.
	FixedLineCheck func(string) bool
	// AuthCacheFlusher drops the API's cached authorizer answers: set by
	// WithAuthCache in the functions that revoke or rotate credentials, and
	// by the local gateway; nil elsewhere.
	AuthCacheFlusher authcache.Flusher
	// Limits are the stage's per-tenant limits (shared/limits, from the
	// environment; defaults where unset).
	Limits limits.Limits
	// Messaging is what tests and the local stack put in place of the
	// messaging adapters (a *messaging.Overrides, shared/wiring/messaging);
	// nil: the real ones. An any, so that wiring does not link them: only
	// the messaging functions do.
	Messaging any
	// optErr is an Option's failure, reported as an init error.
	optErr error
}

// FromConfig builds an Env from an SDK config and an environment, its
// stores on the lean DynamoDB path.
func FromConfig(cfg aws.Config, getenv func(string) string) *Env {
	e := envFrom(cfg, getenv)
	withLean(e)
	return e
}

// withLean puts the stores on the lean DynamoDB path (shared/ddblean). The
// queue consumers (the dispatcher) leave it out: their DynamoDB calls are
// a batch's few, and it would take their binaries over their size budget.
func withLean(e *Env) { e.Lean = ddblean.New(e.DDB) }

// envFrom is FromConfig without the lean DynamoDB path (the stores use DDB).
func envFrom(cfg aws.Config, getenv func(string) string) *Env {
	lim, err := limits.FromEnv(getenv)
	if err != nil {
		lim = limits.Defaults() // and the init fails (Load)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	return &Env{
		Limits:    lim,
		optErr:    err,
		AWS:       cfg,
		DDB:       ddb,
		DataTable: getenv(appenv.TableName),
		OpsTable:  getenv(appenv.OpsTableName),
		QueueURL:  getenv(appenv.QueueURL),
		DLQURL:    getenv(appenv.DLQURL),
		Stage:     getenv(appenv.Stage),
		Getenv:    getenv,
		Now:       time.Now,
	}
}

// Load reads the default SDK configuration and the process environment.
func Load(ctx context.Context) (*Env, error) {
	e, err := load(ctx)
	if err == nil {
		withLean(e)
	}
	return e, err
}

// load is Load without the lean DynamoDB path.
func load(ctx context.Context) (*Env, error) {
	cfg, err := lambdaapp.LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	e := envFrom(cfg, os.Getenv)
	for name, v := range map[string]string{appenv.TableName: e.DataTable, appenv.OpsTableName: e.OpsTable} {
		if v == "" {
			return nil, fmt.Errorf("%s is not set", name)
		}
	}
	if err := CheckLoopback(e.Getenv); err != nil {
		return nil, err
	}
	if e.optErr != nil {
		return nil, e.optErr // a limit set out of range (limits.FromEnv)
	}
	return e, nil
}

// CheckLoopback refuses ALLOW_LOOPBACK_TARGETS=true outside a local stage:
// it opens the SSRF guard to loopback targets and plain HTTP, which only a
// stack on this machine may do. A function started that way fails its init.
func CheckLoopback(getenv func(string) string) error {
	if getenv(appenv.AllowLoopbackTargets) == "true" && !appenv.IsLocalStage(getenv(appenv.Stage)) {
		return fmt.Errorf("%s=true is allowed only on a local stage (%s one of %s), and %s is %q: unset %s",
			appenv.AllowLoopbackTargets, appenv.Stage, strings.Join(appenv.LocalStages, ", "), appenv.Stage, getenv(appenv.Stage), appenv.AllowLoopbackTargets)
	}
	return nil
}

// Option adjusts an Env before the handler is built.
type Option func(*Env)

// WithPhone gives the handlers a phone normaliser (shared/phone): only the
// functions that parse phone numbers pass it.
func WithPhone(p contacts.PhoneNormalizer) Option { return func(e *Env) { e.PhoneParser = p } }

// WithFixedLine gives the handlers the phone library's fixed-line check
// (phone.FixedLine): the functions that send SMS refuse such numbers.
func WithFixedLine(f func(string) bool) Option { return func(e *Env) { e.FixedLineCheck = f } }

// WithAuthCache gives the handlers the flusher of the API's authorizer
// cache, built from the SDK configuration and the environment (in AWS:
// awsflush.New). Only the functions of authcache.FlushesAuthorizerCache
// pass it; a failure to build it is an init error.
func WithAuthCache(build func(aws.Config, func(string) string) (authcache.Flusher, error)) Option {
	return func(e *Env) {
		f, err := build(e.AWS, e.Getenv)
		if err != nil {
			e.optErr = err
			return
		}
		e.AuthCacheFlusher = f
	}
}

// The adapters, for the wiring itself, the local stack and the tests.

// StoreAPI is the DynamoDB client the stores use: Lean, or DDB without it.
func (e *Env) StoreAPI() ddbstore.API {
	if e.Lean != nil {
		return e.Lean
	}
	return e.DDB
}

// Tenancy is the tenancy store on the data table.
func (e *Env) Tenancy() *ddbstore.Tenancy {
	return &ddbstore.Tenancy{API: e.StoreAPI(), Table: e.DataTable}
}

// Contacts is the contacts store on the data table, with its search index
// on the operations table.
func (e *Env) Contacts() *ddbstore.Contacts {
	return &ddbstore.Contacts{API: e.StoreAPI(), Table: e.DataTable, OpsTable: e.OpsTable, MaxContacts: e.Limits.ContactsPerTenant}
}

// Connections is the connections store: connections and dead deliveries on
// the data table, attempts on the operations table.
func (e *Env) Connections() *ddbstore.Connections {
	return &ddbstore.Connections{API: e.StoreAPI(), Table: e.DataTable, OpsTable: e.OpsTable}
}

// The ports, as the handler packages declare them.

// TenancyStore is the tenancy store as the domain sees it.
func (e *Env) TenancyStore() tenancy.Store { return e.Tenancy() }

// ContactStore is the contacts store as the domain sees it.
func (e *Env) ContactStore() contacts.Store { return e.Contacts() }

// ConnectionStore is the connections store as the domain sees it.
func (e *Env) ConnectionStore() connections.Store { return e.Connections() }

// IdempotencyStore keeps Idempotency-Key records on the operations table.
func (e *Env) IdempotencyStore() idempotency.Store {
	return &ddbstore.Idempotency{API: e.StoreAPI(), OpsTable: e.OpsTable}
}

// MessengerInbox keeps verified Messenger webhook calls on the data table.
func (e *Env) MessengerInbox() messenger.Inbox {
	return &ddbstore.Inbox{API: e.StoreAPI(), Table: e.DataTable}
}

// WhatsAppStore is the tenancy store's WhatsApp credentials and instance ids.
func (e *Env) WhatsAppStore() tenancy.WhatsAppStore { return e.Tenancy() }

// TwilioStore is the tenancy store's Twilio credentials (SMS and voice
// channels).
func (e *Env) TwilioStore() tenancy.TwilioStore { return e.Tenancy() }

// WhatsAppLookup finds the channels of a WhatsApp webhook call.
func (e *Env) WhatsAppLookup() wahook.Lookup { return e.Tenancy() }

// WhatsAppInbox keeps verified WhatsApp webhook calls on the data table.
func (e *Env) WhatsAppInbox() wahook.Inbox {
	return &ddbstore.WAInbox{API: e.StoreAPI(), Table: e.DataTable}
}

// WhatsAppMarks remembers the WhatsApp messages recorded, by wamid.
func (e *Env) WhatsAppMarks() wahook.Marks {
	return &ddbstore.WAMarks{API: e.StoreAPI(), OpsTable: e.OpsTable}
}

// Phone is the phone normaliser, nil unless WithPhone set it.
func (e *Env) Phone() contacts.PhoneNormalizer { return e.PhoneParser }

// FixedLine is the fixed-line check (nil without the phone library).
func (e *Env) FixedLine() func(string) bool { return e.FixedLineCheck }

// AuthCache is the flusher of the API's authorizer cache (nil unless
// WithAuthCache or the local gateway set it).
func (e *Env) AuthCache() authcache.Flusher { return e.AuthCacheFlusher }

// TenantLimits are the stage's per-tenant limits.
func (e *Env) TenantLimits() limits.Limits { return e.Limits }

// Clock is the time source.
func (e *Env) Clock() func() time.Time { return e.Now }

// Setting reads one environment setting.
func (e *Env) Setting(key string) string { return e.Getenv(key) }

// AWSConfig is the SDK configuration, for the handlers that build an SQS
// client.
func (e *Env) AWSConfig() aws.Config { return e.AWS }

// Queues are the deliveries queue's and its DLQ's URLs.
func (e *Env) Queues() (deliveries, dlq string) { return e.QueueURL, e.DLQURL }

// RateLimit is the calls per minute a credential may make (seed 001).
const RateLimit = 100

// Limiter is the per-credential rate limiter on the operations table.
func (e *Env) Limiter() *ratelimit.Limiter {
	return &ratelimit.Limiter{
		Counter: &ddbstore.RateCounter{API: e.StoreAPI(), OpsTable: e.OpsTable},
		Limit:   RateLimit,
		Window:  time.Minute,
		Now:     e.Now,
	}
}

// Builder makes a route's handler from the instance's Env. It runs once,
// during init, and must be cheap.
type Builder func(*Env) http.Handler

// Builders maps function names to their builders.
type Builders map[string]Builder

// Route adapts a handler builder that takes its package's Ports interface
// P to a Builder: *Env must satisfy P (registry's tests check every one).
func Route[P any](build func(P) http.Handler) Builder {
	return func(e *Env) http.Handler { return build(ports[P](e)) }
}

// ports is e as the port interface P.
func ports[P any](e *Env) P {
	p, ok := any(e).(P)
	if !ok {
		var zero P
		panic(fmt.Sprintf("wiring: *Env does not implement %T", &zero))
	}
	return p
}

// APIHandler is the Lambda handler of the named API function: its route's
// handler behind the shared middleware, behind the proxy conversion. It is
// exactly what StartAPI gives lambda.Start and what the local gateway
// invokes.
func APIHandler(e *Env, name string, builders Builders) (lambdaapp.ProxyHandler, error) {
	route, ok := routes.ByFunction(name)
	if !ok {
		return nil, fmt.Errorf("function %q has no route", name)
	}
	build, ok := builders[name]
	if !ok {
		return nil, fmt.Errorf("function %q has no builder", name)
	}
	return lambdaapp.Proxy(httpapi.Wrap(route, e.Limiter(), e.Now, build(e))), nil
}

// StartAPI runs the named API function in Lambda, its handler built by
// build from the ports its package declares.
func StartAPI[P any](name string, build func(P) http.Handler, opts ...Option) {
	startAPI(name, build, append(opts, withLean))
}

// StartRoute is StartAPI with the handler's Builder (a messaging route's:
// shared/wiring/messaging).
func StartRoute(name string, b Builder, opts ...Option) {
	startRoute(name, b, append(opts, withLean))
}

// StartAPIWithSDKStores is StartAPI with the stores on the SDK's DynamoDB
// client instead of the lean one: for a route whose time goes elsewhere
// (connection-test waits on the target for up to 10 s; delivery-dead-redrive
// reads one item and queues one message), so that its binary does not link
// the lean client and stays within its size budget.
func StartAPIWithSDKStores[P any](name string, build func(P) http.Handler, opts ...Option) {
	startAPI(name, build, opts)
}

func startAPI[P any](name string, build func(P) http.Handler, opts []Option) {
	startRoute(name, Route(build), opts)
}

func startRoute(name string, b Builder, opts []Option) {
	e := mustLoad(opts)
	h, err := APIHandler(e, name, Builders{name: b})
	if err != nil {
		lambdaapp.Fatal(err)
	}
	lambdaapp.Start(lambdaapp.Invoker{H: h})
}

// Authorizer is the REQUEST authorizer on the tenancy store.
func Authorizer(e *Env) func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	return authorizer.Handler(e.Tenancy())
}

// StartAuthorizer runs the REQUEST authorizer in Lambda.
func StartAuthorizer() { lambdaapp.Start(Authorizer(mustLoad([]Option{withLean}))) }

// StartStream runs a table-stream consumer, built from its ports, in Lambda
// (opts: WithPhone for a consumer that parses phone numbers).
func StartStream[P any](build func(P) lambdaapp.StreamHandler, opts ...Option) {
	lambdaapp.Start(build(ports[P](mustLoad(append(opts, withLean)))))
}

// StartStreamWith is StartStream with the consumer's builder on the Env (a
// messaging consumer's: shared/wiring/messaging).
func StartStreamWith(build func(*Env) lambdaapp.StreamHandler, opts ...Option) {
	lambdaapp.Start(build(mustLoad(append(opts, withLean))))
}

// StartQueue runs a queue consumer, built from its ports, in Lambda; its
// stores use the SDK's DynamoDB client (see withLean).
func StartQueue[P any](build func(P) lambdaapp.QueueHandler) {
	lambdaapp.Start(build(ports[P](mustLoad(nil))))
}

// StartQueueWith is StartQueue with the consumer's builder on the Env (a
// messaging consumer's: shared/wiring/messaging).
func StartQueueWith(build func(*Env) lambdaapp.QueueHandler) {
	lambdaapp.Start(build(mustLoad(nil)))
}

// Stream adapts a stream consumer's builder to the Env (registry, tests).
func Stream[P any](build func(P) lambdaapp.StreamHandler) func(*Env) lambdaapp.StreamHandler {
	return func(e *Env) lambdaapp.StreamHandler { return build(ports[P](e)) }
}

// Queue adapts a queue consumer's builder to the Env (registry, tests).
func Queue[P any](build func(P) lambdaapp.QueueHandler) func(*Env) lambdaapp.QueueHandler {
	return func(e *Env) lambdaapp.QueueHandler { return build(ports[P](e)) }
}

func mustLoad(opts []Option) *Env {
	lambdaapp.SetLogger()
	e, err := load(context.Background())
	if err != nil {
		lambdaapp.Fatal(err)
	}
	for _, o := range opts {
		o(e)
	}
	if e.optErr != nil {
		lambdaapp.Fatal(e.optErr)
	}
	return e
}
