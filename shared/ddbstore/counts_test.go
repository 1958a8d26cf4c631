package ddbstore_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
)

// A tenant's contacts are counted exactly, in the contacts' own
// transactions: a create over the limit is refused whole (a 422 naming the
// limit), a delete makes room again, and other tenants are not affected.
func TestContactLimit(t *testing.T) {
	s, _ := newContacts(t)
	s.MaxContacts = 3
	ctx := t.Context()
	for i := range 3 {
		mustCreate(t, s, mk("t", "ch", fmt.Sprint("c", i), 1, map[string]string{"email": fmt.Sprintf("c%d@example.com", i)}, nil))
	}
	over := mk("t", "ch", "c3", 1, map[string]string{"email": "c3@example.com"}, nil)
	err := s.CreateContact(ctx, over)
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.KindRejected || e.Field != "contacts_per_tenant" {
		t.Fatalf("4th create of 3 allowed: %v, want a rejection naming contacts_per_tenant", err)
	}
	if _, err := s.GetContact(ctx, "t", "c3"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("the refused contact was written: %v", err)
	}
	if ids, _ := find(t, s, contacts.Query{TenantID: "t", ChannelID: "ch", FieldKey: contacts.StandardKey("email"), ValueKey: contacts.ValueKey("c3@example.com")}); len(ids) != 0 {
		t.Fatalf("the refused contact's search entry was written: %v", ids)
	}
	// Another tenant has its own count.
	mustCreate(t, s, mk("u", "ch", "c0", 1, nil, nil))
	// An existing ID is still "exists", not the limit.
	s.MaxContacts = 10
	if err := s.CreateContact(ctx, mk("t", "ch", "c0", 1, nil, nil)); !apperr.Is(err, apperr.KindExists) {
		t.Fatalf("create of an existing contact: %v, want exists", err)
	}
	s.MaxContacts = 3
	c0, err := s.GetContact(ctx, "t", "c0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteContact(ctx, c0); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, over)
	for tenant, want := range map[string]int64{"t": 3, "u": 1, "nobody": 0} {
		if n, err := s.ContactCount(ctx, tenant); err != nil || n != want {
			t.Errorf("ContactCount(%s) = %d, %v; want %d", tenant, n, err, want)
		}
	}
}

// Concurrent creates do not get past the limit: the count is updated in
// the same transaction as each contact.
func TestContactLimitConcurrent(t *testing.T) {
	s, _ := newContacts(t)
	s.MaxContacts = 5
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			for {
				err := s.CreateContact(t.Context(), mk("t", "ch", fmt.Sprint("k", i), 1, nil, nil))
				if err != nil && !apperr.Is(err, apperr.KindRejected) && strings.Contains(err.Error(), "Conflict") {
					continue // a transaction conflict on the counter: retry
				}
				return
			}
		})
	}
	wg.Wait()
	n, err := s.ContactCount(t.Context(), "t")
	if err != nil || n != 5 {
		t.Fatalf("count %d (%v), want 5", n, err)
	}
	made := 0
	for i := range 12 {
		if _, err := s.GetContact(t.Context(), "t", fmt.Sprint("k", i)); err == nil {
			made++
		}
	}
	if made != 5 {
		t.Fatalf("%d contacts written, want 5", made)
	}
}
