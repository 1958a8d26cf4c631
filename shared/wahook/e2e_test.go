package wahook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/wahook"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

func TestMain(m *testing.M) { emulators.Main(m) }

// syncBuffer is a log sink the stack's goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recMessages is the message store in memory (until the real one is
// wired), idempotent by (channel, wamid).
type recMessages struct {
	mu    sync.Mutex
	calls int
	m     map[string]messages.Message
}

func (r *recMessages) Inbound(_ context.Context, m messages.Message) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	k := m.ChannelID + "#" + m.ProviderID
	if _, ok := r.m[k]; ok {
		return true, nil
	}
	r.m[k] = m
	return false, nil
}

func (r *recMessages) ApplyStatus(context.Context, string, string, string, messages.Status, time.Time, *messages.Failure) error {
	return apperr.NotFound("Message", "")
}

func (r *recMessages) count() (calls, stored int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, len(r.m)
}

func signed(s *stacktest.Stack, secret, body string) stacktest.Response {
	req, _ := http.NewRequest("POST", s.URL+"/v1/webhooks/whatsapp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	return s.Send(req)
}

func call(phone string, n int) string {
	var msgs []string
	for i := range n {
		msgs = append(msgs, fmt.Sprintf(`{"from":"92300123%04d","id":"wamid.e2e%05d","timestamp":"1749416383","type":"text","text":{"body":"hi %d"}}`, i%50, i, i))
	}
	return `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",` +
		`"metadata":{"display_phone_number":"15550783881","phone_number_id":"` + phone + `"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"923001230000"}],` +
		`"messages":[` + strings.Join(msgs, ",") + `]}}]}]}`
}

// TestWhatsAppEndToEnd: credentials set through the admin API and never
// shown again (in answers or in debug logs), the instance id in the
// channel's answers and /v1/me, the handshake, signed calls recorded by the
// intake once per wamid, and a phone number id that is another channel's.
func TestWhatsAppEndToEnd(t *testing.T) {
	s := stacktest.New(t)
	logs := &syncBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	store := &recMessages{m: map[string]messages.Message{}}
	messaging.Override(s.Deps, messaging.Overrides{WAMessages: store})
	s.Pipeline()

	a := s.NewTenant("Acme", "whatsapp")
	token, secret, verify := "EAAtok"+hex.EncodeToString([]byte(t.Name())), "appsecret-e2e-0123456789", "verify-e2e-0123456789"
	phone := fmt.Sprint(time.Now().UnixNano() % 1e15)
	path := "/admin/tenants/" + a.ID + "/channels/" + a.ChannelID + "/whatsapp"
	r := s.Admin("PUT", path, map[string]any{"access_token": token, "phone_number_id": phone, "waba_id": "102290129340398", "app_secret": secret, "verify_token": verify})
	if r.Status != 200 {
		t.Fatalf("set credentials: %d %s", r.Status, r.Body)
	}
	later := []stacktest.Response{r}
	instance := stacktest.Path(r.JSON, "data.instance_id")
	if instance == nil || instance.(float64) <= 0 || stacktest.Path(r.JSON, "data.whatsapp.phone_number_id") != phone {
		t.Fatalf("answer %s", r.Body)
	}
	me := s.Do("GET", "/v1/me", "Bearer "+a.Token, nil)
	if stacktest.Path(me.JSON, "data.channel.instance_id") != instance {
		t.Fatalf("/v1/me: %s", me.Body)
	}
	later = append(later, me, s.Admin("GET", "/admin/tenants/"+a.ID+"/channels", nil))
	if r := s.Admin("PUT", path, map[string]any{"access_token": "x"}); r.Status != 200 {
		t.Fatalf("rotate the token alone: %d %s", r.Status, r.Body)
	}
	if r := s.Admin("PUT", path, map[string]any{"access_token": token, "nope": 1}); r.Status != 400 {
		t.Fatalf("unknown key: %d %s", r.Status, r.Body)
	}
	if r := s.Admin("PUT", path, map[string]any{"access_token": token}); r.Status != 200 {
		t.Fatalf("the token back: %d %s", r.Status, r.Body)
	}

	// Another tenant may not take the number.
	b := s.NewTenant("Other", "whatsapp")
	r = s.Admin("PUT", "/admin/tenants/"+b.ID+"/channels/"+b.ChannelID+"/whatsapp", map[string]any{"access_token": "t", "phone_number_id": phone, "waba_id": "1", "app_secret": "s", "verify_token": "v"})
	if r.Status != 409 {
		t.Fatalf("a taken phone number id: %d %s", r.Status, r.Body)
	}
	// A messenger channel takes no WhatsApp credentials.
	m := s.NewTenant("Page", "messenger")
	if r := s.Admin("PUT", "/admin/tenants/"+m.ID+"/channels/"+m.ChannelID+"/whatsapp", map[string]any{"access_token": "t"}); r.Status != 400 {
		t.Fatalf("messenger channel: %d %s", r.Status, r.Body)
	}

	// The handshake.
	r = s.Do("GET", "/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token="+verify+"&hub.challenge=1158201444", "", nil)
	if r.Status != 200 || string(r.Body) != "1158201444" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("handshake: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token="+secret+"&hub.challenge=1", "", nil); r.Status != 403 {
		t.Fatalf("wrong verify token: %d", r.Status)
	}

	// Signed calls: bad and missing signatures store nothing; a good one,
	// sent twice, records each message once.
	body := call(phone, 100)
	for _, key := range []string{"", "not-" + secret} {
		if r := signed(s, key, body); r.Status != 403 || stacktest.Path(r.JSON, "status") != "error" {
			t.Fatalf("signature %q: %d %s", key, r.Status, r.Body)
		}
	}
	for range 2 {
		if r := signed(s, secret, body); r.Status != 200 {
			t.Fatalf("signed call: %d %s", r.Status, r.Body)
		}
	}
	// An unknown number: 200, nothing stored.
	if r := signed(s, "whatever", call("1", 3)); r.Status != 200 {
		t.Fatalf("unknown number: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		calls, stored := store.count()
		if stored == 100 && calls >= 100 {
			// Give a late duplicate time to show.
			time.Sleep(500 * time.Millisecond)
			if calls, _ := store.count(); calls != 100 {
				t.Fatalf("the message store was called %d times for 100 messages sent twice (the marks did not dedupe)", calls)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls, %d messages recorded, want 100:\n%.3000s", calls, stored, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The contact is the channel's, by wa_id, with its phone and name.
	c := s.Do("GET", "/v1/contact/923001230000", "Bearer "+a.Token, nil)
	if c.Status != 200 || !strings.Contains(string(c.Body), "+923001230000") || !strings.Contains(string(c.Body), "Ana") {
		t.Fatalf("contact: %d %s", c.Status, c.Body)
	}
	later = append(later, c)

	// A call of 1,000 messages is answered after one write: its messages
	// are recorded from the stream.
	inboxItems := func() int {
		out, err := s.Env.DDB.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(s.Env.Table),
			FilterExpression:          aws.String("begins_with(PK, :p)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: wahook.InboxKeyPrefix}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Items)
	}
	before := inboxItems()
	big := strings.ReplaceAll(call(phone, 1000), "wamid.e2e", "wamid.big")
	if r := signed(s, secret, big); r.Status != 200 {
		t.Fatalf("1,000 messages: %d %s", r.Status, r.Body)
	}
	if n := inboxItems(); n != before+1 {
		t.Fatalf("1,000 messages made %d inbox items", n-before)
	}

	out := logs.String()
	for what, v := range map[string]string{"access token": token, "app secret": secret, "verify token": verify} {
		if strings.Contains(out, v) {
			i := strings.Index(out, v)
			t.Errorf("the %s is in the logs: …%s…", what, out[max(0, i-300):min(len(out), i+len(v)+100)])
		}
		for _, res := range later {
			if strings.Contains(string(res.Body), v) {
				t.Errorf("the %s is in an answer: %s", what, res.Body)
			}
		}
	}
}
