// Package contactstest holds an in-memory contacts.Store for the unit tests
// of the packages that serve contacts (contactapi, actionapi). The contacts
// package's own tests keep theirs, since it cannot import this one.
package contactstest

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
)

// MemStore is a small in-memory contacts.Store that keeps the port's
// contract: versions (create writes 1, update and delete are conditional on
// the stored version), apperr kinds for exists, conflict and not found,
// Search over contacts.SearchTerms in creation order, numeric field IDs that
// are never reused, field names unique in any case.
type MemStore struct {
	mu       sync.Mutex
	contacts map[string]contacts.Contact
	order    []string
	fields   []contacts.Field
	lastID   int
}

var _ contacts.Store = (*MemStore)(nil)

// New returns an empty store.
func New() *MemStore { return &MemStore{contacts: map[string]contacts.Contact{}} }

// key is a contact's identity: tenant, channel ("" for the account) and ID.
func key(tenantID, channelID, id string) string { return tenantID + "#" + channelID + "#" + id }

func clone(c contacts.Contact) contacts.Contact {
	c.Fields, c.Custom, c.Tags = maps.Clone(c.Fields), maps.Clone(c.Custom), slices.Clone(c.Tags)
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	if c.Custom == nil {
		c.Custom = map[string]string{}
	}
	return c
}

// GetContact implements contacts.Store.
func (s *MemStore) GetContact(_ context.Context, tenantID, channelID, id string) (contacts.Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contacts[key(tenantID, channelID, id)]
	if !ok {
		return contacts.Contact{}, apperr.NotFound("Item", "")
	}
	return clone(c), nil
}

// ContactsByID implements contacts.Store.
func (s *MemStore) ContactsByID(_ context.Context, tenantID, id string) ([]contacts.Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []contacts.Contact
	for _, k := range s.order {
		if c := s.contacts[k]; c.TenantID == tenantID && c.ID == id {
			out = append(out, clone(c))
		}
	}
	return out, nil
}

// CreateContact implements contacts.Store.
func (s *MemStore) CreateContact(_ context.Context, c contacts.Contact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(c.TenantID, c.ChannelID, c.ID)
	if _, ok := s.contacts[k]; ok || c.Version != 1 {
		return apperr.Exists("Item exists.")
	}
	s.contacts[k] = clone(c)
	s.order = append(s.order, k)
	return nil
}

// UpdateContact implements contacts.Store.
func (s *MemStore) UpdateContact(_ context.Context, prev, next contacts.Contact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(prev.TenantID, prev.ChannelID, prev.ID)
	if cur, ok := s.contacts[k]; !ok || cur.Version != prev.Version || next.Version != prev.Version+1 {
		return apperr.Conflict("item")
	}
	s.contacts[k] = clone(next)
	return nil
}

// DeleteContact implements contacts.Store.
func (s *MemStore) DeleteContact(_ context.Context, c contacts.Contact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(c.TenantID, c.ChannelID, c.ID)
	if cur, ok := s.contacts[k]; !ok || cur.Version != c.Version {
		return apperr.Conflict("item")
	}
	delete(s.contacts, k)
	s.order = slices.DeleteFunc(s.order, func(o string) bool { return o == k })
	return nil
}

// Search implements contacts.Store.
func (s *MemStore) Search(_ context.Context, q contacts.Query) (contacts.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []contacts.Contact
	for _, k := range s.order {
		c := s.contacts[k]
		if c.TenantID == q.TenantID && (q.ChannelID == "" || c.ChannelID == q.ChannelID) && contacts.SearchTerms(c)[q.FieldKey] == q.ValueKey {
			all = append(all, clone(c))
		}
	}
	p := contacts.Page{Total: len(all)}
	if q.Offset < len(all) {
		p.Contacts = all[q.Offset:min(len(all), q.Offset+q.Limit)]
	}
	return p, nil
}

// ListFields implements contacts.Store.
func (s *MemStore) ListFields(context.Context, string) ([]contacts.Field, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.fields), nil
}

// CreateField implements contacts.Store.
func (s *MemStore) CreateField(_ context.Context, _ string, f contacts.Field) (contacts.Field, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.fields {
		if strings.EqualFold(g.Name, f.Name) {
			return contacts.Field{}, apperr.Exists("Item exists.")
		}
	}
	s.lastID++
	f.ID = strconv.Itoa(s.lastID)
	s.fields = append(s.fields, f)
	return f, nil
}

// UpdateField implements contacts.Store.
func (s *MemStore) UpdateField(_ context.Context, _ string, prev, next contacts.Field) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.fields {
		if g.ID != prev.ID && strings.EqualFold(g.Name, next.Name) {
			return apperr.Exists("Item exists.")
		}
	}
	for i, g := range s.fields {
		if g.ID == prev.ID {
			s.fields[i] = next
			return nil
		}
	}
	return apperr.NotFound("Item", "")
}

// DeleteField implements contacts.Store.
func (s *MemStore) DeleteField(_ context.Context, _ string, f contacts.Field) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fields = slices.DeleteFunc(s.fields, func(g contacts.Field) bool { return g.ID == f.ID })
	return nil
}
