package contactapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/contacts/contactstest"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// request builds a request as the router hands it over: caller and path
// parameters in the context.
func request(method, body string, p httpapi.Principal, params map[string]string) *http.Request {
	r := httptest.NewRequest(method, "/v1/contact/x", strings.NewReader(body))
	ctx := httpapi.WithPathParams(httpapi.WithPrincipal(r.Context(), p), params)
	return r.WithContext(ctx)
}

func viber(id string) *http.Request {
	return request("GET", "", httpapi.Principal{TenantID: "t1", ChannelID: "ch1", ChannelKind: tenancy.Viber}, map[string]string{"contactId": id})
}

func TestContactID(t *testing.T) {
	const viberID = "pttm25kSGUo1919sBORWyA==" // what Viber calls a user
	odd := "a+b/c?d"                           // bytes that give + and / in Base64
	cases := []struct {
		name, id, want string
	}{
		{"std", base64.StdEncoding.EncodeToString([]byte(viberID)), viberID},
		{"url", base64.URLEncoding.EncodeToString([]byte(viberID)), viberID},
		{"raw std", base64.RawStdEncoding.EncodeToString([]byte(viberID)), viberID},
		{"raw url", base64.RawURLEncoding.EncodeToString([]byte(viberID)), viberID},
		{"std with + and /", base64.StdEncoding.EncodeToString([]byte(odd + "\xfb\xff")), odd + "\xfb\xff"},
		{"url with - and _", base64.URLEncoding.EncodeToString([]byte(odd + "\xfb\xff")), odd + "\xfb\xff"},
		{"raw url with - and _", base64.RawURLEncoding.EncodeToString([]byte("\xfb\xff?")), "\xfb\xff?"},
		{"digits", base64.StdEncoding.EncodeToString([]byte("123456789012345")), "123456789012345"},
	}
	for _, c := range cases {
		got, err := ContactID(viber(c.id))
		if err != nil || got != c.want {
			t.Errorf("%s: ContactID(%q) = %q, %v; want %q", c.name, c.id, got, err, c.want)
		}
	}
	for _, bad := range []string{"!!!!", "not base64!", "abc$", "a", "", "===="} {
		got, err := ContactID(viber(bad))
		he, ok := httpapi.AsHTTP(err)
		if !ok || he.Status != http.StatusBadRequest || !strings.Contains(he.Message, "Base64") || !strings.Contains(he.Message, "Viber") {
			t.Errorf("ContactID(%q) on Viber = %q, %v; want a 400 naming Base64", bad, got, err)
		}
	}
	// Other channels, and the account, take the ID as it is.
	for _, kind := range []tenancy.ChannelKind{tenancy.Messenger, tenancy.WhatsApp, tenancy.SMS, tenancy.Voice, ""} {
		for _, id := range []string{"123456789012345", "cHR0bTI1a1NHVW8xOTE5c0JPUld5QT09", "+923244077087", "not base64!"} {
			r := request("GET", "", httpapi.Principal{TenantID: "t1", ChannelKind: kind}, map[string]string{"contactId": id})
			if got, err := ContactID(r); err != nil || got != id {
				t.Errorf("%q channel: ContactID(%q) = %q, %v", kind, id, got, err)
			}
		}
	}
}

// FuzzViberContactID: any non-empty ID, encoded with any of the four
// Base64 alphabets, decodes to itself.
func FuzzViberContactID(f *testing.F) {
	for _, s := range []string{"pttm25kSGUo1919sBORWyA==", "a", "ab", "abc", "\xfb\xff", "123456789012345", "a+b/c?d"} {
		f.Add([]byte(s))
	}
	encs := []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding}
	f.Fuzz(func(t *testing.T, id []byte) {
		if len(id) == 0 {
			return
		}
		for i, enc := range encs {
			s := enc.EncodeToString(id)
			got, err := ContactID(viber(s))
			if err != nil || got != string(id) {
				t.Fatalf("encoding %d: %q (%q) decodes to %q, %v", i, id, s, got, err)
			}
		}
		// Whatever is not Base64 is a 400, never a panic or a 500.
		if _, err := ContactID(viber(string(id))); err != nil {
			if he, ok := httpapi.AsHTTP(err); !ok || he.Status != http.StatusBadRequest {
				t.Fatalf("ContactID(%q): %v", id, err)
			}
		}
	})
}

