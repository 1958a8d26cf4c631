package readme_test

// Every fenced code block of README.md is checked, according to its info
// string (the words after the opening fence):
//
//	```sh               run against a local stack; every curl in it must be
//	                    answered 2xx.
//	```sh status=NNN    run; every curl in it must be answered NNN (an
//	                    example of an error).
//	```sh norun         cannot run here (deploy, awscurl against AWS, make
//	                    targets that take minutes, a receiver that keeps
//	                    running): only checked to be valid bash (bash -n).
//	```<lang> file=PATH the block must equal the file PATH of the repository
//	                    (the webhook receivers; their own tests run them).
//	anything else       text (diagrams): not checked.
//
// The runnable blocks run in README order in one bash process (set -e,
// pipefail), so a variable one block sets is there for the next, in a
// directory that holds .local/demo.env with the variables `make run` writes
// for its demo tenant (API_URL, ADMIN_KEY, TENANT_ID, ACCOUNT_SECRET,
// CHANNEL_<KIND>, TOKEN_<KIND>; the demo channels read local numbers as PK;
// the WhatsApp, sms and voice channels' provider credentials and what
// names them; AUTOMATION_ID).
// A curl wrapper first on PATH checks each answer's status.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

func TestMain(m *testing.M) { emulators.Main(m) }

const readmePath = "../../../README.md"

type block struct {
	line int    // of the opening fence
	info string // the words after the fence
	text string
}

func (b block) lang() string { f := strings.Fields(b.info); return first(f) }

func (b block) attr(key string) (string, bool) {
	for _, f := range strings.Fields(b.info) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v, true
		}
		if f == key {
			return "", true
		}
	}
	return "", false
}

