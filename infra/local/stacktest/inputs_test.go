package stacktest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
)

func wantStatus(t *testing.T, r Response, status int, contains ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if status >= 400 {
		if d, ok := r.JSON["data"].([]any); r.JSON["status"] != "error" || !ok || len(d) != 0 {
			t.Fatalf("not the envelope: %s", r.Body)
		}
	}
	for _, c := range contains {
		if !strings.Contains(fmt.Sprint(r.JSON["message"]), c) {
			t.Fatalf("message does not name %q: %s", c, r.Body)
		}
	}
}

func (s *Stack) connection(token string) string {
	s.T.Helper()
	r := s.Do("POST", "/v1/connections", "Bearer "+token, map[string]any{"name": "CRM", "url": "http://127.0.0.1:9/hook", "triggers": []string{"email"}})
	if r.Status != http.StatusCreated {
		s.T.Fatalf("create connection: %d %s", r.Status, r.Body)
	}
	return Path(r.JSON, "data.id").(string)
}

// Path IDs of 1,020 characters (DynamoDB refuses keys over 1,024 bytes)
// are answered as unknown IDs, on every {id} route the issue names.
func TestLongPathIDs(t *testing.T) {
	s := New(t)
	tn := s.NewTenant("Long", "messenger")
	auth := "Bearer " + tn.Token
	long := strings.Repeat("1", 1020)
	cases := []struct{ method, path, auth string }{
		{"GET", "/v1/connections/" + long, auth},
		{"PUT", "/v1/connections/" + long, auth},
		{"DELETE", "/v1/connections/" + long, auth},
		{"POST", "/v1/connections/" + long + "/secret", auth},
		{"GET", "/v1/connections/" + long + "/activity", auth},
		{"POST", "/v1/connections/" + long + "/test", auth},
		{"POST", "/v1/deliveries/dead/" + long + "/redrive", auth},
		{"DELETE", "/v1/hooks/" + long, auth},
		{"GET", "/v1/contact/" + long, auth},
		{"GET", "/v1/contact_fields/" + long, auth},
		{"GET", "/admin/tenants/" + long, "Bearer " + AdminKey},
		{"GET", "/admin/tenants/" + tn.ID + "/channels/" + long + "/tokens", "Bearer " + AdminKey},
		{"DELETE", "/admin/tenants/" + tn.ID + "/channels/" + tn.ChannelID + "/tokens/" + long, "Bearer " + AdminKey},
	}
	for _, c := range cases {
		var body any
		if c.method == "PUT" {
			body = map[string]any{"name": "x"}
		}
		wantStatus(t, s.Do(c.method, c.path, c.auth, body), http.StatusNotFound, "not found.")
	}
	wantStatus(t, s.Do("GET", "/v1/webhooks/messenger/"+tn.ID+"/"+long, "", nil), http.StatusNotFound, "Not found.")
}

// A null or empty body is refused where a body is required, and unknown
// keys on /v1/hooks.
func TestEmptyBodies(t *testing.T) {
	s := New(t)
	tn := s.NewTenant("Empty", "messenger")
	auth := "Bearer " + tn.Token
	id := s.connection(tn.Token)
	r := s.Do("POST", "/v1/contact_fields", auth, map[string]any{"name": "Size", "type": "text"})
	wantStatus(t, r, http.StatusCreated)
	field := Path(r.JSON, "data.id").(string)
	tokens := "/admin/tenants/" + tn.ID + "/channels/" + tn.ChannelID + "/tokens"
	for _, body := range []string{"null", " null ", "{}"} {
		wantStatus(t, s.Do("PUT", "/v1/contact_fields/"+field, auth, body), http.StatusBadRequest)
		wantStatus(t, s.Do("PUT", "/v1/connections/"+id, auth, body), http.StatusBadRequest)
	}
	wantStatus(t, s.Admin("POST", tokens, "null"), http.StatusBadRequest, "null")
	// The token's body is optional: none at all, or an object.
	wantStatus(t, s.Admin("POST", tokens, nil), http.StatusCreated)
	wantStatus(t, s.Admin("POST", tokens, "{}"), http.StatusCreated)
	wantStatus(t, s.Do("POST", "/v1/hooks", auth, map[string]any{"target_url": "http://127.0.0.1:9/zap", "event": "email", "zap_id": 7}),
		http.StatusBadRequest, "zap_id")
	wantStatus(t, s.Do("POST", "/v1/hooks", auth, map[string]any{"target_url": "http://127.0.0.1:9/zap", "event": "email"}), http.StatusCreated)
}

// Strings with invalid UTF-8 or a NUL are refused with a 400 naming the
// field, on every route that reads a JSON body; nothing is stored.
func TestBadTextRefused(t *testing.T) {
	s := New(t)
	tn := s.NewTenant("Text", "messenger")
	auth := "Bearer " + tn.Token
	cases := []struct{ method, path, auth, body, field string }{
		{"POST", "/v1/contact", auth, `{"custom_fields":[{"name":"firstName","value":"a\u0000b"}]}`, "custom_fields[0].value"},
		{"POST", "/v1/contact", auth, "{\"custom_fields\":[{\"name\":\"firstName\",\"value\":\"a\xffb\"}]}", "custom_fields[0].value"},
		{"POST", "/v1/contact_fields", auth, `{"name":"Si\u0000ze","type":"text"}`, "name"},
		{"POST", "/v1/connections", auth, `{"name":"\ud800","url":"http://127.0.0.1:9/x","triggers":["email"]}`, "name"},
		{"POST", "/v1/events", auth, `{"psid":"44\u0000","field":"email","value":"a@b.co"}`, "psid"},
		{"POST", "/v1/hooks", auth, "{\"target_url\":\"http://127.0.0.1:9/\xc0\",\"event\":\"email\"}", "target_url"},
		{"POST", "/v1/actions", tn.Secret, `[{"type":"NEW","Fname":"A\u0000"}]`, "[0].Fname"},
		{"POST", "/admin/tenants", "Bearer " + AdminKey, `{"name":"Acme\u0000"}`, "name"},
		{"POST", "/admin/tenants/" + tn.ID + "/channels", "Bearer " + AdminKey, `{"kind":"sms","name":"\udc00","default_country":"PK"}`, "name"},
	}
	for _, c := range cases {
		wantStatus(t, s.Do(c.method, c.path, c.auth, c.body), http.StatusBadRequest, c.field+":")
	}
}

