package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/startmsg/chatbackend/shared/routes"
)

// API settings.
const (
	// authorizerCacheTTL is how long API Gateway caches an authorizer's
	// answer per identity (the token). Revoking a token or rotating an
	// account secret flushes the stage's cache (addAuthCacheFlush), so the
	// old credential stops at once. The cached policy allows the whole API,
	// so the cache is shared across routes; the functions check the
	// credential kind themselves.
	authorizerCacheTTL = 300 * time.Second

	// Stage-wide method throttling (token bucket per account and stage, on
	// top of the per-credential limit the functions enforce).
	throttleBurst = 200
	throttleRate  = 100

	// headerIdentity and queryIdentity are the authorizers' identity
	// sources. API Gateway answers 401 without invoking the authorizer when
	// the source is missing.
	headerIdentity = "method.request.header.Authorization"
	queryIdentity  = "method.request.querystring.token"
)

// accessLogFormat is one JSON line per request on the stage's access log.
// $context.authorizer.tenantId is what the authorizer put in its context.
var accessLogFormat = `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",` +
	`"requestTime":"$context.requestTime","method":"$context.httpMethod",` +
	`"resourcePath":"$context.resourcePath","path":"$context.path","status":"$context.status",` +
	`"latency":"$context.responseLatency","integrationLatency":"$context.integrationLatency",` +
	`"responseLength":"$context.responseLength","errorType":"$context.error.responseType",` +
	`"tenant":"$context.authorizer.tenantId","userAgent":"$context.identity.userAgent"}`

// errorEnvelope is the API's error body. message must be a JSON value: a
// quoted literal, or a template variable that is already quoted such as
// $context.error.messageString.
func errorEnvelope(message string) string {
	return `{"status":"error","message":` + message + `,"data":[]}`
}

// quoted turns a literal message into a JSON string.
func quoted(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a string always marshals
	}
	return string(b)
}

// gatewayResponse is API Gateway's own answer for one kind of failure
// (before or instead of a function), rewritten into the API's envelope.
type gatewayResponse struct {
	id      string
	typ     func() awsapigateway.ResponseType
	status  string // "" keeps API Gateway's status
	message string // JSON value, see errorEnvelope
	headers map[string]string
}

// gatewayResponses lists every rewritten gateway response.
// MISSING_AUTHENTICATION_TOKEN is what API Gateway answers for an unknown
// path (and for an IAM route called without a signature), hence 404.
var gatewayResponses = []gatewayResponse{
	{"NotFound", awsapigateway.ResponseType_MISSING_AUTHENTICATION_TOKEN, "404", quoted("Not found."), nil},
	{"ResourceNotFound", awsapigateway.ResponseType_RESOURCE_NOT_FOUND, "404", quoted("Not found."), nil},
	{"Unauthorized", awsapigateway.ResponseType_UNAUTHORIZED, "401", quoted("API Token is invalid."), nil},
	{"AccessDenied", awsapigateway.ResponseType_ACCESS_DENIED, "403", quoted("Forbidden."), nil},
	{"Throttled", awsapigateway.ResponseType_THROTTLED, "429", quoted("Too many requests"),
		map[string]string{"Retry-After": "60"}},
	{"RequestTooLarge", awsapigateway.ResponseType_REQUEST_TOO_LARGE, "413", quoted("Request body is too large (max 256 KB)."), nil},
	{"BadRequestBody", awsapigateway.ResponseType_BAD_REQUEST_BODY, "400", "$context.error.messageString", nil},
	{"BadRequestParameters", awsapigateway.ResponseType_BAD_REQUEST_PARAMETERS, "400", "$context.error.messageString", nil},
	{"Default4xx", awsapigateway.ResponseType_DEFAULT_4XX, "", "$context.error.messageString", nil},
	{"Default5xx", awsapigateway.ResponseType_DEFAULT_5XX, "", quoted("Internal server error."), nil},
}

