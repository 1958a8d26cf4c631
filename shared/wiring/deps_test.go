package wiring_test

import (
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/startmsg/chatbackend/"

// messagingAdapters are the packages only the messaging functions may link:
// the messaging composition, the WhatsApp Cloud API client, the chat-api
// ports.
var messagingAdapters = []string{
	module + "shared/wiring/messaging",
	module + "shared/whatsapp",
	module + "shared/chatapi/chatports",
}

// notInWiring are further packages the wiring must not link: the sender
// and the SQS client (the functions that queue or consume link them through
// their handler packages, never through the wiring).
var notInWiring = []string{
	module + "shared/sender",
	"github.com/aws/aws-sdk-go-v2/service/sqs",
}

// deps lists, for each of the packages, its transitive imports as the
// deployment builds it (linux/arm64, the deployment's build tags).
func deps(t *testing.T, pkgs ...string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-tags", "lambda.norpc", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}, pkgs...)...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

// TestMessagingAdaptersOnlyInMessagingFunctions: the wiring every function
// builds links none of the messaging adapters (nor the sender and the SQS
// client), and a function whose main does not start from
// shared/wiring/messaging links none of them either, so that the others
// stay small and start fast (every package linked runs its init at a cold
// start).
func TestMessagingAdaptersOnlyInMessagingFunctions(t *testing.T) {
	all := deps(t, "./shared/wiring", "./functions/...")
	for _, p := range append(slices.Clone(messagingAdapters), notInWiring...) {
		if slices.Contains(all[module+"shared/wiring"], p) {
			t.Errorf("shared/wiring links %s: every function would (move what needs it to shared/wiring/messaging)", p)
		}
	}
	var messaging, others []string
	for pkg, d := range all {
		fn, ok := strings.CutPrefix(pkg, module+"functions/")
		if !ok {
			continue
		}
		if slices.Contains(d, module+"shared/wiring/messaging") {
			messaging = append(messaging, fn)
			continue
		}
		others = append(others, fn)
		for _, p := range messagingAdapters {
			if slices.Contains(d, p) {
				t.Errorf("functions/%s links %s but is no messaging function (its main starts from shared/wiring)", fn, path.Base(p))
			}
		}
	}
	// Both kinds exist, so the checks above check something.
	for _, fn := range []string{"dispatcher", "contact-get", "authorizer", "trigger-router"} {
		if !slices.Contains(others, fn) {
			t.Errorf("functions/%s should not link shared/wiring/messaging", fn)
		}
	}
	for _, fn := range []string{"sender", "message-send", "whatsapp-intake", "template-create", "chatapi-message"} {
		if !slices.Contains(messaging, fn) {
			t.Errorf("functions/%s should start from shared/wiring/messaging", fn)
		}
	}
}
