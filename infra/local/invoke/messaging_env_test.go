package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The messaging functions are pointed at make run's provider sandbox (the
// URL demo.env names), or at a Cloud API set here, never left on Meta's by
// default when make run has a sandbox.
func TestMessagingEnv(t *testing.T) {
	demo := filepath.Join(t.TempDir(), "demo.env")
	if err := os.WriteFile(demo, []byte("TENANT_ID=ten_demo\nWHATSAPP_SANDBOX_URL=http://127.0.0.1:18490\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	none := func(string) string { return "" }
	if got := messagingEnv(none, demo); !slices.Equal(got, []string{"WHATSAPP_API_BASE_URL=http://127.0.0.1:18490"}) {
		t.Errorf("from demo.env: %v", got)
	}
	set := func(k string) string {
		return map[string]string{"WHATSAPP_API_BASE_URL": "https://graph.example.com", "WHATSAPP_API_VERSION": "v22.0"}[k]
	}
	if got := messagingEnv(set, demo); !slices.Equal(got, []string{"WHATSAPP_API_BASE_URL=https://graph.example.com", "WHATSAPP_API_VERSION=v22.0"}) {
		t.Errorf("from the environment: %v", got)
	}
	if got := messagingEnv(none, filepath.Join(t.TempDir(), "missing.env")); len(got) != 0 {
		t.Errorf("without make run: %v", got)
	}
}