func first(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func blocks(t *testing.T) []block { t.Helper(); return blocksOf(t, readmePath) }

// blocksOf reads the fenced code blocks of one Markdown file.
func blocksOf(t *testing.T, path string) []block {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []block
	var cur *block
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{line: n, info: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: code block never closed", filepath.Base(path), cur.line)
	}
	return out
}

var statusRE = regexp.MustCompile(`^[1-5][0-9][0-9]$`)

// TestReadmeBlocksAreMarked fails on a shell block with a marker the
// other tests do not know, and on quoted files that drifted.
func TestReadmeBlocksAreMarked(t *testing.T) {
	n := 0
	all := blocks(t)
	for _, d := range docs {
		all = append(all, blocksOf(t, d)...)
	}
	for _, b := range all {
		if path, ok := b.attr("file"); ok {
			want, err := os.ReadFile(filepath.Join("../../..", path))
			if err != nil {
				t.Errorf("README.md:%d: %v", b.line, err)
			} else if string(want) != b.text {
				t.Errorf("README.md:%d: the block differs from %s: copy the file into the README again", b.line, path)
			}
			continue
		}
		if b.lang() != "sh" {
			continue
		}
		n++
		for _, f := range strings.Fields(b.info)[1:] {
			if v, ok := strings.CutPrefix(f, "status="); ok && statusRE.MatchString(v) || f == "norun" {
				continue
			}
			t.Errorf("README.md:%d: unknown marker %q (sh, sh status=NNN or sh norun)", b.line, f)
		}
		cmd := exec.Command("bash", "-n")
		cmd.Stdin = strings.NewReader(b.text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("README.md:%d: not valid bash: %v\n%s", b.line, err, out)
		}
	}
	if n < 10 {
		t.Fatalf("found %d shell blocks in README.md; the parser lost them", n)
	}
}

// TestReadmeExamples runs the runnable shell blocks against a local stack.
func TestReadmeExamples(t *testing.T) {
	realCurl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is not installed")
	}
	s := stacktest.New(t)
	s.Pipeline()
	dir := t.TempDir()
	writeDemoEnv(t, s, filepath.Join(dir, ".local", "demo.env"))
	seedWhatsApp(t, s, filepath.Join(dir, ".local", "demo.env"))
	seedInstallation(t, s, filepath.Join(dir, ".local", "demo.env"))
	seedAutomation(t, s, filepath.Join(dir, ".local", "demo.env"))

	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("jq"); err != nil {
		// A machine without jq gets gojq, a jq in Go pinned in go.mod as a
		// tool, so make test needs nothing beyond Go and Node.
		build := exec.Command("go", "build", "-o", filepath.Join(bin, "jq"), "github.com/itchyny/gojq/cmd/gojq")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("jq is not installed and gojq did not build: %v\n%s", err, out)
		}
	}
	wrapper := `#!/usr/bin/env bash
# curl as the README's examples call it, with the answer's status checked.
body=$(mktemp)
code=$(` + realCurl + ` -sS -o "$body" -w '%{http_code}' "$@") || { cat "$body"; rm -f "$body"; exit 1; }
cat "$body"; echo; rm -f "$body"
want=${EXPECT_STATUS:-2..}
if [[ ! $code =~ ^$want$ ]]; then
  echo "curl $*: HTTP $code, the README's block expects ${EXPECT_STATUS:-2xx}" >&2
  exit 22
fi
`
	if err := os.WriteFile(filepath.Join(bin, "curl"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}

	var script strings.Builder
	script.WriteString("set -euo pipefail\ntrap 'echo \"$BLOCK: this block failed\" >&2' ERR\n")
	ran := 0
	files := append([]string{readmePath}, docs...)
	for _, path := range files {
		for _, b := range blocksOf(t, path) {
			if b.lang() != "sh" {
				continue
			}
			if _, ok := b.attr("norun"); ok {
				continue
			}
			status, _ := b.attr("status")
			fmt.Fprintf(&script, "\nBLOCK=%s:%d\nexport EXPECT_STATUS=%s\necho \"### %s:%d\"\n%s", filepath.Base(path), b.line, status, filepath.Base(path), b.line, b.text)
			ran++
		}
	}
	script.WriteString("\necho '### all README examples passed'\n")
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README examples: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "### all README examples passed") || ran < 8 {
		t.Fatalf("ran %d blocks:\n%s", ran, out)
	}
	if testing.Verbose() {
		t.Logf("%d blocks:\n%s", ran, out)
	}
}

