package connections

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretsDoNotPrint: a connection printed or logged whole shows no
// signing secret.
func TestSecretsDoNotPrint(t *testing.T) {
	const v1, v2 = "whsec_c2VjcmV0LW9uZS1zZWNyZXQtb25lLXNlY3JldC1vbmU=", "whsec_c2VjcmV0LXR3by1zZWNyZXQtdHdvLXNlY3JldC10d28="
	c := Connection{ID: "conn_1", Secrets: []Secret{{Value: v1}, {Value: v2, ExpiresAt: 1}}}
	var logs bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l.Debug("connection", "conn", c, "secrets", c.Secrets, "secret", c.Secrets[0])
	l.Debug("connection", "conn", &c)
	out := fmt.Sprintf("%v %+v %#v %s %v", c, c, c, c.Secrets, &c) + logs.String()
	if strings.Contains(out, v1) || strings.Contains(out, v2) || !strings.Contains(out, "whsec_[redacted]") {
		t.Fatalf("printed: %s", out)
	}
	if c.Secrets[0].Value != v1 || c.CurrentSecret() != v1 {
		t.Fatal("the value itself must stay usable")
	}
}