// The case: a contact filled within the API's own limits, then
// given tags, used to answer 500 from DynamoDB's item size limit; the byte
// budget answers 413 naming it, and the contact stays readable.
func TestContactByteBudget(t *testing.T) {
	s := New(t)
	tn := s.NewTenant("Budget", "messenger")
	auth := "Bearer " + tn.Token
	calls := 0
	do := func(method, path string, body any) Response {
		if calls++; calls%90 == 0 {
			s.Clock.Add(time.Minute) // the rate limit: 100 calls a minute
		}
		return s.Do(method, path, auth, body)
	}
	var names []string
	for i := range contacts.MaxCustomValues {
		name := fmt.Sprintf("F%02d", i)
		wantStatus(t, do("POST", "/v1/contact_fields", map[string]any{"name": name, "type": "text"}), http.StatusCreated)
		names = append(names, name)
	}
	r := do("POST", "/v1/contact", map[string]any{"custom_fields": []any{map[string]any{"name": "firstName", "value": "Ana"}}})
	wantStatus(t, r, http.StatusOK)
	id := Path(r.JSON, "data.id").(string)
	big := strings.Repeat("😀", contacts.MaxValueLength)
	refused := false
	for i := 0; i < len(names) && !refused; i += contacts.MaxFieldsPerWrite {
		var cf []any
		for _, n := range names[i:min(i+contacts.MaxFieldsPerWrite, len(names))] {
			cf = append(cf, map[string]any{"name": n, "value": big})
		}
		r = do("PUT", "/v1/contact/"+id, map[string]any{"custom_fields": cf})
		if r.Status == http.StatusRequestEntityTooLarge {
			refused = true
			wantStatus(t, r, http.StatusRequestEntityTooLarge, "262144", "256 KB")
			break
		}
		wantStatus(t, r, http.StatusOK)
	}
	for n := 0; !refused && n < contacts.MaxTags/contacts.MaxTagsPerCall; n++ {
		var tags []string
		for k := range contacts.MaxTagsPerCall {
			tags = append(tags, fmt.Sprintf("%03d%s", n*10+k, strings.Repeat("😀", contacts.MaxTagLength-3)))
		}
		r = do("POST", "/v1/contact/"+id+"/tags", map[string]any{"tags": tags})
		if r.Status == http.StatusRequestEntityTooLarge {
			refused = true
			wantStatus(t, r, http.StatusRequestEntityTooLarge, "256 KB")
			break
		}
		wantStatus(t, r, http.StatusOK)
	}
	if !refused {
		t.Fatal("the contact was never refused: no byte budget")
	}
	wantStatus(t, do("GET", "/v1/contact/"+id, nil), http.StatusOK)
}

// Channels of one tenant are walls: another channel's dead delivery is
// answered as an unknown one, without its connection's ID.
func TestChannelWalls(t *testing.T) {
	s := New(t)
	tn := s.NewTenant("Walls", "messenger")
	r := s.Admin("POST", "/admin/tenants/"+tn.ID+"/channels", map[string]any{"kind": "whatsapp", "name": "B", "default_country": "PK"})
	wantStatus(t, r, http.StatusCreated)
	chB := Path(r.JSON, "data.id").(string)
	r = s.Admin("POST", "/admin/tenants/"+tn.ID+"/channels/"+chB+"/tokens", map[string]any{"name": "b"})
	wantStatus(t, r, http.StatusCreated)
	authB := "Bearer " + Path(r.JSON, "data.token").(string)

	conn := s.connection(tn.Token)
	dead := connections.Dead{Delivery: connections.Delivery{ID: "msg_wall", TenantID: tn.ID, ConnectionID: conn,
		Trigger: connections.TriggerEmail, Payload: []byte("{}")}, DiedAt: 1_700_000_000,
		LastAttempt: connections.Attempt{Time: 1_700_000_000_000, WebhookID: "msg_wall", Attempt: 8, Outcome: connections.OutcomeHTTP, HTTPCode: 400}}
	if err := s.Deps.Connections().AddDead(t.Context(), dead); err != nil {
		t.Fatal(err)
	}
	other := s.Do("POST", "/v1/deliveries/dead/msg_wall/redrive", authB, nil)
	unknown := s.Do("POST", "/v1/deliveries/dead/msg_none/redrive", authB, nil)
	wantStatus(t, other, http.StatusNotFound)
	wantStatus(t, unknown, http.StatusNotFound)
	if strings.Contains(string(other.Body), conn) ||
		strings.ReplaceAll(string(other.Body), "msg_wall", "msg_none") != string(unknown.Body) {
		t.Fatalf("another channel's dead delivery answers %s; an unknown one %s", other.Body, unknown.Body)
	}
	// Its own channel still redrives it.
	wantStatus(t, s.Do("POST", "/v1/deliveries/dead/msg_wall/redrive", "Bearer "+tn.Token, nil), http.StatusAccepted)
}
