package events_test

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	appevents "github.com/startmsg/chatbackend/events"
	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/authorizer"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/routes/accesstest"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func TestMain(m *testing.M) { emulators.Main(m) }

// seed writes the tenant, channel, token and contact the samples name.
func seed(t *testing.T, d *wiring.Env) {
	t.Helper()
	if err := appevents.Seed(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// deps builds the functions' dependencies on fresh emulator tables, with
// SDK clients that record their calls for accesstest.
func deps(t *testing.T) (*wiring.Env, accesstest.Resources) {
	providerSandbox(t)
	env := emulators.ForTest(t)
	vars := map[string]string{appenv.TableName: env.Table, appenv.OpsTableName: env.OpsTable, appenv.QueueURL: env.Queues.DeliveriesURL, appenv.DLQURL: env.Queues.DLQURL}
	d := wiring.FromConfig(accesstest.Instrument(env.Config), func(k string) string { return vars[k] })
	d.Now = func() time.Time { return time.Unix(1795316400, 0) }
	seed(t, d)
	return d, accesstest.Resources{Table: env.Table, OpsTable: env.OpsTable, Queue: env.Queues.DeliveriesURL, DLQ: env.Queues.DLQURL}
}

// mainCall parses functions/<fn>/main.go and returns the wiring.Start*
// function it calls, the name it passes, the handler builder it passes
// (import path and name) and whether it passes the phone normaliser, so the
// test builds exactly what the binary builds.
func mainCall(t *testing.T, fn string) (start, name, pkg string, phone bool) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "functions", fn, "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]string{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		imports[filepath.Base(p)] = p
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !strings.HasPrefix(sel.Sel.Name, "Start") {
			return true
		}
		start = sel.Sel.Name
		if len(call.Args) >= 2 {
			if lit, ok := call.Args[0].(*ast.BasicLit); ok {
				name, _ = strconv.Unquote(lit.Value)
			}
			// <pkg>.<Builder>
			if s, ok := call.Args[1].(*ast.SelectorExpr); ok {
				pkg = imports[s.X.(*ast.Ident).Name] + "." + s.Sel.Name
			}
		}
		first := min(2, len(call.Args)) // StartAPI(name, builder, options...)
		if start == "StartTicker" {
			first = 0 // StartTicker(options...)
		}
		for _, a := range call.Args[first:] {
			if opt, ok := a.(*ast.CallExpr); ok {
				if s, ok := opt.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "WithPhone" {
					phone = true
				}
			}
		}
		return false
	})
	return start, name, pkg, phone
}

