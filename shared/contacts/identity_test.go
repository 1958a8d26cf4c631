package contacts

import (
	"encoding/json"
	"testing"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// TestCollectIdentityIsPerChannel: a subscriber ID is its channel's own, so
// channel B collecting for the ID channel A holds makes B's own contact,
// exactly as for an ID nobody holds, and leaves A's as it was; the account
// sees both, and refuses to change an ID two channels hold.
func TestCollectIdentityIsPerChannel(t *testing.T) {
	s, st := newTestService()
	chA := Scope{TenantID: "t1", ChannelID: "chA", DefaultCountry: "PK"}
	chB := Scope{TenantID: "t1", ChannelID: "chB", DefaultCountry: "PK"}
	email := func(v string) Collected { return Collected{Field: "email", Value: json.RawMessage(`"` + v + `"`)} }
	a, err := s.Collect(bg, chA, "4410", email("ana@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Collect(bg, chB, "4410", email("bea@example.com"))
	if err != nil || b.ChannelID != "chB" || b.Version != 1 || b.Fields["email"] != "bea@example.com" {
		t.Fatalf("B collecting A's ID: %+v %v, want B's own new contact", b, err)
	}
	if got, _ := s.Get(bg, chA, "4410"); got.Version != a.Version || got.Fields["email"] != "ana@example.com" {
		t.Fatalf("A's contact changed: %+v", got)
	}
	if st.numContacts() != 2 {
		t.Fatalf("%d contacts, want 2", st.numContacts())
	}

	found, err := s.Lookup(bg, acct, "4410")
	if err != nil || len(found) != 2 {
		t.Fatalf("account Lookup: %v %v", found, err)
	}
	if _, err := s.Update(bg, acct, "4410", in("firstName", `"Zed"`), nil); !apperr.Is(err, apperr.KindInvalid) {
		t.Fatalf("account update of an ID two channels hold: %v", err)
	}
	if err := s.Delete(bg, chA, "4410"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Update(bg, acct, "4410", in("firstName", `"Zed"`), nil); err != nil || got.ChannelID != "chB" {
		t.Fatalf("account update once B's alone holds it: %+v %v", got, err)
	}
}
