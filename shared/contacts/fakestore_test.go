package contacts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// fakeStore is an in-memory Store that honours the port's contract:
// versions (CreateContact writes Version 1, UpdateContact is conditional on
// prev.Version and must write prev.Version+1), apperr.Exists("Item exists."), apperr.Conflict("item"),
// apperr.NotFound("Item", ""), Search over SearchTerms with Offset/Limit/Total (oldest
// first), per-tenant numeric field IDs that are never reused, and field
// names unique case-insensitively. It copies contacts in and out, so a
// caller changing what it got back changes nothing stored.
type fakeStore struct {
	mu       sync.Mutex
	contacts map[string]Contact // by tenant + "#" + channel + "#" + id
	seq      map[string]int     // creation order, by the same key
	nextSeq  int
	fields   map[string][]Field // by tenant, in ID order
	lastID   map[string]int     // last field ID given, by tenant

	calls map[string]int
	// beforeUpdate, when set, runs (unlocked) before each UpdateContact: a
	// concurrent writer. It returns whether this call must fail with
	// apperr.Conflict("item") regardless of versions.
	beforeUpdate func(n int) bool
	// createExists makes the next n CreateContact calls report apperr.Exists("Item exists.").
	createExists int
	// failList makes ListFields fail.
	failList error
}

var _ Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{contacts: map[string]Contact{}, seq: map[string]int{}, fields: map[string][]Field{},
		lastID: map[string]int{}, calls: map[string]int{}}
}

func ckey(tenant, channel, id string) string { return tenant + "#" + channel + "#" + id }

func (s *fakeStore) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *fakeStore) GetContact(_ context.Context, tenantID, channelID, id string) (Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["GetContact"]++
	c, ok := s.contacts[ckey(tenantID, channelID, id)]
	if !ok {
		return Contact{}, apperr.NotFound("Item", "")
	}
	return deepCopy(c), nil
}

func (s *fakeStore) ContactsByID(_ context.Context, tenantID, id string) ([]Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["ContactsByID"]++
	var keys []string
	for k, c := range s.contacts {
		if c.TenantID == tenantID && c.ID == id {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return s.seq[keys[i]] < s.seq[keys[j]] })
	var out []Contact
	for _, k := range keys {
		out = append(out, deepCopy(s.contacts[k]))
	}
	return out, nil
}

func (s *fakeStore) CreateContact(_ context.Context, c Contact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["CreateContact"]++
	if s.createExists > 0 {
		s.createExists--
		return apperr.Exists("Item exists.")
	}
	if c.Version != 1 {
		return fmt.Errorf("fake store: CreateContact with Version %d, want 1", c.Version)
	}
	if c.ID == "" || c.TenantID == "" {
		return fmt.Errorf("fake store: CreateContact without ID or tenant: %+v", c)
	}
	k := ckey(c.TenantID, c.ChannelID, c.ID)
	if _, ok := s.contacts[k]; ok {
		return apperr.Exists("Item exists.")
	}
	s.contacts[k] = deepCopy(c)
	s.nextSeq++
	s.seq[k] = s.nextSeq
	return nil
}

