package gateway_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

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

func randomHex(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestSecretsStayOutOfLogsAndAnswers sends requests carrying every kind of
// secret through the whole stack (gateway, authorizer, functions, stream
// router, dispatcher) with every log line captured at debug level, then
// checks that no secret appears in the logs, nor in any answer after the
// one that created it.
func TestSecretsStayOutOfLogsAndAnswers(t *testing.T) {
	s := stacktest.New(t)
	logs := &syncBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	s.Pipeline()

	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()

	secrets := map[string]string{"admin key": stacktest.AdminKey}
	// Answers after creation: each GET below must show none of them.
	var later []stacktest.Response

	a := s.NewTenant("Acme", "sms")
	secrets["account secret"], secrets["channel token"] = a.Secret, a.Token
	appSecret, verifyToken := "appsecret-"+randomHex(t), "verify-"+randomHex(t)
	secrets["app_secret"], secrets["verify_token"] = appSecret, verifyToken
	r := s.Admin("POST", "/admin/tenants/"+a.ID+"/channels", map[string]any{
		"kind": "messenger", "name": "Page", "default_country": "US", "app_secret": appSecret, "verify_token": verifyToken})
	if r.Status != http.StatusCreated {
		t.Fatalf("channel: %d %s", r.Status, r.Body)
	}
	later = append(later, r) // the operator typed both: the answer need not repeat them
	mch := stacktest.Path(r.JSON, "data.id").(string)
	r = s.Admin("POST", "/admin/tenants/"+a.ID+"/channels/"+mch+"/tokens", nil)
	mtok := stacktest.Path(r.JSON, "data.token").(string)
	secrets["messenger channel token"] = mtok

	// Credentials in every place a client puts them, right and wrong.
	wrong := "ct_" + randomHex(t) + randomHex(t)
	secrets["wrong token"] = wrong
	s.Do("GET", "/v1/me", "Bearer "+a.Token, nil)
	s.Do("GET", "/v1/me?token="+a.Token, "Bearer "+mtok, nil)
	s.Do("GET", "/v1/me", "Bearer "+wrong, nil)
	s.Do("GET", "/v1/me", wrong, nil)
	s.Do("GET", "/v1/me", "Bearer "+a.Secret, nil)
	s.Do("POST", "/v1/actions", a.Secret, `[{"type":"SEARCH","Fname":"nobody"}]`)
	s.Do("POST", "/v1/actions", "Bearer "+a.Token, `[]`)
	s.Do("GET", "/admin/tenants/"+a.ID, "Bearer "+a.Secret, nil)
	s.Do("GET", "/admin/tenants/"+a.ID, "Bearer "+wrong, nil)

	// Connections: the signing secret, rotated, and deliveries signed with both.
	r = s.Do("POST", "/v1/connections", "Bearer "+a.Token, map[string]any{
		"name": "CRM", "url": rcv.URL + "/hook", "triggers": []string{"email"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("connection: %d %s", r.Status, r.Body)
	}
	conn := stacktest.Path(r.JSON, "data.id").(string)
	secrets["connection secret"] = stacktest.Path(r.JSON, "data.secret").(string)
	r = s.Do("POST", "/v1/connections/"+conn+"/secret", "Bearer "+a.Token, nil)
	secrets["rotated connection secret"] = stacktest.Path(r.JSON, "data.secret").(string)
	r = s.Do("POST", "/v1/hooks", "Bearer "+a.Token, map[string]any{"target_url": rcv.URL + "/zap", "event": "email"})
	if r.Status != http.StatusCreated {
		t.Fatalf("hook: %d %s", r.Status, r.Body)
	}
	s.Do("POST", "/v1/connections/"+conn+"/test", "Bearer "+a.Token, nil)
	s.Do("POST", "/v1/events", "Bearer "+a.Token, map[string]any{"psid": "4410020001", "field": "email", "value": "ana@example.com"})

	// Messenger: the handshake's verify token and the app secret's signature.
	hook := "/v1/webhooks/messenger/" + a.ID + "/" + mch
	s.Do("GET", hook+"?hub.mode=subscribe&hub.verify_token="+verifyToken+"&hub.challenge=42", "", nil)
	s.Do("GET", hook+"?hub.mode=subscribe&hub.verify_token="+appSecret+"&hub.challenge=42", "", nil)
	body := `{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"777"},"recipient":{"id":"1"},"timestamp":1,"postback":{"title":"Go","payload":"GO"}}]}]}`
	for _, key := range []string{appSecret, "not-" + appSecret} {
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write([]byte(body))
		req, _ := http.NewRequest("POST", s.URL+hook, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		s.Send(req)
	}

	// Every read after creation.
	for _, path := range []string{"/admin/tenants/" + a.ID, "/admin/tenants/" + a.ID + "/channels",
		"/admin/tenants/" + a.ID + "/channels/" + a.ChannelID + "/tokens", "/admin/tenants/" + a.ID + "/channels/" + mch + "/tokens"} {
		later = append(later, s.Admin("GET", path, nil))
	}
	for _, path := range []string{"/v1/connections", "/v1/connections/" + conn, "/v1/connections/" + conn + "/activity",
		"/v1/deliveries/dead", "/v1/me"} {
		later = append(later, s.Do("GET", path, "Bearer "+a.Token, nil))
	}
	later = append(later, s.Do("GET", "/v1/me", "Bearer "+mtok, nil))

	// The queued deliveries: the dispatcher logs each attempt.
	for deadline := time.Now().Add(30 * time.Second); strings.Count(logs.String(), `"msg":"attempt"`) < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the dispatcher made no attempts:\n%.3000s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	out := logs.String()
	if !strings.Contains(out, `"msg":"request"`) || !strings.Contains(out, `"msg":"attempt"`) {
		t.Fatalf("the logs were not captured:\n%.2000s", out)
	}
	for what, secret := range secrets {
		if secret == "" {
			t.Fatalf("%s: empty", what)
		}
		if strings.Contains(out, secret) {
			i := strings.Index(out, secret)
			t.Errorf("the %s is in the logs: …%s…", what, out[max(0, i-300):min(len(out), i+len(secret)+100)])
		}
		for _, res := range later {
			if strings.Contains(string(res.Body), secret) {
				t.Errorf("the %s is in an answer after its creation: %s", what, res.Body)
			}
		}
	}
}
