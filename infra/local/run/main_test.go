package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/routes"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFrom(t *testing.T) {
	c, err := configFrom(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.port != 8080 || c.dynamoPort != 8000 || c.sqsPort != 9324 || c.dynamoEndpoint != "" || c.dataDir != ".local" || c.cacheTTL != 300*time.Second {
		t.Errorf("defaults: %+v", c)
	}

	c, err = configFrom(nil, env(map[string]string{"PORT": "18280", "DYNAMO_PORT": "18200", "SQS_PORT": "18224", "DYNAMODB_ENDPOINT": "http://127.0.0.1:8000"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.port != 18280 || c.dynamoPort != 18200 || c.sqsPort != 18224 || c.dynamoEndpoint != "http://127.0.0.1:8000" {
		t.Errorf("from the environment: %+v", c)
	}

	c, err = configFrom([]string{"-dynamodb-endpoint", "http://db.local:4566/"}, env(map[string]string{"DYNAMODB_ENDPOINT": "http://127.0.0.1:8000"}))
	if err != nil || c.dynamoEndpoint != "http://db.local:4566/" {
		t.Errorf("flag over env: %+v %v", c, err)
	}

	for _, bad := range []string{"127.0.0.1:8000", "localhost", "tcp://127.0.0.1:8000", "http://127.0.0.1:8000/tables"} {
		_, err := configFrom(nil, env(map[string]string{"DYNAMODB_ENDPOINT": bad}))
		if err == nil || !strings.Contains(err.Error(), "DYNAMODB_ENDPOINT") || !strings.Contains(err.Error(), "http://host:port") {
			t.Errorf("DYNAMODB_ENDPOINT=%q: got %v, want a usage error", bad, err)
		}
	}
	if c, _ := configFrom(nil, env(map[string]string{"SANDBOX_PORT": "19790"})); c.sandboxPort != 19790 {
		t.Errorf("SANDBOX_PORT: %d", c.sandboxPort)
	}
	if c, _ := configFrom(nil, env(nil)); c.sandboxPort != 8090 {
		t.Errorf("sandbox port default %d", c.sandboxPort)
	}
	if _, err := configFrom([]string{"extra"}, env(nil)); err == nil {
		t.Error("stray argument accepted")
	}

	// The per-address limit: 100 a minute unless told, 0 turns it off.
	if c, _ := configFrom(nil, env(nil)); c.ipLimit != DefaultIPLimit || DefaultIPLimit != 100 {
		t.Errorf("ip limit default %d", c.ipLimit)
	}
	if c, _ := configFrom(nil, env(map[string]string{"IP_RATE_LIMIT": "0"})); c.ipLimit != 0 {
		t.Errorf("IP_RATE_LIMIT=0: %d", c.ipLimit)
	}
	if c, _ := configFrom([]string{"-ip-limit", "7"}, env(map[string]string{"IP_RATE_LIMIT": "0"})); c.ipLimit != 7 {
		t.Errorf("-ip-limit 7: %d", c.ipLimit)
	}
	if _, err := configFrom([]string{"-ip-limit", "-1"}, env(nil)); err == nil {
		t.Error("negative -ip-limit accepted")
	}
}

// TestBannerShowsNoCredential: the banner (make run's terminal, often kept
// in scrollback or CI logs) names demo.env, never a token or secret.
func TestBannerShowsNoCredential(t *testing.T) {
	var b strings.Builder
	stack := &emulators.Stack{DynamoEndpoint: "http://127.0.0.1:8000", SQSEndpoint: "http://127.0.0.1:9324"}
	banner(&b, "http://127.0.0.1:8080", stack, ".local", 300*time.Second, 100)
	out := b.String()
	for _, bad := range []string{"ct_", "sk_", "adm_", "whsec_"} {
		if strings.Contains(out, bad) {
			t.Errorf("banner shows %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "source .local/demo.env") || !strings.Contains(out, "$TOKEN_MESSENGER") {
		t.Errorf("banner does not say where the credentials are:\n%s", out)
	}
	if !strings.Contains(out, "http://127.0.0.1:8080/dashboard/") {
		t.Errorf("banner does not name the panel:\n%s", out)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRunOnExternalDynamoDB starts a dynoxide, then make run's launcher
// pointed at it: the launcher starts no DynamoDB of its own, provisions and
// seeds the given one, and serves the API on it.
func TestRunOnExternalDynamoDB(t *testing.T) {
	db, err := emulators.Start(t.Context(), emulators.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Stop)

	dataDir := t.TempDir()
	// A DYNAMO_PORT that is taken must not matter: no dynoxide starts.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := config{port: freePort(t), dynamoPort: taken.Addr().(*net.TCPAddr).Port, dynamoEndpoint: db.DynamoEndpoint,
		dataDir: dataDir, cacheTTL: 0}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, cfg, ready) }()
	var apiURL string
	select {
	case apiURL = <-ready:
	case err := <-errc:
		t.Fatalf("run: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("run not ready after 90 s")
	}

	demo, err := readEnv(filepath.Join(dataDir, "demo.env"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, apiURL+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+demo["TOKEN_MESSENGER"])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/me: %d", res.StatusCode)
	}
	// The WhatsApp provider sandbox runs beside it, named in demo.env,
	// and the functions are pointed at it.
	if demo[SandboxURLKey] == "" || demo[SandboxSecretKey] == "" || os.Getenv("WHATSAPP_API_BASE_URL") != demo[SandboxURLKey] {
		t.Errorf("sandbox: demo.env %q / secret %v, WHATSAPP_API_BASE_URL %q", demo[SandboxURLKey], demo[SandboxSecretKey] != "", os.Getenv("WHATSAPP_API_BASE_URL"))
	} else if res, err := http.Get(demo[SandboxURLKey] + "/_sandbox/stats"); err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("the sandbox does not answer: %v", err)
	} else {
		res.Body.Close()
	}
	// The demo WhatsApp channel has sandbox credentials and an instance id.
	for _, k := range []string{"INSTANCE_ID", "WHATSAPP_APP_SECRET", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_VERIFY_TOKEN"} {
		if demo[k] == "" {
			t.Errorf("demo.env has no %s", k)
		}
	}
	req, _ = http.NewRequest(http.MethodGet, apiURL+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+demo["TOKEN_WHATSAPP"])
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(b), `"instance_id":`+demo["INSTANCE_ID"]+`,`) {
			t.Errorf("GET /v1/me of the WhatsApp token shows no instance_id %s: %s", demo["INSTANCE_ID"], b)
		}
	}
	res, err = http.Get(apiURL + "/v1/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=42&hub.verify_token=" + demo["WHATSAPP_VERIFY_TOKEN"])
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("the demo verify token's handshake: %d", res.StatusCode)
	}
	checkMessaging(t, apiURL, demo)
	checkInstallation(t, apiURL, demo)
	checkTwilio(t, apiURL, demo) // twilio_test.go
	checkAutomation(t, apiURL, demo)
	ddb := dynamodb.NewFromConfig(db.AWSConfig())
	for _, name := range []string{tableName, opsTableName} {
		if _, err := ddb.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("table %s not in the external DynamoDB: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "dynamodb.sqlite")); err == nil {
		t.Error("a dynoxide of its own wrote dynamodb.sqlite")
	}

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("run returned %v after Ctrl-C", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
}

// TestCheckpointsPerConsumer: each stream consumer keeps its own position
// in the stream; a shared file would let one skip what the other handled.
func TestCheckpointsPerConsumer(t *testing.T) {
	seen := map[string]string{}
	n := 0
	for _, f := range routes.EventFunctions {
		if f.Source != "stream" {
			continue
		}
		n++
		p := checkpointsFile(".local", f.Function)
		if other, ok := seen[p]; ok {
			t.Errorf("%s and %s share %s", f.Function, other, p)
		}
		seen[p] = f.Function
	}
	if n < 2 {
		t.Fatalf("%d stream consumers, want the trigger router and the Messenger intake", n)
	}
	if got := checkpointsFile(".local", "trigger-router"); got != filepath.Join(".local", "stream-checkpoints.json") {
		t.Errorf("trigger-router: %s, want the file it always had", got)
	}
}
