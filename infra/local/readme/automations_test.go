package readme_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

// seedAutomation gives the demo tenant its automation as `make run` does
// (the demo template on the WhatsApp channel, a minute's wait, the tag
// welcomed; on) and adds AUTOMATION_ID to demo.env. It runs after
// seedWhatsApp: the template must be approved.
func seedAutomation(t *testing.T, s *stacktest.Stack, path string) {
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
	r := s.Do("POST", "/v1/automations", env["ACCOUNT_SECRET"], map[string]any{"name": "Demo: welcome", "on": true, "nodes": []map[string]any{
		{"type": "send_message", "channel_id": env["CHANNEL_WHATSAPP"], "template": map[string]any{"name": "template_name", "language": "en"}},
		{"type": "wait", "seconds": 60},
		{"type": "add_tag", "tag": "welcomed"},
	}})
	if r.Status != 201 {
		t.Fatalf("create the demo automation: %d %s", r.Status, r.Body)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "AUTOMATION_ID=%s\n", stacktest.Path(r.JSON, "data.id"))
}