// addAPI declares the REST API from the route table: one resource per path
// segment, one Lambda proxy method per route with its authorization, the gateway
// responses, and a stage with access logs, metrics and throttling.
func (b *backend) addAPI(rts []routes.Route) awsapigateway.RestApi {
	accessLogs := awslogs.NewLogGroup(b.stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     b.logRetention(),
		RemovalPolicy: b.removalPolicy(),
		EncryptionKey: b.key,
	})
	api := awsapigateway.NewRestApi(b.stack, jsii.String("Api"), &awsapigateway.RestApiProps{
		RestApiName:   jsii.String("chatbackend-" + b.stage),
		Description:   jsii.String("Chat marketing backend (" + b.stage + ")"),
		EndpointTypes: &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		// Access logging needs the account-level API Gateway CloudWatch
		// role; CDK creates it (AWS::ApiGateway::Account) and retains it.
		CloudWatchRole: jsii.Bool(true),
		// Responses of at least this many bytes are compressed for clients
		// that accept gzip or deflate (the panel's script and styles, long
		// lists), and compressed request bodies are accepted; the local
		// gateway does the same (infra/local/gateway/compress.go).
		MinCompressionSize: awscdk.Size_Bytes(jsii.Number(routes.MinCompressionSize)),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(b.stage),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
			AccessLogFormat:      awsapigateway.AccessLogFormat_Custom(jsii.String(accessLogFormat)),
			MetricsEnabled:       jsii.Bool(true),
			ThrottlingBurstLimit: jsii.Number(throttleBurst),
			ThrottlingRateLimit:  jsii.Number(throttleRate),
			// Execution logs of errors only (never request or response
			// bodies: they hold secrets), and X-Ray tracing.
			LoggingLevel:     awsapigateway.MethodLoggingLevel_ERROR,
			DataTraceEnabled: jsii.Bool(false),
			TracingEnabled:   jsii.Bool(true),
		},
	})
	// The stage's execution logs (errors only) go to the log group API
	// Gateway names after the API and stage; declared here, before the
	// stage, so that it has the retention and the key of the others.
	execLogs := awslogs.NewLogGroup(b.stack, jsii.String("ApiExecutionLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("API-Gateway-Execution-Logs_" + *api.RestApiId() + "/" + b.stage),
		Retention:     b.logRetention(),
		RemovalPolicy: b.removalPolicy(),
		EncryptionKey: b.key,
	})
	api.DeploymentStage().Node().AddDependency(execLogs)
	bodies := newBodyValidation(api)

	auth := b.newAuthorizers()
	// Each route function is invoked with its area's invoke role (its
	// first route's tag, as areaOf places it).
	roleFns := map[string][]string{}
	roleOf := map[string]string{}
	for _, r := range rts {
		if _, ok := b.functions[r.Function]; ok && roleOf[r.Function] == "" {
			id := invokeRoleOf(tagAreas[r.Tag])
			roleOf[r.Function] = id
			roleFns[id] = append(roleFns[id], r.Function)
		}
	}
	invoke := map[string]awsiam.Role{}
	for _, id := range invokeRoles {
		if len(roleFns[id]) > 0 {
			invoke[id] = b.newInvokeRole(id, roleFns[id])
		}
	}
	for _, r := range rts {
		fn, ok := b.functions[r.Function]
		if !ok {
			panic(fmt.Sprintf("infra: route %s %s: no function %q", r.Method, r.Path, r.Function))
		}
		opts := auth.methodOptions(r)
		opts.OperationName = jsii.String(r.Function)
		bodies.apply(r, opts)
		res := api.Root().ResourceForPath(jsii.String(r.Path))
		m := res.AddMethod(jsii.String(strings.ToUpper(r.Method)), lambdaProxy(fn, invoke[roleOf[r.Function]]), opts)
		if r.Auth == routes.AuthNone {
			suppress(m, false, nag("AwsSolutions-APIG4", publicReason(r)))
		}
	}
	// No ANY mock answers 405 on each path: those were one method
	// resource per path (57), which the stack's 500-resource limit cannot
	// spare. A method a path does not have gets API Gateway's
	// MISSING_AUTHENTICATION_TOKEN, rewritten below into the 404 envelope
	// ("Not found."); the local gateway, which has no such limit, answers
	// 405 in the envelope (README, "Errors").

	for _, g := range gatewayResponses {
		headers := map[string]*string{"Content-Type": jsii.String("'application/json'")}
		for k, v := range g.headers {
			headers[k] = jsii.String("'" + v + "'")
		}
		opts := &awsapigateway.GatewayResponseOptions{
			Type:            g.typ(),
			ResponseHeaders: &headers,
			Templates:       &map[string]*string{"application/json": jsii.String(errorEnvelope(g.message))},
		}
		if g.status != "" {
			opts.StatusCode = jsii.String(g.status)
		}
		api.AddGatewayResponse(jsii.String("GatewayResponse"+g.id), opts)
	}
	// Last, so that they reach every method and the account's role.
	suppress(api, true,
		nag("AwsSolutions-IAM4", "The account-level role API Gateway writes its logs with (AWS::ApiGateway::Account) has AWS's own policy for it; no function role has a managed policy.",
			"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"),
		nag("AwsSolutions-COG4", "The API has no Cognito users: channel tokens and account secrets are checked by the REQUEST authorizer, the admin API by IAM (SigV4); the public routes are listed under AwsSolutions-APIG4."))
	return api
}

