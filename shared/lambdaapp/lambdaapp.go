// Package lambdaapp is the edge between AWS Lambda and the project's plain
// net/http handlers: it loads configuration and SDK clients once per
// instance, turns an API Gateway proxy event into an http.Request carrying
// the caller and path parameters, and wraps every route with the shared
// middleware. The local gateway calls the very same functions, so a route
// runs the same code in AWS and on a laptop.
package lambdaapp

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/authorizer"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/ratelimit"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Deps are the resources every function may use, built once per instance.
// Only the DynamoDB client is built here: a function that needs SQS builds
// its client from AWS in its Builder, so the others stay smaller.
type Deps struct {
	AWS      aws.Config
	DDB      *dynamodb.Client
	Table    string // the data table (appenv.TableName)
	OpsTable string // the operations table (appenv.OpsTableName)
	QueueURL string
	DLQURL   string
	Stage    string
	Getenv   func(string) string
	Now      func() time.Time
}

// FromConfig builds Deps from an SDK config and an environment.
func FromConfig(cfg aws.Config, getenv func(string) string) *Deps {
	return &Deps{
		AWS:      cfg,
		DDB:      dynamodb.NewFromConfig(cfg),
		Table:    getenv(appenv.TableName),
		OpsTable: getenv(appenv.OpsTableName),
		QueueURL: getenv(appenv.QueueURL),
		DLQURL:   getenv(appenv.DLQURL),
		Stage:    getenv(appenv.Stage),
		Getenv:   getenv,
		Now:      time.Now,
	}
}

// Load reads the default SDK configuration (AWS_ENDPOINT_URL_* point it at
// the emulators locally) and the process environment.
func Load(ctx context.Context) (*Deps, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	d := FromConfig(cfg, os.Getenv)
	for name, v := range map[string]string{appenv.TableName: d.Table, appenv.OpsTableName: d.OpsTable} {
		if v == "" {
			return nil, fmt.Errorf("%s is not set", name)
		}
	}
	return d, nil
}

// Tenancy returns the tenancy store on the data table.
func (d *Deps) Tenancy() *ddbstore.Tenancy { return &ddbstore.Tenancy{API: d.DDB, Table: d.Table} }

// Builder makes a route's handler from the instance's Deps. It runs once,
// during init, and must be cheap.
type Builder func(d *Deps) http.Handler

// Builders maps function names to their builders (one map per API package).
type Builders map[string]Builder

// APIHandler is the Lambda handler of the named function: exactly what
// StartAPI gives lambda.Start and what the local gateway invokes.
func APIHandler(d *Deps, name string, builders Builders) (func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error), error) {
	route, ok := routes.ByFunction(name)
	if !ok {
		return nil, fmt.Errorf("function %q has no route", name)
	}
	build, ok := builders[name]
	if !ok {
		return nil, fmt.Errorf("function %q has no builder", name)
	}
	limiter := &ratelimit.Limiter{
		Counter: &ddbstore.RateCounter{API: d.DDB, Table: d.OpsTable},
		Limit:   RateLimit,
		Window:  time.Minute,
		Now:     d.Now,
	}
	adapter := httpadapter.New(httpapi.Wrap(route, limiter, d.Now, build(d)))
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		ctx = httpapi.WithPathParams(ctx, ev.PathParameters)
		ctx = httpapi.WithPrincipal(ctx, principalOf(ev.RequestContext))
		ctx = httpapi.WithPublicURL(ctx, publicURL(ev))
		// API Gateway hands over the path decoded; the adapter parses it as
		// a URL, so a "%" in a path parameter would not survive. Handlers
		// read parameters from PathParameters, never from the URL.
		ev.Path = (&url.URL{Path: ev.Path}).EscapedPath()
		res, err := adapter.ProxyWithContext(ctx, ev)
		if err != nil {
			// Only an event the adapter cannot read ends here (a broken
			// base64 body); answer in the envelope rather than with a 502.
			slog.ErrorContext(ctx, "proxy event", "err", err)
			return events.APIGatewayProxyResponse{
				StatusCode: http.StatusBadRequest,
				Headers:    map[string]string{"Content-Type": "application/json"},
				Body:       string(httpapi.ErrorBody("The request could not be read.")),
			}, nil
		}
		return res, nil
	}, nil
}

