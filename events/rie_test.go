package events_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	appevents "github.com/startmsg/chatbackend/events"
	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/rie"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/whatsapp"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// The tests below run every sample through the function's real bootstrap
// (built for the host with the deployment's flags) under AWS's Runtime
// Interface Emulator, against this test's tables and queues: what Lambda
// runs, fed as Lambda feeds it. The tests above run the same samples
// through the same handlers in-process, where accesstest can see and audit
// every SDK call; a separate binary's calls it cannot see.

var built struct {
	once  sync.Once
	bin   string
	boots map[string]string
	err   error
}

// bootstrap returns the emulator and the bootstrap of fn. The first call
// builds the emulator and the bootstraps of every function a sample names,
// in one go build (cached by content under .local/rie, so a later run with
// the same sources builds nothing).
func bootstrap(t *testing.T, fn string) (bin, boot string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("aws-lambda-rie runs Linux binaries only")
	}
	built.once.Do(func() {
		ctx := context.Background()
		root, err := rie.ModuleRoot()
		if err != nil {
			built.err = err
			return
		}
		pkgs := map[string]string{}
		for _, f := range sampleFunctions(t) {
			pkgs[f] = "./functions/" + f
		}
		if built.bin, built.err = rie.Binary(ctx, root); built.err != nil {
			return
		}
		built.boots, built.err = rie.Bootstraps(ctx, root, pkgs)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	if built.boots[fn] == "" {
		t.Fatalf("no bootstrap built for %s", fn)
	}
	return built.bin, built.boots[fn]
}

// sampleFunctions are the functions the samples are for.
func sampleFunctions(t *testing.T) []string {
	fns := []string{routes.Authorizer, "trigger-router", "dispatcher", "messenger-intake", routes.SchedulerTick, "whatsapp-intake", "sender"}
	for name := range expectedStatus(t) {
		_, route := apiSample(t, name)
		if !slices.Contains(fns, route.Function) {
			fns = append(fns, route.Function)
		}
	}
	slices.Sort(fns)
	return fns
}

// apiSample reads apigw/<name>.json and finds its route.
func apiSample(t *testing.T, name string) ([]byte, routes.Route) {
	t.Helper()
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
	return raw, route
}

// underRIE starts fn's bootstrap under the emulator with env (the test's
// emulators, tables and queues) and stops it when the test ends.
func underRIE(t *testing.T, fn string, env []string) *rie.Function {
	t.Helper()
	bin, boot := bootstrap(t, fn)
	f, err := rie.Start(context.Background(), bin, rie.Options{Name: fn, Bootstrap: boot, Env: env, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

// rieEnv seeds env's tables with what the samples name and returns the
// functions' environment, as the CDK app sets it, pointing at env.
func rieEnv(t *testing.T, env *emulators.TestEnv, extra ...string) []string {
	t.Helper()
	_, provider := providerSandbox(t)
	vars := map[string]string{appenv.TableName: env.Table, appenv.OpsTableName: env.OpsTable, appenv.QueueURL: env.Queues.DeliveriesURL, appenv.DLQURL: env.Queues.DLQURL}
	seed(t, wiring.FromConfig(env.Config, func(k string) string { return vars[k] }))
	// The functions that flush the authorizer cache call API Gateway's
	// FlushStageAuthorizersCache: a stand-in answers it as AWS does.
	flush := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete || r.URL.Path != "/restapis/rie/stages/local/cache/authorizers" {
			t.Errorf("API Gateway called with %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(flush.Close)
	return append(append(env.Env(), appenv.Stage+"=local", appenv.RestAPIID+"=rie", appenv.APIStageName+"=local",
		"AWS_ENDPOINT_URL_API_GATEWAY="+flush.URL, whatsapp.EnvBaseURL+"="+provider), extra...)
}

// TestAPISamplesUnderRIE invokes each function's bootstrap with its API
// Gateway samples, as API Gateway's Lambda proxy integration would, and
// checks the answers as TestAPISamples does.
func TestAPISamplesUnderRIE(t *testing.T) {
	env := rieEnv(t, emulators.ForTest(t))
	expected := expectedStatus(t)
	names := make([]string, 0, len(expected))
	for name := range expected {
		names = append(names, name)
	}
	slices.Sort(names)
	// One emulator per function, started at its first sample and kept for
	// the others (warm invocations, as in Lambda), stopped at the end.
	running := map[string]*rie.Function{}
	defer func() {
		for _, f := range running {
			f.Stop()
		}
	}()
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			raw, route := apiSample(t, name)
			f := running[route.Function]
			if f == nil {
				bin, boot := bootstrap(t, route.Function)
				var err error
				f, err = rie.Start(context.Background(), bin, rie.Options{Name: route.Function, Bootstrap: boot, Env: env, Timeout: 30 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				running[route.Function] = f
			}
			out, err := f.Invoke(context.Background(), raw)
			if err != nil {
				t.Fatalf("API Gateway would answer 502: %v", err)
			}
			checkAPIAnswer(t, name, expected[name], out)
		})
	}
}

// TestAuthorizerSampleUnderRIE runs the REQUEST authorizer sample through
// the authorizer's bootstrap.
func TestAuthorizerSampleUnderRIE(t *testing.T) {
	f := underRIE(t, routes.Authorizer, rieEnv(t, emulators.ForTest(t)))
	raw, err := appevents.Samples.ReadFile("authorizer/request.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.Invoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	checkPolicy(t, out)
}

// TestEventSamplesUnderRIE runs the stream sample through the trigger
// router's bootstrap and the queued delivery through the dispatcher's, which
// posts it to a local target, and the Messenger inbox item through the
// Messenger intake's.
func TestEventSamplesUnderRIE(t *testing.T) {
	tenv := emulators.ForTest(t)
	env := rieEnv(t, tenv, appenv.AllowLoopbackTargets+"=true")
	var got []string
	var mu sync.Mutex
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer rcv.Close()
	ctx := context.Background()
	vars := map[string]string{appenv.TableName: tenv.Table, appenv.OpsTableName: tenv.OpsTable}
	d := wiring.FromConfig(tenv.Config, func(k string) string { return vars[k] })
	conn := connections.Connection{ID: "conn_sample", TenantID: appevents.SampleTenant, ChannelID: appevents.SampleChannel, Name: "CRM", URL: rcv.URL,
		Triggers: []connections.Trigger{connections.TriggerEmail}, Fields: []string{}, Enabled: true, Source: connections.SourceAPI,
		Secrets: []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
	if err := d.Connections().CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}

	router := underRIE(t, "trigger-router", env)
	raw, _ := appevents.Samples.ReadFile("stream/contact-email-collected.json")
	out, err := router.Invoke(ctx, raw)
	if err != nil || string(out) != `{"batchItemFailures":null}` {
		t.Fatalf("router: %s %v", out, err)
	}
	msgs, err := tenv.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &tenv.Queues.DeliveriesURL, MaxNumberOfMessages: 10})
	if err != nil || len(msgs.Messages) != 1 {
		t.Fatalf("want one queued delivery: %+v %v", msgs, err)
	}
	var del connections.Delivery
	if err := json.Unmarshal([]byte(*msgs.Messages[0].Body), &del); err != nil || del.ConnectionID != "conn_sample" || !strings.Contains(string(del.Payload), `"email":"testuser@gmail.com"`) {
		t.Fatalf("queued delivery: %s %v", *msgs.Messages[0].Body, err)
	}

	dispatcher := underRIE(t, "dispatcher", env)
	raw, _ = appevents.Samples.ReadFile("sqs/delivery.json")
	out, err = dispatcher.Invoke(ctx, raw)
	if err != nil || string(out) != `{"batchItemFailures":null}` {
		t.Fatalf("dispatcher: %s %v", out, err)
	}
	mu.Lock()
	if len(got) != 1 || !strings.Contains(got[0], `"psid":"12765756"`) {
		t.Fatalf("target got %q", got)
	}
	mu.Unlock()

	// The Messenger intake records the inbox item's two events once, the
	// same record twice (a retried batch).
	intake := underRIE(t, "messenger-intake", env)
	raw, _ = appevents.Samples.ReadFile("stream/messenger-inbox.json")
	for range 2 {
		if out, err := intake.Invoke(ctx, raw); err != nil || string(out) != `{"batchItemFailures":null}` {
			t.Fatalf("intake: %s %v", out, err)
		}
	}
	c, err := d.Contacts().GetContact(ctx, appevents.SampleTenant, appevents.SampleChannel, "12765756")
	if err != nil || c.Fields["email"] != "testuser@gmail.com" || c.LastEvent == nil || c.LastEvent.PostbackID != "GET_STARTED" || c.Version != 2 {
		t.Fatalf("intake: contact %+v %v", c, err)
	}
}