// TestServiceErrorWording: the contacts service's errors read to a client
// as the seed's wording, through the one mapping in httpapi.
func TestServiceErrorWording(t *testing.T) {
	s := newService()
	_, err := s.Get(context.Background(), contacts.Scope{TenantID: "t1"}, "123456789012345")
	if he, ok := httpapi.AsHTTP(err); !ok || he.Status != 404 || he.Message != `Contact "123456789012345" not found.` {
		t.Errorf("Get unknown: %v", err)
	}
	_, err = s.GetField(context.Background(), "t1", "9")
	if he, ok := httpapi.AsHTTP(err); !ok || he.Status != 404 || he.Message != `Contact field "9" not found.` {
		t.Errorf("GetField unknown: %v", err)
	}
}

func TestPresent(t *testing.T) {
	c := contacts.Contact{
		ID: "123456789012345", ChannelID: "ch1",
		Fields:    map[string]string{"firstName": "Muhammad Mahin", "phone": "+923244077087", "gender": "male", "unlisted": "x"},
		Custom:    map[string]string{"1": "gold", "2": "left over from a deleted field", "3": "TRUE"},
		CreatedAt: 1714560000, UpdatedAt: 1714560100, Opportunity: true,
	}
	fields := []contacts.Field{{ID: "1", Name: "Plan"}, {ID: "3", Name: "VIP"}, {ID: "4", Name: "Unset"}}
	b, err := json.Marshal(Present(c, fields))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"created_at":1714560000,"custom_fields":{"Plan":"gold","VIP":"TRUE","firstName":"Muhammad Mahin","gender":"male","phone":"+923244077087"},` +
		`"id":"123456789012345","opportunity":true,"tags":[],"updated_at":1714560100}`
	if string(b) != want {
		t.Errorf("Present = %s\nwant      %s", b, want)
	}
	c.Tags = []string{"b", "a"}
	if got := Present(c, nil); !slices.Equal(got.Tags, []string{"b", "a"}) || len(got.CustomFields) != 3 {
		t.Errorf("Present with tags, no fields: %v", got)
	}
	if b, _ := json.Marshal(Present(contacts.Contact{ID: "1"}, nil)); string(b) != `{"created_at":0,"custom_fields":{},"id":"1","opportunity":false,"tags":[],"updated_at":0}` {
		t.Errorf("empty contact: %s", b)
	}
}

// --- handlers against an in-memory store ---

func newService() *contacts.Service {
	return &contacts.Service{Store: contactstest.New(), Now: func() time.Time { return time.Unix(1714560000, 0) }}
}

type answer struct {
	status int
	body   map[string]any
	raw    string
}

func serve(t *testing.T, a *API, h func(*API, http.ResponseWriter, *http.Request) error, r *http.Request) answer {
	t.Helper()
	w := httptest.NewRecorder()
	httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return h(a, w, r) }).ServeHTTP(w, r)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("answer is not a JSON object: %s", w.Body)
	}
	return answer{w.Code, body, w.Body.String()}
}

func TestHandlers(t *testing.T) {
	svc := newService()
	st := svc.Store.(*contactstest.MemStore)
	a := &API{Svc: svc}
	ch := httpapi.Principal{TenantID: "t1", ChannelID: "ch1", ChannelKind: tenancy.Messenger}
	vb := httpapi.Principal{TenantID: "t1", ChannelID: "vb1", ChannelKind: tenancy.Viber}
	ctx := context.Background()

	name, typ := "Plan", "text"
	plan, _ := svc.CreateField(ctx, "t1", contacts.FieldInput{Name: &name, Type: &typ})
	c, err := svc.Create(ctx, contacts.Scope{TenantID: "t1", ChannelID: "ch1"}, []contacts.Input{
		{Name: "firstName", Value: json.RawMessage(`"Ana"`)}, {Name: plan.ID, Value: json.RawMessage(`"gold"`)}}, false)
	if err != nil {
		t.Fatal(err)
	}
	viberID := "pttm25kSGUo1919sBORWyA=="
	if err := st.CreateContact(ctx, contacts.Contact{ID: viberID, TenantID: "t1", ChannelID: "vb1", Version: 1, Fields: map[string]string{"firstName": "Vi"}}); err != nil {
		t.Fatal(err)
	}
	id := map[string]string{"contactId": c.ID}

	// get
	got := serve(t, a, (*API).get, request("GET", "", ch, id))
	if got.status != 200 || !strings.Contains(got.raw, `"custom_fields":{"Plan":"gold","firstName":"Ana"}`) || !strings.Contains(got.raw, `"tags":[]`) {
		t.Fatalf("get: %d %s", got.status, got.raw)
	}
	got = serve(t, a, (*API).get, request("GET", "", vb, map[string]string{"contactId": base64.URLEncoding.EncodeToString([]byte(viberID))}))
	if got.status != 200 || !strings.Contains(got.raw, `"id":"`+viberID+`"`) {
		t.Fatalf("get on Viber: %d %s", got.status, got.raw)
	}
	for name, r := range map[string]*http.Request{
		"other channel": request("GET", "", httpapi.Principal{TenantID: "t1", ChannelID: "ch2"}, id),
		"other tenant":  request("GET", "", httpapi.Principal{TenantID: "t2"}, id),
		"unknown":       request("GET", "", ch, map[string]string{"contactId": "123456789012345"}),
	} {
		got = serve(t, a, (*API).get, r)
		if got.status != 404 || got.body["status"] != "error" || !strings.HasSuffix(fmt.Sprint(got.body["message"]), "not found.") {
			t.Errorf("get %s: %d %s", name, got.status, got.raw)
		}
	}
	if got = serve(t, a, (*API).get, request("GET", "", vb, map[string]string{"contactId": "%%%"})); got.status != 400 {
		t.Errorf("get with a bad Viber ID: %d %s", got.status, got.raw)
	}

	// tags
	got = serve(t, a, (*API).addTags, request("POST", `{"tags":["vip","new","vip"]}`, ch, id))
	if got.raw != `{"status":"success","message":"Contact Tags have been added successfully.","data":[]}` {
		t.Fatalf("add tags: %d %s", got.status, got.raw)
	}
	got = serve(t, a, (*API).removeTags, request("DELETE", `{"tags":["new","absent"]}`, ch, id))
	if got.raw != `{"status":"success","message":"Contact Tags deleted successfully.","data":[]}` {
		t.Fatalf("remove tags: %d %s", got.status, got.raw)
	}
	if cur, _ := st.GetContact(ctx, "t1", "ch1", c.ID); !slices.Equal(cur.Tags, []string{"vip"}) {
		t.Fatalf("tags %v", cur.Tags)
	}
	eleven := `{"tags":["1","2","3","4","5","6","7","8","9","10","11"]}`
	for _, bad := range []string{eleven, `{"tags":[]}`, `{"tags":[""]}`, `{}`, `{"tags":"vip"}`, `{"tags":["a"],"x":1}`, ``} {
		got = serve(t, a, (*API).addTags, request("POST", bad, ch, id))
		if got.status != 400 || got.body["status"] != "error" {
			t.Errorf("add tags %s: %d %s", bad, got.status, got.raw)
		}
	}

	// fields
	got = serve(t, a, (*API).getField, request("GET", "", ch, map[string]string{"fieldId": "99"}))
	if got.status != 404 || got.body["message"] != `Contact field "99" not found.` {
		t.Errorf("get unknown field: %d %s", got.status, got.raw)
	}
	got = serve(t, a, (*API).createField, request("POST", `{"name":"plan","type":"number"}`, ch, nil))
	if got.status != 409 || got.body["message"] != `A contact field named "plan" already exists.` {
		t.Errorf("create a taken field name: %d %s", got.status, got.raw)
	}
	got = serve(t, a, (*API).createField, request("POST", `{"name":"Tier","type":"list","options":["Gold","gold"]}`, ch, nil))
	if got.status != 400 || !strings.HasPrefix(fmt.Sprint(got.body["message"]), "options[1]: ") {
		t.Errorf("create with a repeated option: %d %s", got.status, got.raw)
	}
	got = serve(t, a, (*API).createField, request("POST", `{"name":"Tier","type":"list","options":["Gold","Silver"]}`, ch, nil))
	if got.status != 201 || !strings.Contains(got.raw, `"type":"list"`) {
		t.Errorf("create: %d %s", got.status, got.raw)
	}
	got = serve(t, a, (*API).updateField, request("PUT", `{"type":"text"}`, ch, map[string]string{"fieldId": "2"}))
	if got.status != 400 || !strings.HasPrefix(fmt.Sprint(got.body["message"]), "type: cannot change") {
		t.Errorf("change a type: %d %s", got.status, got.raw)
	}
	got = serve(t, a, (*API).listFields, request("GET", "", ch, nil))
	if data, _ := got.body["data"].([]any); got.status != 200 || len(data) != 2 {
		t.Errorf("list: %d %s", got.status, got.raw)
	}

	// delete
	got = serve(t, a, (*API).delete, request("DELETE", "", ch, id))
	if got.status != 200 || got.body["message"] != "Contact deleted successfully." {
		t.Fatalf("delete: %d %s", got.status, got.raw)
	}
	if got = serve(t, a, (*API).delete, request("DELETE", "", ch, id)); got.status != 404 {
		t.Fatalf("second delete: %d %s", got.status, got.raw)
	}
}
