package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

// checkTwilio sends seed 003's SMS and call actions with the demo
// account secret: the demo sms and voice channels' sender calls the
// provider sandbox's Twilio API with their credentials, and the messages,
// read back with the account secret, end delivered (the SMS) and
// completed (the call) with the sandbox's SIDs: the sandbox's signed status
// callbacks come back through twilio-status at the local API.
func checkTwilio(t *testing.T, apiURL string, demo map[string]string) {
	t.Helper()
	for _, k := range []string{TwilioSIDKey, TwilioFromKey, DemoNumberKey, TwilioSandboxURLKey, "CHANNEL_SMS", "CHANNEL_VOICE"} {
		if demo[k] == "" {
			t.Fatalf("demo.env has no %s", k)
		}
	}
	if os.Getenv(messaging.EnvTwilioBaseURL) != demo[TwilioSandboxURLKey] {
		t.Fatalf("%s = %q, want the sandbox %q", messaging.EnvTwilioBaseURL, os.Getenv(messaging.EnvTwilioBaseURL), demo[TwilioSandboxURLKey])
	}
	if got := os.Getenv(appenv.TwilioStatusCallbackURL); got != apiURL+"/v1/webhooks/twilio" {
		t.Errorf("%s = %q, want %q", appenv.TwilioStatusCallbackURL, got, apiURL+"/v1/webhooks/twilio")
	}
	call := func(method, url, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", demo["ACCOUNT_SECRET"])
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(res.Body)
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %d %s", method, url, res.StatusCode, b)
		}
		return res.StatusCode, out
	}
	code, out := call("POST", apiURL+"/v1/actions", `[{"number":"`+demo[DemoNumberKey]+`","text":"Hello, your package ","type":"SMS"},`+
		`{"number":"`+demo[DemoNumberKey]+`","text":"Hello, your package ","type":"CALL"}]`)
	items, _ := out["data"].([]any)
	if code != http.StatusOK || len(items) != 2 {
		t.Fatalf("actions: %d %v", code, out)
	}
	sids := map[string]string{}
	final := []string{"delivered", "completed"}
	for i, want := range []string{demo["CHANNEL_SMS"], demo["CHANNEL_VOICE"]} {
		it, _ := items[i].(map[string]any)
		id, _ := it["idMessage"].(string)
		if it["status"] != "success" || it["idChannel"] != want || id == "" {
			t.Fatalf("item %d: %v", i, it)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			code, m := call("GET", apiURL+"/v1/messages/"+id, "")
			d, _ := m["data"].(map[string]any)
			if code == http.StatusOK && d["status"] == final[i] {
				sids[d["provider_message_id"].(string)] = want
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %s never %s: %d %v", id, final[i], code, m)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	res, err := http.Get(demo[TwilioSandboxURLKey] + "/_sandbox/twilio?to=" + strings.ReplaceAll(demo[DemoNumberKey], "+", "%2B"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct {
		Records []sandbox.TwilioRecord `json:"records"`
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	recs := got.Records
	found := 0
	for _, r := range recs {
		if _, ok := sids[r.SID]; ok && r.AccountSID == demo[TwilioSIDKey] && r.From == demo[TwilioFromKey] {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("the sandbox shows %d of the 2 sends: %+v (sent %v)", found, recs, sids)
	}
}
