package eventsapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

// messengerHook makes a Messenger channel signed with appSecret and a token
// for it, and returns the webhook path and the token.
func messengerHook(t *testing.T, s *stacktest.Stack, tenantID, appSecret string) (hook, token string) {
	t.Helper()
	r := s.Admin("POST", "/admin/tenants/"+tenantID+"/channels", map[string]any{"kind": "messenger", "name": "Test Page", "default_country": "US", "app_secret": appSecret, "verify_token": "verify-me"})
	if r.Status != 201 {
		t.Fatalf("channel: %d %s", r.Status, r.Body)
	}
	ch := get(r.JSON, "data.id").(string)
	if strings.Contains(string(r.Body), appSecret) {
		t.Fatal("the app secret must never be shown")
	}
	r = s.Admin("POST", "/admin/tenants/"+tenantID+"/channels/"+ch+"/tokens", nil)
	return "/v1/webhooks/messenger/" + tenantID + "/" + ch, get(r.JSON, "data.token").(string)
}

// signedPost is a Messenger webhook call of body, signed with secret
// unless it is "".
func signedPost(t *testing.T, url, secret, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	return req
}

// eventually retries check until it returns "" or timeout passes.
func eventually(t *testing.T, timeout time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestMessengerWebhooks(t *testing.T) {
	s := stacktest.New(t)
	s.Pipeline()
	tn := s.NewTenant("Shop", "sms")
	hook, token := messengerHook(t, s, tn.ID, "app-secret-1")

	// The GET handshake: the challenge as plain text, never sniffed.
	r := s.Do("GET", hook+"?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444", "", nil)
	if r.Status != 200 || string(r.Body) != "1158201444" {
		t.Fatalf("handshake: %d %s", r.Status, r.Body)
	}
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("handshake: X-Content-Type-Options %q, want nosniff", got)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("handshake: Content-Type %q", ct)
	}
	if r := s.Do("GET", hook+"?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", "", nil); r.Status != 403 {
		t.Fatalf("wrong verify token: %d", r.Status)
	}
	if r := s.Do("GET", "/v1/webhooks/messenger/"+tn.ID+"/"+tn.ChannelID+"?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1", "", nil); r.Status != 404 {
		t.Fatalf("not a messenger channel: %d", r.Status)
	}

	post := func(body string, sign bool) stacktest.Response {
		secret := ""
		if sign {
			secret = "app-secret-1"
		}
		return s.Send(signedPost(t, s.URL+hook, secret, body))
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
	// Recorded asynchronously, by the intake.
	eventually(t, 30*time.Second, func() string {
		r := s.Do("GET", "/v1/contact/12765756", "Bearer "+token, nil)
		cf, _ := get(r.JSON, "data.custom_fields").(map[string]any)
		if r.Status != 200 || cf["email"] != "testuser@gmail.com" || cf["phone"] != "+370628282846" || cf["location"] != "54.6872,25.2797" {
			return fmt.Sprintf("collected: %d %s", r.Status, r.Body)
		}
		return ""
	})
	if r := post(`{"object":"page","entry":[`, true); r.Status != 400 {
		t.Fatalf("malformed: %d", r.Status)
	}
}

// counter is a webhook target that counts what it gets.
type counter struct {
	*httptest.Server
	mu sync.Mutex
	n  int
}

func newCounter(t *testing.T) *counter {
	c := &counter{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
		w.WriteHeader(204)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func connectTo(t *testing.T, s *stacktest.Stack, token, url string, triggers ...string) {
	t.Helper()
	r := s.Do("POST", "/v1/connections", "Bearer "+token, map[string]any{"name": "CRM", "url": url, "triggers": triggers})
	if r.Status != 201 {
		t.Fatalf("connection: %d %s", r.Status, r.Body)
	}
}

// TestMessengerRepeatedCallFiresOnce: Meta sends the same signed call five
// times (its retries); each connection gets one delivery.
func TestMessengerRepeatedCallFiresOnce(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Shop", "sms")
	hook, token := messengerHook(t, s, tn.ID, "app-secret-2")
	a, b := newCounter(t), newCounter(t)
	connectTo(t, s, token, a.URL+"/a", "postback")
	connectTo(t, s, token, b.URL+"/b", "postback", "email")
	s.Pipeline()

	body := `{"object":"page","entry":[{"id":"1","time":1705321144000,"messaging":[
		{"sender":{"id":"4410020001"},"recipient":{"id":"1"},"timestamp":1705321144000,"postback":{"title":"Start","payload":"GET_STARTED"}}]}]}`
	for i := range 5 {
		if r := s.Send(signedPost(t, s.URL+hook, "app-secret-2", body)); r.Status != 200 {
			t.Fatalf("call %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	eventually(t, 30*time.Second, func() string {
		if a.count() < 1 || b.count() < 1 {
			return fmt.Sprintf("deliveries: %d and %d, want one each", a.count(), b.count())
		}
		return ""
	})
	// Whatever else was coming has had time to come.
	time.Sleep(3 * time.Second)
	if a.count() != 1 || b.count() != 1 {
		t.Fatalf("deliveries: %d and %d, want one per connection", a.count(), b.count())
	}
}

// TestMessengerThousandEvents: a call with 1,000 events is answered at
// once (the events are stored, not yet recorded) and every event is then
// recorded: 1,000 contacts, 1,000 deliveries. The bound here is generous
// for shared machines; make bench measures the real one.
func TestMessengerThousandEvents(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Shop", "sms")
	hook, token := messengerHook(t, s, tn.ID, "app-secret-3")
	rcv := newCounter(t)
	connectTo(t, s, token, rcv.URL+"/hook", "postback")
	s.Pipeline()

	var b strings.Builder
	b.WriteString(`{"object":"page","entry":[{"id":"1","time":1705321144000,"messaging":[`)
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"sender":{"id":"%d"},"recipient":{"id":"1"},"timestamp":%d,"postback":{"title":"Start","payload":"GET_STARTED"}}`, 7000000000+i, 1705321144000+i)
	}
	b.WriteString(`]}]}`)
	req := signedPost(t, s.URL+hook, "app-secret-3", b.String())
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	t.Logf("1,000 events answered in %v", took)
	if took > 3*time.Second {
		t.Errorf("1,000 events answered in %v: the answer must not wait for them", took)
	}

	eventually(t, 180*time.Second, func() string {
		if n := contactCount(t, s, tn.ID); n != 1000 {
			return fmt.Sprintf("%d contacts, want 1000", n)
		}
		if n := rcv.count(); n != 1000 {
			return fmt.Sprintf("%d deliveries, want 1000", n)
		}
		return ""
	})
}

// contactCount counts the tenant's contacts in the data table.
func contactCount(t *testing.T, s *stacktest.Stack, tenantID string) int {
	t.Helper()
	n := 0
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.Env.Table),
		FilterExpression:          aws.String("begins_with(PK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "CONTACT#" + tenantID + "#"}},
		Select:                    types.SelectCount,
	}
	for {
		out, err := s.Env.DDB.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		n += int(out.Count)
		if out.LastEvaluatedKey == nil {
			return n
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
