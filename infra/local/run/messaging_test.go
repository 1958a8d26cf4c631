package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// checkMessaging sends and receives WhatsApp messages through the whole
// local stack and its provider sandbox: the API stores a message, the
// router queues it on the outbox, the sender calls the sandbox with the
// demo channel's credentials, and the sandbox's signed status webhooks
// come back through the webhook intake until the message is read. A
// contact writing in (the sandbox's inbound webhook) is stored on its
// contact and opens the 24-hour window for free-form text. Seed 002's own
// sendTemplate request is sent as the seed writes it.
func checkMessaging(t *testing.T, apiURL string, demo map[string]string) {
	t.Helper()
	token := demo["TOKEN_WHATSAPP"]
	call := func(method, url, auth, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		if out == nil {
			out = map[string]any{"raw": string(b)}
		}
		return res.StatusCode, out
	}
	data := func(m map[string]any) map[string]any {
		d, _ := m["data"].(map[string]any)
		return d
	}
	waitStatus := func(id string, want ...string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		var last map[string]any
		for time.Now().Before(deadline) {
			code, m := call("GET", apiURL+"/v1/messages/"+id, token, "")
			if code == 200 {
				last = data(m)
				for _, w := range want {
					if last["status"] == w {
						return last
					}
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("message %s never reached %v: %v", id, want, last)
		return nil
	}

	// A template message to a contact who never wrote: sent by the
	// sender, then delivered and read by the sandbox's status webhooks.
	code, m := call("POST", apiURL+"/v1/messages", token,
		`{"to":"+923244077087","type":"template","template":{"name":"template_name","namespace":"namespace_of_template","language":"en"}}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/messages (template): %d %v", code, m)
	}
	id, _ := data(m)["id"].(string)
	msg := waitStatus(id, "read")
	if wamid, _ := msg["provider_message_id"].(string); !strings.HasPrefix(wamid, "wamid.") {
		t.Errorf("the read message has no wamid: %v", msg)
	}

	// A template the registry does not hold is refused at the API.
	if code, m := call("POST", apiURL+"/v1/messages", token,
		`{"to":"+923244077087","type":"template","template":{"name":"no_such_template","language":"en"}}`); code != http.StatusNotFound {
		t.Errorf("unknown template: %d %v", code, m)
	}
	// Free-form text to a contact outside the window: refused.
	if code, m := call("POST", apiURL+"/v1/messages", token,
		`{"to":"+923244077088","type":"text","text":{"body":"hello"}}`); code != http.StatusUnprocessableEntity {
		t.Errorf("text outside the window: %d %v", code, m)
	}

	// Seed 002's webhook: the channel's messages are posted to it in
	// chat-api's shape, through the dispatcher.
	hooks := make(chan map[string]any, 100)
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		hooks <- body
	}))
	defer hookSrv.Close()
	if code, m := call("POST", apiURL+"/instance"+demo["INSTANCE_ID"]+"/webhook?token="+token, "", `{"webhookUrl":"`+hookSrv.URL+`"}`); code/100 != 2 {
		t.Fatalf("seed 002 webhook: %d %v", code, m)
	}

	// The contact writes in: the intake stores the inbound message on its
	// contact (wa_id) and opens the window.
	in, _ := json.Marshal(map[string]string{"from": "923244077088", "text": "hi there", "name": "Ana",
		"phone_number_id": demo["WHATSAPP_PHONE_NUMBER_ID"]})
	res, err := http.Post(demo["WHATSAPP_SANDBOX_URL"]+"/_sandbox/inbound", "application/json", bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("sandbox inbound: %d", res.StatusCode)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, m := call("GET", apiURL+"/v1/contact/923244077088/messages", token, "")
		items, _ := m["data"].([]any)
		if code == 200 && len(items) > 0 {
			first, _ := items[0].(map[string]any)
			if first["direction"] != "inbound" || first["status"] != "received" {
				t.Errorf("the contact's message: %v", first)
			}
			if txt, _ := first["text"].(map[string]any); txt["body"] != "hi there" {
				t.Errorf("inbound text: %v", first)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the inbound message never showed on its contact: %d %v", code, m)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The inbound message reached the chat-api webhook.
	waitHook := func(what string, ok func(map[string]any) bool) {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			select {
			case b := <-hooks:
				if b["instanceId"] != demo["INSTANCE_ID"] {
					t.Errorf("webhook instanceId %v, want %s", b["instanceId"], demo["INSTANCE_ID"])
				}
				if ok(b) {
					return
				}
			case <-timeout:
				t.Fatalf("the chat-api webhook never got %s", what)
			}
		}
	}
	waitHook("the inbound message", func(b map[string]any) bool {
		msgs, _ := b["messages"].([]any)
		for _, x := range msgs {
			if m, _ := x.(map[string]any); m["body"] == "hi there" && m["fromMe"] == false && m["chatId"] == "923244077088@c.us" {
				return true
			}
		}
		return false
	})
	code, m = call("POST", apiURL+"/v1/messages", token, `{"contact_id":"923244077088","type":"text","text":{"body":"Thanks for writing!"}}`)
	if code != http.StatusAccepted {
		t.Fatalf("text inside the window: %d %v", code, m)
	}
	textID := data(m)["id"].(string)
	waitStatus(textID, "read")
	// Our own message (fromMe) and its acks reached the webhook too.
	waitHook("the read ack of our text", func(b map[string]any) bool {
		acks, _ := b["ack"].([]any)
		for _, x := range acks {
			if a, _ := x.(map[string]any); a["id"] == textID && a["status"] == "viewed" {
				return true
			}
		}
		return false
	})

	// Seed 002's request, verbatim.
	code, m = call("POST", apiURL+"/sendTemplate?token="+token, "",
		`{"phone": "79995253422","template": "template_name", "namespace" : "namespace_of_template", "language": { "code": "en", "policy": "deterministic"}}`)
	if code != 200 || m["sent"] != true {
		t.Fatalf("seed 002 sendTemplate: %d %v", code, m)
	}
	if id, _ := m["id"].(string); id != "" {
		waitStatus(id, "sent", "delivered", "read")
	}
}
