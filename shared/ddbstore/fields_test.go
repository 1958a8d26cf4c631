package ddbstore_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

func mustField(t *testing.T, s *ddbstore.Contacts, tenant, name string) contacts.Field {
	t.Helper()
	f, err := s.CreateField(t.Context(), tenant, contacts.Field{Name: name, Type: contacts.Text, CreatedAt: 1, UpdatedAt: 1})
	if err != nil {
		t.Fatalf("create field %q: %v", name, err)
	}
	return f
}

// names lists a tenant's fields as "id:name", in the order ListFields gives.
func names(t *testing.T, s *ddbstore.Contacts, tenant string) []string {
	t.Helper()
	fs, err := s.ListFields(t.Context(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, f := range fs {
		out = append(out, f.ID+":"+f.Name)
	}
	return out
}

func TestFieldIDsAreSequentialPerTenant(t *testing.T) {
	s, _ := newContacts(t)
	for i, tc := range []struct{ tenant, name, id string }{
		{"a", "Size", "1"}, {"a", "Colour", "2"}, {"b", "Size", "1"}, {"a", "Delivery-Date", "3"}, {"b", "Colour", "2"},
	} {
		if f := mustField(t, s, tc.tenant, tc.name); f.ID != tc.id || f.Name != tc.name {
			t.Errorf("step %d: created %+v, want ID %s", i, f, tc.id)
		}
	}
	if got := names(t, s, "a"); !slices.Equal(got, []string{"1:Size", "2:Colour", "3:Delivery-Date"}) {
		t.Errorf("tenant a: %v", got)
	}
	if got := names(t, s, "b"); !slices.Equal(got, []string{"1:Size", "2:Colour"}) {
		t.Errorf("tenant b: %v", got)
	}
	if got := names(t, s, "none"); len(got) != 0 {
		t.Errorf("tenant without fields: %v", got)
	}
}

func TestFieldsSortNumerically(t *testing.T) {
	s, _ := newContacts(t)
	var want []string
	for i := range 12 {
		f := mustField(t, s, "a", fmt.Sprintf("f%d", i+1))
		want = append(want, f.ID+":"+f.Name)
	}
	if got := names(t, s, "a"); !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestFieldNames(t *testing.T) {
	s, _ := newContacts(t)
	size := mustField(t, s, "a", "Size")
	if _, err := s.CreateField(t.Context(), "a", contacts.Field{Name: "SIZE", Type: contacts.Text}); !apperr.Is(err, apperr.KindExists) {
		t.Fatalf("duplicate name in another case: %v, want an exists error", err)
	}
	colour := mustField(t, s, "a", "Colour") // the refused create used up ID 2
	if colour.ID != "3" {
		t.Errorf("ID after a refused create = %s, want 3 (IDs are never reused)", colour.ID)
	}
	mustField(t, s, "b", "Size") // names are per tenant

	t.Run("rename into a taken name", func(t *testing.T) {
		next := size
		next.Name = "colour"
		if err := s.UpdateField(t.Context(), "a", size, next); !apperr.Is(err, apperr.KindExists) {
			t.Errorf("rename to a taken name: %v, want an exists error", err)
		}
	})
	t.Run("case-only rename keeps the guard", func(t *testing.T) {
		next := size
		next.Name, next.Type = "size", contacts.List
		if err := s.UpdateField(t.Context(), "a", size, next); err != nil {
			t.Fatal(err)
		}
		size = next
		if _, err := s.CreateField(t.Context(), "a", contacts.Field{Name: "Size"}); !apperr.Is(err, apperr.KindExists) {
			t.Errorf("name free after a case-only rename: %v", err)
		}
	})
	t.Run("rename frees the old name", func(t *testing.T) {
		next := size
		next.Name = "Shoe size"
		if err := s.UpdateField(t.Context(), "a", size, next); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateField(t.Context(), "a", size, next); !apperr.Is(err, apperr.KindConflict) {
			t.Errorf("update from a stale name: %v, want a conflict", err)
		}
		size = next
		if _, err := s.CreateField(t.Context(), "a", contacts.Field{Name: "SHOE SIZE"}); !apperr.Is(err, apperr.KindExists) {
			t.Errorf("new name not guarded: %v", err)
		}
		mustField(t, s, "a", "size")
	})
	t.Run("delete frees the name", func(t *testing.T) {
		if err := s.DeleteField(t.Context(), "a", colour); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteField(t.Context(), "a", colour); !apperr.Is(err, apperr.KindNotFound) {
			t.Errorf("second delete: %v, want a not-found error", err)
		}
		if err := s.UpdateField(t.Context(), "a", colour, colour); !apperr.Is(err, apperr.KindNotFound) {
			t.Errorf("update of a deleted field: %v, want a not-found error", err)
		}
		if f := mustField(t, s, "a", "COLOUR"); f.ID == colour.ID {
			t.Errorf("deleted field's ID %s was reused", f.ID)
		}
	})
	if got := names(t, s, "a"); !slices.Equal(got, []string{"1:Shoe size", "6:size", "7:COLOUR"}) {
		t.Errorf("fields at the end: %v", got)
	}
}
