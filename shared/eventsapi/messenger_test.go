package eventsapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

func TestMessengerWebhooks(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Shop", "sms")
	r := s.Admin("POST", "/admin/tenants/"+tn.ID+"/channels", map[string]any{"kind": "messenger", "name": "Test Page", "default_country": "US", "app_secret": "app-secret-1", "verify_token": "verify-me"})
	if r.Status != 201 {
		t.Fatalf("channel: %d %s", r.Status, r.Body)
	}
	ch := get(r.JSON, "data.id").(string)
	if strings.Contains(string(r.Body), "app-secret-1") {
		t.Fatal("the app secret must never be shown")
	}
	r = s.Admin("POST", "/admin/tenants/"+tn.ID+"/channels/"+ch+"/tokens", nil)
	token := get(r.JSON, "data.token").(string)
	hook := "/v1/webhooks/messenger/" + tn.ID + "/" + ch

	// The GET handshake.
	r = s.Do("GET", hook+"?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444", "", nil)
	if r.Status != 200 || string(r.Body) != "1158201444" {
		t.Fatalf("handshake: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", hook+"?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", "", nil); r.Status != 403 {
		t.Fatalf("wrong verify token: %d", r.Status)
	}
	if r := s.Do("GET", "/v1/webhooks/messenger/"+tn.ID+"/"+tn.ChannelID+"?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1", "", nil); r.Status != 404 {
		t.Fatalf("not a messenger channel: %d", r.Status)
	}

	post := func(body string, sign bool) stacktest.Response {
		req, _ := http.NewRequest("POST", s.URL+hook, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sign {
			mac := hmac.New(sha256.New, []byte("app-secret-1"))
			mac.Write([]byte(body))
			req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		}
		return s.Send(req)
	}
	postback := `{"object":"page","entry":[{"id":"37674343246","time":1705321144000,"messaging":[
		{"sender":{"id":"12765756"},"recipient":{"id":"37674343246"},"timestamp":1705321144000,"postback":{"title":"Start","payload":"GET_STARTED"}}]}]}`
	if r := post(postback, false); r.Status != 403 {
		t.Fatalf("unsigned: %d %s", r.Status, r.Body)
	}
	if r := post(postback, true); r.Status != 200 {
		t.Fatalf("signed postback: %d %s", r.Status, r.Body)
	}
	quick := `{"object":"page","entry":[{"id":"37674343246","time":1,"messaging":[
		{"sender":{"id":"12765756"},"recipient":{"id":"37674343246"},"timestamp":2,"message":{"mid":"m1","text":"testuser@gmail.com","quick_reply":{"payload":"testuser@gmail.com"}}},
		{"sender":{"id":"12765756"},"recipient":{"id":"37674343246"},"timestamp":3,"message":{"mid":"m2","text":"+370 628 282846","quick_reply":{"payload":"+370 628 282846"}}},
		{"sender":{"id":"12765756"},"recipient":{"id":"37674343246"},"timestamp":4,"message":{"mid":"m3","attachments":[{"type":"location","payload":{"coordinates":{"lat":54.6872,"long":25.2797}}}]}}]}]}`
	if r := post(quick, true); r.Status != 200 {
		t.Fatalf("quick replies: %d %s", r.Status, r.Body)
	}
	r = s.Do("GET", "/v1/contact/12765756", "Bearer "+token, nil)
	cf, _ := get(r.JSON, "data.custom_fields").(map[string]any)
	if r.Status != 200 || cf["email"] != "testuser@gmail.com" || cf["phone"] != "+370628282846" || cf["location"] != "54.6872,25.2797" {
		t.Fatalf("collected: %d %s", r.Status, r.Body)
	}
	if r := post(`{"object":"page","entry":[`, true); r.Status != 400 {
		t.Fatalf("malformed: %d", r.Status)
	}
}