// RateLimit is the calls per minute a credential may make (seed 001).
const RateLimit = 100

func principalOf(rc events.APIGatewayProxyRequestContext) httpapi.Principal {
	if rc.Identity.UserArn != "" && rc.Authorizer == nil {
		return httpapi.Principal{Kind: httpapi.KindAdmin, CredentialID: rc.Identity.UserArn}
	}
	s := func(k string) string { v, _ := rc.Authorizer[k].(string); return v }
	return httpapi.Principal{
		Kind:           s(authorizer.CtxKind),
		TenantID:       s(authorizer.CtxTenantID),
		ChannelID:      s(authorizer.CtxChannelID),
		ChannelKind:    tenancy.ChannelKind(s(authorizer.CtxChannelKind)),
		CredentialID:   s(authorizer.CtxCredentialID),
		DefaultCountry: s(authorizer.CtxCountry),
	}
}

// publicURL is the URL the client called: API Gateway reports the full
// path (with the stage, or a custom domain's base path) in the request
// context, and the scheme in X-Forwarded-Proto.
func publicURL(ev events.APIGatewayProxyRequest) *url.URL {
	h := http.Header(ev.MultiValueHeaders)
	if len(h) == 0 {
		h = http.Header{}
		for k, v := range ev.Headers {
			h.Set(k, v)
		}
	}
	scheme := h.Get("X-Forwarded-Proto")
	if scheme != "http" {
		scheme = "https"
	}
	host := h.Get("Host")
	if host == "" {
		host = ev.RequestContext.DomainName
	}
	path := ev.RequestContext.Path
	if path == "" {
		path = ev.Path
	}
	return &url.URL{Scheme: scheme, Host: host, Path: path}
}

// StartAPI runs the named API function in Lambda.
func StartAPI(name string, builders Builders) {
	setLogger()
	d := mustLoad()
	h, err := APIHandler(d, name, builders)
	if err != nil {
		fatal(err)
	}
	lambda.Start(h)
}

// StartAuthorizer runs the REQUEST authorizer in Lambda.
func StartAuthorizer() {
	setLogger()
	d := mustLoad()
	lambda.Start(authorizer.Handler(d.Tenancy()))
}

func setLogger() { slog.SetDefault(lambdacontext.NewLogger()) }

func mustLoad() *Deps {
	d, err := Load(context.Background())
	if err != nil {
		fatal(err)
	}
	return d
}

// fatal reports an init failure: Lambda records it as an init error.
func fatal(err error) {
	slog.Error("init failed", "err", err)
	os.Exit(1)
}

// StreamHandler is a DynamoDB stream consumer with ReportBatchItemFailures.
type StreamHandler = func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// QueueHandler is an SQS consumer with ReportBatchItemFailures.
type QueueHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// StartStream runs a stream consumer in Lambda.
func StartStream(build func(*Deps) StreamHandler) {
	setLogger()
	lambda.Start(build(mustLoad()))
}

// StartQueue runs a queue consumer in Lambda.
func StartQueue(build func(*Deps) QueueHandler) {
	setLogger()
	lambda.Start(build(mustLoad()))
}

// Connections returns the connections store: connections and dead
// deliveries on the data table, attempts on the operations table.
func (d *Deps) Connections() *ddbstore.Connections {
	return &ddbstore.Connections{API: d.DDB, Table: d.Table, Ops: d.OpsTable}
}

// Contacts is the contacts store on the data table, with its search index
// on the operations table.
func (d *Deps) Contacts() *ddbstore.Contacts {
	return &ddbstore.Contacts{API: d.DDB, Table: d.Table, Index: d.OpsTable}
}