// writeDemoEnv seeds the demo tenant as `make run` does (one channel per
// kind, default_country PK, one token each) and writes its variables.
func writeDemoEnv(t *testing.T, s *stacktest.Stack, path string) {
	t.Helper()
	r := s.Admin("POST", "/admin/tenants", map[string]any{"name": "Demo"})
	if r.Status != 201 {
		t.Fatalf("create tenant: %d %s", r.Status, r.Body)
	}
	tid := stacktest.Path(r.JSON, "data.tenant.id").(string)
	env := []string{"API_URL=" + s.URL, "ADMIN_KEY=" + stacktest.AdminKey, "TENANT_ID=" + tid,
		"ACCOUNT_SECRET=" + stacktest.Path(r.JSON, "data.account_secret").(string)}
	for _, kind := range tenancy.ChannelKinds {
		r = s.Admin("POST", "/admin/tenants/"+tid+"/channels", map[string]any{"kind": kind, "name": "Demo " + kind, "default_country": "PK"})
		if r.Status != 201 {
			t.Fatalf("create channel: %d %s", r.Status, r.Body)
		}
		cid := stacktest.Path(r.JSON, "data.id").(string)
		r = s.Admin("POST", "/admin/tenants/"+tid+"/channels/"+cid+"/tokens", map[string]any{"name": "demo"})
		if r.Status != 201 {
			t.Fatalf("create token: %d %s", r.Status, r.Body)
		}
		k := strings.ToUpper(string(kind))
		env = append(env, "CHANNEL_"+k+"="+cid, "TOKEN_"+k+"="+stacktest.Path(r.JSON, "data.token").(string))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(env, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// seedWhatsApp gives the demo WhatsApp channel what `make run` gives it: a
// provider sandbox posting its signed webhooks to the stack, the channel's
// Cloud API credentials on it, and the approved template of seed 002
// (created through /v1/templates: the sandbox approves it and its status
// webhook comes back through the intake). It adds INSTANCE_ID,
// WHATSAPP_PHONE_NUMBER_ID and WHATSAPP_SANDBOX_URL to demo.env.
func seedWhatsApp(t *testing.T, s *stacktest.Stack, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		env[k] = v
	}
	secret := "readme-sandbox-app-secret"
	sb, err := sandbox.Listen("127.0.0.1:0", sandbox.Options{AppSecret: secret, WebhookURL: s.URL + sandbox.DefaultWebhookPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	t.Setenv("WHATSAPP_API_BASE_URL", sb.URL)
	phoneID := "106540352242922"
	r := s.Admin("PUT", "/admin/tenants/"+env["TENANT_ID"]+"/channels/"+env["CHANNEL_WHATSAPP"]+"/whatsapp", map[string]any{
		"access_token": "EAAreadme0123456789", "phone_number_id": phoneID, "waba_id": "102290129340398",
		"app_secret": secret, "verify_token": "readme-verify-token"})
	if r.Status != 200 {
		t.Fatalf("set the WhatsApp credentials: %d %s", r.Status, r.Body)
	}
	instance := fmt.Sprint(stacktest.Path(r.JSON, "data.instance_id"))
	auth := "Bearer " + env["TOKEN_WHATSAPP"]
	r = s.Do("POST", "/v1/templates", auth, map[string]any{"name": "template_name", "namespace": "namespace_of_template",
		"language": "en", "category": "UTILITY", "components": []map[string]any{{"type": "BODY", "text": "Hello from the README."}}})
	if r.Status != 201 {
		t.Fatalf("create the demo template: %d %s", r.Status, r.Body)
	}
	id := stacktest.Path(r.JSON, "data.id").(string)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r = s.Do("GET", "/v1/templates/"+id, auth, nil)
		if r.Status == 200 && stacktest.Path(r.JSON, "data.status") == "APPROVED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo template was never approved: %d %s", r.Status, r.Body)
		}
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "INSTANCE_ID=%s\nWHATSAPP_PHONE_NUMBER_ID=%s\nWHATSAPP_SANDBOX_URL=%s\n", instance, phoneID, sb.URL)
	seedTwilio(t, s, f, env, sb.URL)
}

// seedTwilio gives the demo sms and voice channels what `make run` gives
// them: Twilio credentials (made up; the sandbox takes any AC… SID with a
// 32-hex token) and the sender pointed at the sandbox's Twilio API. It
// adds TWILIO_ACCOUNT_SID, TWILIO_FROM, DEMO_NUMBER and TWILIO_SANDBOX_URL
// to demo.env (f).
func seedTwilio(t *testing.T, s *stacktest.Stack, f *os.File, env map[string]string, sandboxURL string) {
	t.Helper()
	t.Setenv("TWILIO_API_BASE_URL", sandboxURL)
	sid, from := "AC0123456789abcdef0123456789abcdef", "+15005550006"
	for _, ch := range []string{env["CHANNEL_SMS"], env["CHANNEL_VOICE"]} {
		r := s.Admin("PUT", "/admin/tenants/"+env["TENANT_ID"]+"/channels/"+ch+"/twilio", map[string]any{
			"account_sid": sid, "auth_token": "0123456789abcdef0123456789abcdef", "from": from})
		if r.Status != 200 {
			t.Fatalf("set the Twilio credentials of %s: %d %s", ch, r.Status, r.Body)
		}
	}
	fmt.Fprintf(f, "TWILIO_ACCOUNT_SID=%s\nTWILIO_FROM=%s\nDEMO_NUMBER=+526643596440\nTWILIO_SANDBOX_URL=%s\n", sid, from, sandboxURL)
}
