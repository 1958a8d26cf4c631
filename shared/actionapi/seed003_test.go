package actionapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

var get = stacktest.Path

// actions posts seed 003's $data[] array with the account secret key, bare
// in the Authorization header as the document's clients send it.
func actions(s *stacktest.Stack, secret string, body string) stacktest.Response {
	s.T.Helper()
	return s.Do("POST", "/v1/actions", secret, body)
}

func results(t *testing.T, r stacktest.Response, n int) []map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	raw, _ := r.JSON["data"].([]any)
	if len(raw) != n {
		t.Fatalf("want %d results: %s", n, r.Body)
	}
	out := make([]map[string]any, n)
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

func TestSeed003(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Acme", "sms")
	r := s.Do("POST", "/v1/contact_fields", "Bearer "+tn.Token, `{"name":"Plan","type":"text"}`)
	planID := get(r.JSON, "data.id").(string)

	// Add contact: the document's example, Custom by field ID.
	res := results(t, actions(s, tn.Secret, fmt.Sprintf(`[{"type":"NEW","Number":"+16193596440","Email":"exaple@example.com",
		"Fname":"firtsName","Lname":"lastName","Custom":{%q:"gold"},"Opportunitie":true}]`, planID)), 1)
	if res[0]["type"] != "NEW" || res[0]["status"] != "success" {
		t.Fatalf("NEW: %v", res)
	}
	id, ok := res[0]["idContact"].(float64)
	if !ok || id < 1e14 {
		t.Fatalf("idContact must be a number: %v", res[0])
	}
	idContact := fmt.Sprintf("%.0f", id)

	// Edit contact.
	res = results(t, actions(s, tn.Secret, `[{"type":"EDIT","Number":"+526600000000","Email":"exaple@example.com","idContact":`+idContact+`}]`), 1)
	if res[0]["status"] != "success" || res[0]["idContact"] != id {
		t.Fatalf("EDIT: %v", res)
	}

	// Search contacts: by names (any case) and by ID.
	mustNew := func(first, last string) {
		res := results(t, actions(s, tn.Secret, fmt.Sprintf(`[{"type":"NEW","Fname":%q,"Lname":%q}]`, first, last)), 1)
		if res[0]["status"] != "success" {
			t.Fatalf("NEW %s %s: %v", first, last, res)
		}
	}
	mustNew("Juan", "Pedro")
	mustNew("Juan", "Perez")
	res = results(t, actions(s, tn.Secret, `[{"type":"SEARCH","Lname":"pedro","Fname":"juan","idContact":0}]`), 1)
	found := res[0]["data"].([]any)
	if res[0]["status"] != "success" || len(found) != 1 || get(found[0], "Lname") != "Pedro" {
		t.Fatalf("SEARCH by names: %v", res)
	}
	res = results(t, actions(s, tn.Secret, `[{"type":"SEARCH","Fname":"JUAN"}]`), 1)
	if len(res[0]["data"].([]any)) != 2 {
		t.Fatalf("SEARCH by first name: %v", res)
	}
	res = results(t, actions(s, tn.Secret, `[{"type":"SEARCH","idContact":`+idContact+`}]`), 1)
	c := res[0]["data"].([]any)[0]
	if get(c, "Number") != "+526600000000" || get(c, "Fname") != "firtsName" || get(c, "Opportunitie") != true || get(c, "Custom."+planID) != "gold" {
		t.Fatalf("SEARCH by ID: %v", res)
	}

	// Delete contact.
	res = results(t, actions(s, tn.Secret, `[{"type":"TRASH","idContact":`+idContact+`}]`), 1)
	if res[0]["status"] != "success" {
		t.Fatalf("TRASH: %v", res)
	}
	res = results(t, actions(s, tn.Secret, `[{"type":"SEARCH","idContact":"`+idContact+`"}]`), 1)
	if len(res[0]["data"].([]any)) != 0 {
		t.Fatalf("trashed contact still found: %v", res)
	}

	// Add to automation: the document's example names an automation this
	// tenant does not have (shared/autorun's tests enroll for real).
	res = results(t, actions(s, tn.Secret, `[{"idContact":10,"idAuto":10}]`), 1)
	if res[0]["status"] != "error" || res[0]["message"] != `Automation "10" not found.` || res[0]["idAuto"] != float64(10) {
		t.Fatalf("add to automation: %v", res[0])
	}

	// Send call and send SMS need a voice and an sms channel with Twilio
	// credentials (this account has an sms channel without): per-item
	// errors that say so (phone_test.go sends them).
	res = results(t, actions(s, tn.Secret, `[{"number":"+526643596440","text":"Hello, your package ","type":"CALL"},{"number":"+526643596440","text":"Hello, your package ","type":"SMS"}]`), 2)
	for i, want := range []string{"no voice channel", tn.ChannelID + " has no Twilio credentials"} {
		if res[i]["status"] != "error" || !strings.Contains(res[i]["message"].(string), want) {
			t.Fatalf("item %d: %v", i, res[i])
		}
	}
}

