package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	appevents "github.com/startmsg/chatbackend/events"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

// checkTwilio sends an SMS on the sample SMS channel (events.Seed gives it
// Twilio credentials; a token is made for it here) through the whole local
// stack: the sender calls the provider sandbox's Twilio API, asking for
// status callbacks at the local API, and the sandbox's signed callbacks
// come back through twilio-status until the message is delivered.
func checkTwilio(t *testing.T, apiURL string, demo map[string]string) {
	t.Helper()
	if got := os.Getenv(messaging.EnvTwilioBaseURL); got != demo[SandboxURLKey] {
		t.Errorf("%s = %q, want the sandbox %q", messaging.EnvTwilioBaseURL, got, demo[SandboxURLKey])
	}
	if got := os.Getenv(appenv.TwilioStatusCallbackURL); got != apiURL+"/v1/webhooks/twilio" {
		t.Errorf("%s = %q, want %q", appenv.TwilioStatusCallbackURL, got, apiURL+"/v1/webhooks/twilio")
	}
	call := func(method, path, auth, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, apiURL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+auth)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return res.StatusCode, out
	}
	code, tok := call("POST", "/admin/tenants/"+appevents.SampleTenant+"/channels/"+appevents.SampleSMSChannel+"/tokens", demo["ADMIN_KEY"], `{"name":"twilio check"}`)
	token, _ := tok["data"].(map[string]any)["token"].(string)
	if code != http.StatusCreated || token == "" {
		t.Fatalf("token for the sample SMS channel: %d %v", code, tok)
	}
	code, sent := call("POST", "/v1/messages", token, `{"to":"+923001234567","type":"text","text":{"body":"make run: your code is 1234"}}`)
	id, _ := sent["data"].(map[string]any)["id"].(string)
	if code != http.StatusAccepted || id == "" {
		t.Fatalf("POST /v1/messages on the sample SMS channel: %d %v", code, sent)
	}
	deadline := time.Now().Add(60 * time.Second)
	var last map[string]any
	for time.Now().Before(deadline) {
		if code, m := call("GET", "/v1/messages/"+id, token, ""); code == http.StatusOK {
			last, _ = m["data"].(map[string]any)
			if last["status"] == "delivered" {
				if p, _ := last["provider_message_id"].(string); !strings.HasPrefix(p, "SM") {
					t.Errorf("delivered SMS without Twilio's SID: %v", last)
				}
				return
			}
		}
		time.Sleep(time.Second)
	}
	t.Errorf("the SMS on the sample SMS channel never reached delivered: %v", last)
}
