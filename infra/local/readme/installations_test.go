package readme_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

// docs are the other Markdown files whose examples run as the README's
// do, after them, in the same shell and with the same demo.env.
var docs = []string{"../../../docs/installations.md"}

// seedInstallation gives the demo WhatsApp channel its sender installation
// as `make run` does ("Use API" on, always open, the number +923001234567)
// and adds INSTALLATION_UUID and INSTALLATION_SECRET to demo.env.
func seedInstallation(t *testing.T, s *stacktest.Stack, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	token := ""
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "TOKEN_WHATSAPP="); ok {
			token = v
		}
	}
	r := s.Do("POST", "/v1/installations", "Bearer "+token, map[string]any{"name": "Demo sender", "use_api": true,
		"numbers": []string{"+923001234567"}, "hours": map[string]any{}})
	if r.Status != 201 {
		t.Fatalf("create the demo installation: %d %s", r.Status, r.Body)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "INSTALLATION_UUID=%s\nINSTALLATION_SECRET=%s\n", stacktest.Path(r.JSON, "data.uuid"), stacktest.Path(r.JSON, "data.secret"))
}