// TestActionsFailAlone: a failing action does not undo the others, and the
// results keep the order of the actions.
func TestActionsFailAlone(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Acme", "sms")
	res := results(t, actions(s, "Bearer "+tn.Secret, `[
		{"type":"NEW","Fname":"Ann","Email":"ann@example.com"},
		{"type":"EDIT","Fname":"Nobody"},
		{"type":"NEW","Email":"not-an-email"},
		{"type":"TRASH","idContact":123456789012345},
		{"type":"FLY"},
		{"type":"NEW","Fname":"Bob","Colour":"red"},
		{"type":"NEW","Fname":"Cid","Custom":{"999":"x"}},
		{"type":"SEARCH","Fname":"ann"}
	]`), 8)
	want := []struct{ status, contains string }{
		{"success", ""}, {"error", "idContact"}, {"error", "email"}, {"error", "not found"},
		{"error", "FLY"}, {"error", "Colour"}, {"error", "999"}, {"success", ""},
	}
	for i, w := range want {
		if res[i]["status"] != w.status || !strings.Contains(fmt.Sprint(res[i]["message"]), w.contains) {
			t.Fatalf("item %d: %v, want %s %q", i, res[i], w.status, w.contains)
		}
	}
	if len(res[7]["data"].([]any)) != 1 {
		t.Fatalf("the first NEW must stand: %v", res[7])
	}
}

func TestActionsRequestErrors(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Acme", "sms")
	cases := []struct {
		auth, body string
		status     int
		contains   string
	}{
		{tn.Secret, `{"type":"NEW"}`, 400, "JSON array"},
		{tn.Secret, `[]`, 400, "1 to 100"},
		{tn.Secret, `[{"type":"NEW"`, 400, "Malformed JSON"},
		{tn.Secret, "[" + strings.Repeat(`{"type":"SEARCH","Fname":"x"},`, 100) + `{"type":"SEARCH","Fname":"x"}]`, 400, "1 to 100"},
		{"Bearer " + tn.Token, `[{"type":"SEARCH","Fname":"x"}]`, 403, "account secret key"},
		{"sk_wrong_secret_00000000000000", `[{"type":"SEARCH","Fname":"x"}]`, 401, "API Token is invalid."},
		{"", `[{"type":"SEARCH","Fname":"x"}]`, 401, "API Token is invalid."},
	}
	for i, c := range cases {
		r := s.Do("POST", "/v1/actions", c.auth, c.body)
		if r.Status != c.status || r.JSON["status"] != "error" || !strings.Contains(fmt.Sprint(r.JSON["message"]), c.contains) {
			t.Errorf("case %d: %d %s, want %d %q", i, r.Status, r.Body, c.status, c.contains)
		}
	}
	// A channel token never reaches account-wide data, and the secret works
	// on no channel route.
	if r := s.Do("GET", "/v1/me", "Bearer "+tn.Secret, nil); r.Status != 403 {
		t.Fatalf("account secret on a channel route: %d", r.Status)
	}
}

func TestActionsIdempotent(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Acme", "sms")
	send := func(body string) stacktest.Response {
		req, _ := http.NewRequest("POST", s.URL+"/v1/actions", strings.NewReader(body))
		req.Header.Set("Authorization", tn.Secret)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "batch-7")
		return s.Send(req)
	}
	body := `[{"type":"NEW","Fname":"Once"}]`
	first, again := send(body), send(body)
	if first.Status != 200 || string(first.Body) != string(again.Body) {
		t.Fatalf("replay differs: %s / %s", first.Body, again.Body)
	}
	if r := send(`[{"type":"NEW","Fname":"Other"}]`); r.Status != 422 {
		t.Fatalf("same key, other body: %d %s", r.Status, r.Body)
	}
	res := results(t, actions(s, tn.Secret, `[{"type":"SEARCH","Fname":"once"}]`), 1)
	if len(res[0]["data"].([]any)) != 1 {
		t.Fatalf("replay ran the actions again: %v", res)
	}
}
