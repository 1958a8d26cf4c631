package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// make invoke points the sender's Twilio provider at make run's sandbox
// and its status callbacks at make run's API, or at what is set here.
func TestTwilioEnv(t *testing.T) {
	demo := filepath.Join(t.TempDir(), "demo.env")
	if err := os.WriteFile(demo, []byte("API_URL=http://127.0.0.1:8080\nWHATSAPP_SANDBOX_URL=http://127.0.0.1:18490\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	none := func(string) string { return "" }
	want := []string{"TWILIO_API_BASE_URL=http://127.0.0.1:18490", "TWILIO_STATUS_CALLBACK_URL=http://127.0.0.1:8080/v1/webhooks/twilio"}
	if got := twilioEnv(none, demo); !slices.Equal(got, want) {
		t.Errorf("from demo.env: %v, want %v", got, want)
	}
	set := func(k string) string {
		return map[string]string{"TWILIO_API_BASE_URL": "https://api.twilio.com", "TWILIO_STATUS_CALLBACK_URL": "https://x.example/v1/webhooks/twilio"}[k]
	}
	want = []string{"TWILIO_API_BASE_URL=https://api.twilio.com", "TWILIO_STATUS_CALLBACK_URL=https://x.example/v1/webhooks/twilio"}
	if got := twilioEnv(set, demo); !slices.Equal(got, want) {
		t.Errorf("set here: %v, want %v", got, want)
	}
	if got := twilioEnv(none, filepath.Join(t.TempDir(), "missing.env")); len(got) != 0 {
		t.Errorf("without demo.env: %v", got)
	}
}