// publicReason says why a public route has no authorization (cdk-nag
// AwsSolutions-APIG4).
func publicReason(r routes.Route) string {
	if strings.HasPrefix(r.Path, "/v1/webhooks/") {
		return "Called by Meta's servers, which carry no credential of ours: the channel's verify_token authenticates the GET handshake, " +
			"and the X-Hub-Signature-256 HMAC with the channel's app_secret every POST (checked by the function before anything is written)."
	}
	return "Public by design: " + r.Summary + "."
}

// bodyValidation is API Gateway's request validation for the routes that
// read a JSON body: the body must be JSON of the document's top-level type
// (an object, or an array for /v1/actions) before the function is invoked.
// The exact schemas stay with the functions: the OpenAPI document's
// schemas are JSON Schema 2020-12 with $refs between components, API
// Gateway's models draft-04 without them, and a body refused by the
// gateway would get API Gateway's message ("Invalid request body") instead
// of the function's, which names the field, and differ from `make run`.
type bodyValidation struct {
	validator awsapigateway.RequestValidator
	models    map[string]awsapigateway.Model // by top-level JSON type
	types     map[string]string              // "METHOD path" -> top-level type of a required body
}

func newBodyValidation(api awsapigateway.RestApi) *bodyValidation {
	v := &bodyValidation{models: map[string]awsapigateway.Model{}, types: bodyTypes(routes.Document)}
	v.validator = api.AddRequestValidator(jsii.String("Validator"), &awsapigateway.RequestValidatorOptions{
		RequestValidatorName:      jsii.String("json-body"),
		ValidateRequestBody:       jsii.Bool(true),
		ValidateRequestParameters: jsii.Bool(true),
	})
	for _, typ := range []struct {
		name string
		t    awsapigateway.JsonSchemaType
	}{{"object", awsapigateway.JsonSchemaType_OBJECT}, {"array", awsapigateway.JsonSchemaType_ARRAY}} {
		v.models[typ.name] = api.AddModel(jsii.String("Json"+strings.ToUpper(typ.name[:1])+typ.name[1:]), &awsapigateway.ModelOptions{
			ContentType: jsii.String("application/json"),
			Schema: &awsapigateway.JsonSchema{
				Schema: awsapigateway.JsonSchemaVersion_DRAFT4,
				Title:  jsii.String("Json" + typ.name),
				Type:   typ.t,
			},
		})
	}
	return v
}

