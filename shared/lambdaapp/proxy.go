// Package lambdaapp is the edge between AWS Lambda and the project's plain
// net/http handlers, and knows nothing else: it loads the SDK
// configuration, turns an API Gateway proxy event into an http.Request
// carrying the caller, the path parameters and the public URL, and starts
// handlers in Lambda. It builds no store: shared/wiring does. The local
// gateway calls the very same Proxy, so a route runs the same code in AWS
// and on a laptop.
package lambdaapp

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// ProxyHandler is an API Gateway proxy integration's Lambda handler.
type ProxyHandler = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Proxy turns h into the Lambda handler of an API route: exactly what a
// route's Lambda runs and what the local gateway invokes. The caller (from
// the authorizer's context or IAM), the path parameters and the public URL
// reach h in the request context.
func Proxy(h http.Handler) ProxyHandler {
	adapter := httpadapter.New(h)
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
	}
}

func principalOf(rc events.APIGatewayProxyRequestContext) httpapi.Principal {
	if rc.Identity.UserArn != "" && rc.Authorizer == nil {
		return httpapi.Principal{Kind: httpapi.KindAdmin, CredentialID: rc.Identity.UserArn}
	}
	s := func(k string) string { v, _ := rc.Authorizer[k].(string); return v }
	return httpapi.Principal{
		Kind:           s(httpapi.AuthCtxKind),
		TenantID:       s(httpapi.AuthCtxTenantID),
		ChannelID:      s(httpapi.AuthCtxChannelID),
		ChannelKind:    tenancy.ChannelKind(s(httpapi.AuthCtxChannelKind)),
		CredentialID:   s(httpapi.AuthCtxCredentialID),
		DefaultCountry: s(httpapi.AuthCtxCountry),
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

// Start runs handler in Lambda (any handler lambda.Start takes) with the
// Lambda logger, the Go runtime tuned for the function's memory size.
func Start(handler any) {
	SetLogger()
	TuneRuntime(os.Getenv)
	lambda.Start(handler)
}

// MemorySizeVar is the variable in which Lambda gives a function its
// memory size, in MB.
const MemorySizeVar = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"

// fullVCPUMB is the memory size at which Lambda gives a function one whole
// vCPU; below it the function has a fraction of one.
const fullVCPUMB = 1769

// TuneRuntime sets the Go runtime for the function's memory size (from
// MemorySizeVar; nothing without it) and returns what undoes it:
//
//   - GOMAXPROCS 1 below 1,769 MB: the function has less than one vCPU
//     of time, so a second P only adds threads waking each other (futex)
//     and polling the network while the request's goroutines wait on
//     DynamoDB;
//   - the GC at GOGC 400 under a soft memory limit of three quarters of
//     the memory size: a function's heap is a few MB, so it collects a
//     fifth as often, and collects harder only as the heap nears the
//     limit.
//
// A GOMAXPROCS, GOGC or GOMEMLIMIT set in the environment is left alone.
func TuneRuntime(getenv func(string) string) (undo func()) {
	mb, err := strconv.Atoi(getenv(MemorySizeVar))
	if err != nil || mb <= 0 {
		return func() {}
	}
	procs, gc, limit := -1, -1, int64(-1)
	if getenv("GOMAXPROCS") == "" && mb < fullVCPUMB {
		procs = runtime.GOMAXPROCS(1)
	}
	if getenv("GOGC") == "" {
		gc = debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		limit = debug.SetMemoryLimit(int64(mb) << 20 * 3 / 4)
	}
	return func() {
		if procs > 0 {
			runtime.GOMAXPROCS(procs)
		}
		if gc != -1 {
			debug.SetGCPercent(gc)
		}
		if limit >= 0 {
			debug.SetMemoryLimit(limit)
		}
	}
}

// SetLogger makes slog write Lambda's structured logs.
func SetLogger() { slog.SetDefault(lambdacontext.NewLogger()) }

// Fatal reports an init failure: Lambda records it as an init error.
func Fatal(err error) {
	slog.Error("init failed", "err", err)
	os.Exit(1)
}

// StreamHandler is a DynamoDB stream consumer with ReportBatchItemFailures.
type StreamHandler = func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// QueueHandler is an SQS consumer with ReportBatchItemFailures.
type QueueHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