func (s *fakeStore) UpdateContact(_ context.Context, prev, next Contact) error {
	s.mu.Lock()
	s.calls["UpdateContact"]++
	n := s.calls["UpdateContact"]
	hook := s.beforeUpdate
	s.mu.Unlock()
	if hook != nil && hook(n) {
		return apperr.Conflict("item")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if next.Version != prev.Version+1 {
		return fmt.Errorf("fake store: UpdateContact to Version %d from %d", next.Version, prev.Version)
	}
	if next.ID != prev.ID || next.TenantID != prev.TenantID || next.ChannelID != prev.ChannelID {
		return fmt.Errorf("fake store: UpdateContact changes the key")
	}
	k := ckey(prev.TenantID, prev.ChannelID, prev.ID)
	cur, ok := s.contacts[k]
	if !ok || cur.Version != prev.Version {
		return apperr.Conflict("item")
	}
	s.contacts[k] = deepCopy(next)
	return nil
}

func (s *fakeStore) DeleteContact(_ context.Context, c Contact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["DeleteContact"]++
	k := ckey(c.TenantID, c.ChannelID, c.ID)
	cur, ok := s.contacts[k]
	if !ok || cur.Version != c.Version {
		return apperr.Conflict("item")
	}
	delete(s.contacts, k)
	delete(s.seq, k)
	return nil
}

func (s *fakeStore) Search(_ context.Context, q Query) (Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["Search"]++
	if q.Offset < 0 || q.Limit < 1 {
		return Page{}, fmt.Errorf("fake store: Search offset %d limit %d", q.Offset, q.Limit)
	}
	var keys []string
	for k, c := range s.contacts {
		if c.TenantID != q.TenantID || (q.ChannelID != "" && c.ChannelID != q.ChannelID) {
			continue
		}
		if v, ok := SearchTerms(c)[q.FieldKey]; ok && v == q.ValueKey {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return s.seq[keys[i]] < s.seq[keys[j]] })
	p := Page{Total: len(keys), Contacts: []Contact{}}
	for i := q.Offset; i < len(keys) && i < q.Offset+q.Limit; i++ {
		p.Contacts = append(p.Contacts, deepCopy(s.contacts[keys[i]]))
	}
	return p, nil
}

func (s *fakeStore) ListFields(_ context.Context, tenantID string) ([]Field, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["ListFields"]++
	if s.failList != nil {
		return nil, s.failList
	}
	var out []Field
	for _, f := range s.fields[tenantID] {
		f.Options = slices.Clone(f.Options)
		out = append(out, f)
	}
	return out, nil
}

func (s *fakeStore) nameTaken(tenantID, name, except string) bool {
	for _, f := range s.fields[tenantID] {
		if f.ID != except && strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

func (s *fakeStore) CreateField(_ context.Context, tenantID string, f Field) (Field, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["CreateField"]++
	if s.nameTaken(tenantID, f.Name, "") {
		return Field{}, apperr.Exists("Item exists.")
	}
	s.lastID[tenantID]++
	f.ID = strconv.Itoa(s.lastID[tenantID])
	f.Options = slices.Clone(f.Options)
	s.fields[tenantID] = append(s.fields[tenantID], f)
	return f, nil
}

func (s *fakeStore) UpdateField(_ context.Context, tenantID string, prev, next Field) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["UpdateField"]++
	if next.ID != prev.ID {
		return fmt.Errorf("fake store: UpdateField changes the ID")
	}
	if s.nameTaken(tenantID, next.Name, prev.ID) {
		return apperr.Exists("Item exists.")
	}
	for i, f := range s.fields[tenantID] {
		if f.ID == prev.ID {
			next.Options = slices.Clone(next.Options)
			s.fields[tenantID][i] = next
			return nil
		}
	}
	return apperr.NotFound("Item", "")
}

func (s *fakeStore) DeleteField(_ context.Context, tenantID string, f Field) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["DeleteField"]++
	fs := s.fields[tenantID]
	for i, g := range fs {
		if g.ID == f.ID {
			s.fields[tenantID] = slices.Delete(fs, i, i+1)
			return nil
		}
	}
	return apperr.NotFound("Item", "")
}

// put stores a contact as is (test set-up).
func (s *fakeStore) put(c Contact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := ckey(c.TenantID, c.ChannelID, c.ID)
	s.contacts[k] = deepCopy(c)
	s.nextSeq++
	s.seq[k] = s.nextSeq
}

// stored reads a contact without counting a call: the tenant's first
// with this ID, in any channel.
func (s *fakeStore) stored(tenantID, id string) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	best := ""
	for k, c := range s.contacts {
		if c.TenantID == tenantID && c.ID == id && (best == "" || s.seq[k] < s.seq[best]) {
			best = k
		}
	}
	c, ok := s.contacts[best]
	return deepCopy(c), ok
}

func (s *fakeStore) numContacts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.contacts)
}

func deepCopy(c Contact) Contact {
	cp := func(m map[string]string) map[string]string {
		if m == nil {
			return nil
		}
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	c.Fields, c.Custom = cp(c.Fields), cp(c.Custom)
	if c.LastInbound != nil {
		li := make(map[string]int64, len(c.LastInbound))
		for k, v := range c.LastInbound {
			li[k] = v
		}
		c.LastInbound = li
	}
	c.Tags = slices.Clone(c.Tags)
	if c.LastEvent != nil {
		e := *c.LastEvent
		c.LastEvent = &e
	}
	return c
}

// fakeClock advances one second every time it is read.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// fakePhone is a deterministic normaliser: it keeps digits; "+" and
// 11 or more digits are international, "0" and 10 or 11 digits are local to
// the country (PK: +92, US: +1); anything else is an error. Its output is
// its own fixed point.
func fakePhone(raw, country string) (string, error) {
	raw = strings.TrimSpace(raw)
	intl := strings.HasPrefix(raw, "+")
	var digits strings.Builder
	for _, r := range strings.TrimPrefix(raw, "+") {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return "", errors.New("not a phone number")
		}
	}
	d := digits.String()
	switch {
	case intl && len(d) >= 8 && len(d) <= 15:
		return "+" + d, nil
	case !intl && strings.HasPrefix(d, "0") && len(d) == 11 && country == "PK":
		return "+92" + d[1:], nil
	case !intl && len(d) == 10 && country == "US":
		return "+1" + d, nil
	}
	return "", errors.New("not a phone number")
}

// newTestService returns a service on a fresh fake store, with the fake
// phone normaliser and a clock that starts at 2024-05-01 12:00:00 UTC.
func newTestService() (*Service, *fakeStore) {
	st := newFakeStore()
	clk := &fakeClock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	return &Service{Store: st, Phone: fakePhone, Now: clk.Now}, st
}

// mustField defines a custom field through the service.
func mustField(t *testing.T, s *Service, tenant, name string, typ FieldType, options ...string) Field {
	t.Helper()
	in := FieldInput{Name: &name}
	ts := string(typ)
	in.Type = &ts
	if options != nil {
		in.Options = &options
	}
	f, err := s.CreateField(context.Background(), tenant, in)
	if err != nil {
		t.Fatalf("CreateField(%q, %s): %v", name, typ, err)
	}
	return f
}

// knownBug fails a case; bug names the defect the case was written
// against, so a regression says what came back.
func knownBug(t *testing.T, bug string, format string, args ...any) {
	t.Helper()
	if bug != "" {
		format = "regression (" + bug + "): " + format
	}
	t.Errorf(format, args...)
}
