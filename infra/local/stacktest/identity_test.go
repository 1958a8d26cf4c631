package stacktest

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
)

// secondChannel adds a channel of kind to tenant tn and returns its ID and
// a token's Authorization header.
func (s *Stack) secondChannel(tn Tenant, kind string) (string, string) {
	s.T.Helper()
	r := s.Admin("POST", "/admin/tenants/"+tn.ID+"/channels", map[string]any{"kind": kind, "name": "B", "default_country": "PK"})
	if r.Status != http.StatusCreated {
		s.T.Fatalf("create channel: %d %s", r.Status, r.Body)
	}
	ch := Path(r.JSON, "data.id").(string)
	r = s.Admin("POST", "/admin/tenants/"+tn.ID+"/channels/"+ch+"/tokens", map[string]any{"name": "b"})
	if r.Status != http.StatusCreated {
		s.T.Fatalf("create token: %d %s", r.Status, r.Body)
	}
	return ch, "Bearer " + Path(r.JSON, "data.token").(string)
}

// TestEventsNoCrossChannelOracle: a subscriber ID is the channel's own (a
// Messenger PSID is page-scoped), so channel B posting an event for the
// PSID channel A holds is answered exactly as for a PSID nobody holds, and
// creates B's own contact; A's contact is untouched.
func TestEventsNoCrossChannelOracle(t *testing.T) {
	s := New(t)
	tn := s.NewTenant("Oracle", "messenger")
	authA := "Bearer " + tn.Token
	_, authB := s.secondChannel(tn, "messenger")

	wantStatus(t, s.Do("POST", "/v1/events", authA, map[string]any{"psid": "4410020001", "field": "email", "value": "ana@example.com"}), http.StatusOK)
	before := s.Do("GET", "/v1/contact/4410020001", authA, nil)
	wantStatus(t, before, http.StatusOK)

	held := s.Do("POST", "/v1/events", authB, map[string]any{"psid": "4410020001", "field": "email", "value": "bea@example.com"})
	fresh := s.Do("POST", "/v1/events", authB, map[string]any{"psid": "4410020999", "field": "email", "value": "bea@example.com"})
	if held.Status != fresh.Status || strings.ReplaceAll(string(held.Body), "4410020001", "4410020999") != string(fresh.Body) {
		t.Fatalf("another channel's PSID answers %d %s; a fresh one %d %s", held.Status, held.Body, fresh.Status, fresh.Body)
	}
	wantStatus(t, held, http.StatusOK)

	after := s.Do("GET", "/v1/contact/4410020001", authA, nil)
	if string(after.Body) != string(before.Body) {
		t.Fatalf("A's contact changed with B's event:\nbefore %s\nafter  %s", before.Body, after.Body)
	}
	b := s.Do("GET", "/v1/contact/4410020001", authB, nil)
	wantStatus(t, b, http.StatusOK)
	if got := Path(b.JSON, "data.custom_fields.email"); got != "bea@example.com" {
		t.Fatalf("B's contact: %s", b.Body)
	}
}

// TestSameIDInTwoChannels: the same subscriber ID in two channels is two
// contacts, each read, changed, tagged, searched and deleted on its own
// through its channel's token; the account API sees both.
func TestSameIDInTwoChannels(t *testing.T) {
	s := New(t)
	tn := s.NewTenant("Twins", "messenger")
	authA := "Bearer " + tn.Token
	_, authB := s.secondChannel(tn, "messenger")
	const psid = "2251324188330310"
	for _, auth := range []string{authA, authB} {
		wantStatus(t, s.Do("POST", "/v1/events", auth, map[string]any{"psid": psid, "field": "email", "value": "same@example.com"}), http.StatusOK)
	}
	get := func(auth string) Response {
		t.Helper()
		r := s.Do("GET", "/v1/contact/"+psid, auth, nil)
		wantStatus(t, r, http.StatusOK)
		return r
	}

	wantStatus(t, s.Do("PUT", "/v1/contact/"+psid, authA, map[string]any{"custom_fields": []map[string]any{{"name": "firstName", "value": "Ann"}}}), http.StatusOK)
	wantStatus(t, s.Do("POST", "/v1/contact/"+psid+"/tags", authB, map[string]any{"tags": []string{"vip", "b"}}), http.StatusOK)
	wantStatus(t, s.Do("DELETE", "/v1/contact/"+psid+"/tags", authB, map[string]any{"tags": []string{"b"}}), http.StatusOK)
	a, b := get(authA), get(authB)
	if Path(a.JSON, "data.custom_fields.firstName") != "Ann" || len(Path(a.JSON, "data.tags").([]any)) != 0 {
		t.Fatalf("A's contact: %s", a.Body)
	}
	if Path(b.JSON, "data.custom_fields.firstName") != nil || !slices.Equal(Path(b.JSON, "data.tags").([]any), []any{"vip"}) {
		t.Fatalf("B's contact: %s", b.Body)
	}

	search := func(auth, name, value string) []any {
		t.Helper()
		r := s.Do("GET", "/v1/contact/by_custom_field?name="+name+"&value="+value, auth, nil)
		wantStatus(t, r, http.StatusOK)
		d, _ := r.JSON["data"].([]any)
		return d
	}
	if d := search(authA, "firstName", "Ann"); len(d) != 1 {
		t.Fatalf("A's search for its own: %v", d)
	}
	if d := search(authB, "firstName", "Ann"); len(d) != 0 {
		t.Fatalf("B's search finds A's contact: %v", d)
	}
	if d := search(authB, "email", "same%40example.com"); len(d) != 1 || Path(d[0], "custom_fields.firstName") != nil {
		t.Fatalf("B's search by email: %v", d)
	}

	// The account sees both: SEARCH by the ID lists the two; EDIT and
	// TRASH by an ID two channels hold are refused in their results.
	acts := s.Do("POST", "/v1/actions", tn.Secret, `[{"type":"SEARCH","idContact":"`+psid+`"},{"type":"EDIT","idContact":"`+psid+`","Fname":"X"},{"type":"TRASH","idContact":"`+psid+`"}]`)
	wantStatus(t, acts, http.StatusOK)
	res := acts.JSON["data"].([]any)
	var names []string
	for _, c := range Path(res[0], "data").([]any) {
		n, _ := Path(c, "Fname").(string)
		names = append(names, n)
	}
	sort.Strings(names)
	if Path(res[0], "status") != "success" || !slices.Equal(names, []string{"", "Ann"}) {
		t.Fatalf("SEARCH by the ID: %s", acts.Body)
	}
	for _, r := range res[1:] {
		if Path(r, "status") != "error" || !strings.Contains(Path(r, "message").(string), "several channels") {
			t.Fatalf("EDIT/TRASH of an ID two channels hold: %s", acts.Body)
		}
	}

	// Deleting A's leaves B's.
	wantStatus(t, s.Do("DELETE", "/v1/contact/"+psid, authA, nil), http.StatusOK)
	wantStatus(t, s.Do("GET", "/v1/contact/"+psid, authA, nil), http.StatusNotFound)
	if b2 := get(authB); string(b2.Body) != string(b.Body) {
		t.Fatalf("B's contact changed with A's delete: %s", b2.Body)
	}
	// Now one contact holds the ID: the account changes it.
	acts = s.Do("POST", "/v1/actions", tn.Secret, `[{"type":"EDIT","idContact":"`+psid+`","Fname":"Bea"}]`)
	if Path(acts.JSON["data"].([]any)[0], "status") != "success" || Path(get(authB).JSON, "data.custom_fields.firstName") != "Bea" {
		t.Fatalf("EDIT of B's contact by the account: %s", acts.Body)
	}
}