// TestAPISamples feeds every API Gateway sample event, as raw JSON, through
// aws-lambda-go's own handler wrapper around the handler the function's main
// gives lambda.Start, and checks that every DynamoDB and SQS call it made is
// one its route's Access bits grant in AWS.
func TestAPISamples(t *testing.T) {
	d, res := deps(t)
	expected := expectedStatus(t)
	for name, status := range expected {
		t.Run(name, func(t *testing.T) {
			raw, err := appevents.Samples.ReadFile("apigw/" + name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayProxyRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			route, ok := routes.Lookup(ev.HTTPMethod, ev.Resource)
			if !ok {
				t.Fatalf("sample %s names no route", name)
			}
			start, fn, builder, phone := mainCall(t, route.Function)
			pkg := builder[:max(strings.LastIndex(builder, "."), 0)]
			if (start != "StartAPI" && start != "StartAPIWithSDKStores") || fn != route.Function || registry.Packages[pkg][fn] == nil {
				t.Fatalf("functions/%s/main.go calls %s(%q, %s)", route.Function, start, fn, builder)
			}
			// The registry's builder of fn is the one main passes.
			if want := pkg + "." + registry.BuilderName(fn); builder != want {
				t.Fatalf("functions/%s/main.go passes %s, the registry has %s", route.Function, builder, want)
			}
			builders := wiring.Builders{fn: registry.Packages[pkg][fn]}
			if phone {
				builders = wiring.Builders{fn: registry.WithPhone(builders[fn])}
			}
			h, err := wiring.APIHandler(d, fn, builders)
			if err != nil {
				t.Fatal(err)
			}
			ctx, rec := accesstest.WithRecorder(context.Background())
			out, err := lambda.NewHandler(h).Invoke(ctx, raw)
			if err != nil {
				t.Fatalf("handler error (API Gateway would answer 502): %v", err)
			}
			calls := rec.Calls()
			for _, m := range accesstest.MissingFor(route.Function, route.Access, calls, res) {
				t.Errorf("not granted in AWS: %s", m)
			}
			if route.Access.Has(routes.RateCount) && status != http.StatusUnauthorized && status != http.StatusForbidden && len(calls) == 0 {
				t.Errorf("no SDK call recorded, yet the route counts its calls: the recorder saw nothing")
			}
			checkAPIAnswer(t, name, status, out)
		})
	}
}

// expectedStatus reads apigw/expected-status.json and checks that it names
// every API Gateway sample.
func expectedStatus(t *testing.T) map[string]int {
	t.Helper()
	var expected map[string]int
	b, err := appevents.Samples.ReadFile("apigw/expected-status.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	files, _ := fs.Glob(appevents.Samples, "apigw/*.json")
	if len(files) != len(expected)+1 {
		t.Fatalf("%d sample files but %d expectations", len(files)-1, len(expected))
	}
	return expected
}

// checkAPIAnswer checks a function's answer to an API Gateway sample: the
// status, the error envelope and the content type, and, for the samples
// in sampleAnswers, what the answer says.
func checkAPIAnswer(t *testing.T, name string, status int, out []byte) {
	t.Helper()
	var res events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", res.StatusCode, status, res.Body)
	}
	if challenge, ok := map[string]string{"whatsapp-verify": "1158201444", "messenger-verify": "1158201445"}[name]; ok {
		// The handshake echoes hub.challenge as plain text.
		if res.Body != challenge || !strings.HasPrefix(http.Header(res.MultiValueHeaders).Get("Content-Type"), "text/plain") {
			t.Fatalf("handshake answered %q (%v)", res.Body, res.MultiValueHeaders)
		}
		return
	}
	if name == "dashboard" {
		// The panel's page: HTML (the built panel, or the page that says
		// to run make build), under its Content-Security-Policy.
		h := http.Header(res.MultiValueHeaders)
		if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(res.Body, "<html") ||
			!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Fatalf("panel page: %v %.200s", res.MultiValueHeaders, res.Body)
		}
		return
	}
	if check := sampleAnswers[name]; check != nil {
		var body any
		if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
			t.Fatalf("body is not JSON: %s", res.Body)
		}
		if err := check(body); err != nil {
			t.Fatalf("%v: %s", err, res.Body)
		}
	}
	// hook-sample answers an array (Zapier's perform list); errors are
	// always the envelope.
	var decoded any
	if err := json.Unmarshal([]byte(res.Body), &decoded); err != nil {
		t.Fatalf("body is not JSON: %s", res.Body)
	}
	body, _ := decoded.(map[string]any)
	if status >= 400 && (body["status"] != "error" || body["message"] == "") {
		t.Fatalf("error not in the envelope: %s", res.Body)
	}
	if got := http.Header(res.MultiValueHeaders).Get("Content-Type"); got != "application/json" {
		t.Fatalf("Content-Type %q", got)
	}
}

// eventAccess is the Access of a function without a route.
func eventAccess(t *testing.T, fn string) routes.Access {
	t.Helper()
	for _, e := range routes.EventFunctions {
		if e.Function == fn {
			return e.Access
		}
	}
	t.Fatalf("%s is not in routes.EventFunctions", fn)
	return 0
}

// TestAuthorizerSample runs the REQUEST authorizer sample through
// aws-lambda-go's handler wrapper.
func TestAuthorizerSample(t *testing.T) {
	d, resources := deps(t)
	if start, _, _, _ := mainCall(t, routes.Authorizer); start != "StartAuthorizer" {
		t.Fatalf("functions/authorizer/main.go calls %s", start)
	}
	raw, err := appevents.Samples.ReadFile("authorizer/request.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx, rec := accesstest.WithRecorder(context.Background())
	out, err := lambda.NewHandler(authorizer.Handler(d.Tenancy())).Invoke(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Calls()) == 0 {
		t.Error("no SDK call recorded")
	}
	for _, m := range accesstest.MissingFor(routes.Authorizer, eventAccess(t, routes.Authorizer), rec.Calls(), resources) {
		t.Errorf("not granted in AWS: %s", m)
	}
	checkPolicy(t, out)
}

// checkPolicy checks the authorizer's answer to authorizer/request.json.
func checkPolicy(t *testing.T, out []byte) {
	t.Helper()
	var res events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.PolicyDocument.Statement) == 0 || res.PolicyDocument.Statement[0].Effect != "Allow" ||
		res.Context["tenantId"] != appevents.SampleTenant || res.Context["channelId"] != appevents.SampleChannel {
		t.Fatalf("%s", out)
	}
	if res.PolicyDocument.Statement[0].Resource[0] != "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*" {
		t.Fatalf("policy must cover the whole API: %s", out)
	}
}

// TestEventSamples runs the stream and SQS samples through aws-lambda-go's
// handler wrapper around the trigger router and the dispatcher.
func TestEventSamples(t *testing.T) {
	env := emulators.ForTest(t)
	var got []string
	var mu sync.Mutex
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer rcv.Close()
	vars := map[string]string{appenv.TableName: env.Table, appenv.OpsTableName: env.OpsTable, appenv.QueueURL: env.Queues.DeliveriesURL, appenv.DLQURL: env.Queues.DLQURL, appenv.AllowLoopbackTargets: "true"}
	d := wiring.FromConfig(accesstest.Instrument(env.Config), func(k string) string { return vars[k] })
	seed(t, d)
	res := accesstest.Resources{Table: env.Table, OpsTable: env.OpsTable, Queue: env.Queues.DeliveriesURL, DLQ: env.Queues.DLQURL}
	// granted checks the calls recorded under ctx against fn's Access.
	granted := func(fn string, rec *accesstest.Recorder) {
		t.Helper()
		access := eventAccess(t, fn)
		calls := rec.Calls()
		if len(calls) == 0 {
			t.Errorf("%s: no SDK call recorded", fn)
		}
		for _, m := range accesstest.MissingFor(fn, access, calls, res) {
			t.Errorf("%s: not granted in AWS: %s", fn, m)
		}
	}
	ctx := context.Background()
	conn := connections.Connection{ID: "conn_sample", TenantID: "ten_sample", ChannelID: "ch_sample", Name: "CRM", URL: rcv.URL,
		Triggers: []connections.Trigger{connections.TriggerEmail}, Fields: []string{}, Enabled: true, Source: connections.SourceAPI,
		Secrets: []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
	if err := d.Connections().CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	for fn, start := range map[string]string{"trigger-router": "StartStream", "dispatcher": "StartQueue", "messenger-intake": "StartStream"} {
		if got, _, _, _ := mainCall(t, fn); got != start {
			t.Fatalf("functions/%s/main.go calls %s, want %s", fn, got, start)
		}
	}

	raw, _ := appevents.Samples.ReadFile("stream/contact-email-collected.json")
	rctx, rec := accesstest.WithRecorder(ctx)
	out, err := lambda.NewHandler(registry.Streams["trigger-router"](d)).Invoke(rctx, raw)
	if err != nil || string(out) != `{"batchItemFailures":null}` {
		t.Fatalf("router: %s %v", out, err)
	}
	granted("trigger-router", rec)
	msgs, err := env.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &env.Queues.DeliveriesURL, MaxNumberOfMessages: 10})
	if err != nil || len(msgs.Messages) != 1 {
		t.Fatalf("want one queued delivery: %+v %v", msgs, err)
	}
	var del connections.Delivery
	if err := json.Unmarshal([]byte(*msgs.Messages[0].Body), &del); err != nil || del.ConnectionID != "conn_sample" || !strings.Contains(string(del.Payload), `"email":"testuser@gmail.com"`) {
		t.Fatalf("queued delivery: %s %v", *msgs.Messages[0].Body, err)
	}

	raw, _ = appevents.Samples.ReadFile("sqs/delivery.json")
	dctx, rec := accesstest.WithRecorder(ctx)
	out, err = lambda.NewHandler(registry.Queues["dispatcher"](d)).Invoke(dctx, raw)
	if err != nil || string(out) != `{"batchItemFailures":null}` {
		t.Fatalf("dispatcher: %s %v", out, err)
	}
	granted("dispatcher", rec)

	// The Messenger intake records the inbox item's two events; the same
	// record again (a retried batch) records nothing.
	raw, _ = appevents.Samples.ReadFile("stream/messenger-inbox.json")
	ictx, rec := accesstest.WithRecorder(ctx)
	intake := lambda.NewHandler(registry.Streams["messenger-intake"](d))
	for range 2 {
		if out, err := intake.Invoke(ictx, raw); err != nil || string(out) != `{"batchItemFailures":null}` {
			t.Fatalf("intake: %s %v", out, err)
		}
	}
	granted("messenger-intake", rec)
	c, err := d.Contacts().GetContact(ctx, appevents.SampleTenant, appevents.SampleChannel, "12765756")
	if err != nil || c.Fields["email"] != "testuser@gmail.com" || c.LastEvent == nil || c.LastEvent.PostbackID != "GET_STARTED" || c.Version != 2 {
		t.Fatalf("intake: contact %+v %v", c, err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.Contains(got[0], `"psid":"12765756"`) {
		t.Fatalf("target got %q", got)
	}
}