// apply adds the validator and the model to a route's method options when
// the route requires a JSON body.
func (v *bodyValidation) apply(r routes.Route, opts *awsapigateway.MethodOptions) {
	typ, ok := v.types[strings.ToUpper(r.Method)+" "+r.Path]
	if !ok || !r.Body {
		return
	}
	model, ok := v.models[typ]
	if !ok {
		panic(fmt.Sprintf("infra: route %s %s: a body of type %q has no model", r.Method, r.Path, typ))
	}
	opts.RequestValidator = v.validator
	opts.RequestModels = &map[string]awsapigateway.IModel{"application/json": model}
}

// bodyTypes reads, from the OpenAPI document, the top-level JSON type of
// every required request body, by "METHOD path".
func bodyTypes(doc []byte) map[string]string {
	type schema struct {
		Type string `json:"type"`
		Ref  string `json:"$ref"`
	}
	var d struct {
		Paths map[string]map[string]struct {
			RequestBody *struct {
				Required bool `json:"required"`
				Content  map[string]struct {
					Schema schema `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		panic(fmt.Sprintf("infra: the OpenAPI document: %v", err))
	}
	out := map[string]string{}
	for path, ops := range d.Paths {
		for method, op := range ops {
			if op.RequestBody == nil || !op.RequestBody.Required {
				continue
			}
			s := op.RequestBody.Content["application/json"].Schema
			if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
				s = d.Components.Schemas[name]
			}
			out[strings.ToUpper(method)+" "+path] = s.Type
		}
	}
	return out
}

// authorizers creates the REQUEST authorizers on first use (an authorizer
// no method uses fails CDK validation). Both run the same function.
type authorizers struct {
	b             *backend
	header, query awsapigateway.RequestAuthorizer
}

func (b *backend) newAuthorizers() *authorizers { return &authorizers{b: b} }

// authorizer returns (creating once) the REQUEST authorizer keyed on the
// given identity source.
func (a *authorizers) authorizer(slot *awsapigateway.RequestAuthorizer, id, name, identity string) awsapigateway.RequestAuthorizer {
	if *slot != nil {
		return *slot
	}
	fn, ok := a.b.functions[routes.Authorizer]
	if !ok {
		panic(fmt.Sprintf("infra: authenticated routes need the %q event function", routes.Authorizer))
	}
	*slot = awsapigateway.NewRequestAuthorizer(a.b.stack, jsii.String(id), &awsapigateway.RequestAuthorizerProps{
		Handler:         fn,
		AuthorizerName:  jsii.String(name),
		IdentitySources: jsii.Strings(identity),
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(authorizerCacheTTL.Seconds())),
	})
	return *slot
}

// methodOptions maps a route's Auth to its method's authorization.
func (a *authorizers) methodOptions(r routes.Route) *awsapigateway.MethodOptions {
	switch r.Auth {
	case routes.AuthNone:
		return &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_NONE}
	case routes.AuthAdmin:
		return &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_IAM}
	case routes.AuthChannel, routes.AuthAccount, routes.AuthChannelOrAccount:
		return &awsapigateway.MethodOptions{
			AuthorizationType: awsapigateway.AuthorizationType_CUSTOM,
			Authorizer:        a.authorizer(&a.header, "HeaderAuthorizer", "authorization-header", headerIdentity),
		}
	case routes.AuthChannelQuery:
		return &awsapigateway.MethodOptions{
			AuthorizationType: awsapigateway.AuthorizationType_CUSTOM,
			Authorizer:        a.authorizer(&a.query, "QueryAuthorizer", "token-query", queryIdentity),
		}
	}
	panic(fmt.Sprintf("infra: route %s %s: unknown auth %q", r.Method, r.Path, r.Auth))
}
