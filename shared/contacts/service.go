package contacts

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// Service holds the contact rules on top of a Store.
type Service struct {
	Store Store
	// Phone normalises phone input; nil in functions that take none.
	Phone PhoneNormalizer
	Now   func() time.Time
}

// Scope is whose contacts a caller sees: a channel token sees its
// channel's contacts, the account secret the whole tenant's.
type Scope struct {
	TenantID  string
	ChannelID string // "" = every contact of the tenant
	// DefaultCountry reads phone numbers written without a country code.
	DefaultCountry string
}

// Input sets one field: a standard field's name, or a custom field's name or
// ID, and a JSON value (string, number, boolean; "" or null clears it).
type Input struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// Get reads a contact the scope may see.
func (s *Service) Get(ctx context.Context, sc Scope, id string) (Contact, error) {
	if !validID(id) {
		return Contact{}, apperr.NotFound("Contact", id)
	}
	if sc.ChannelID == "" {
		cs, err := s.Lookup(ctx, sc, id)
		switch {
		case err != nil:
			return Contact{}, err
		case len(cs) == 0:
			return Contact{}, apperr.NotFound("Contact", id)
		case len(cs) > 1:
			return Contact{}, apperr.Invalidf("idContact", "%s names %d contacts, one in each of several channels (a channel's own IDs are per channel); change them with each channel's token", id, len(cs))
		}
		return cs[0], nil
	}
	// A channel reads its own contact by key: another channel's contact
	// with the same ID is a different contact, and is never read here.
	c, err := s.Store.GetContact(ctx, sc.TenantID, sc.ChannelID, id)
	if apperr.Is(err, apperr.KindNotFound) {
		return Contact{}, apperr.NotFound("Contact", id)
	}
	if err != nil {
		return Contact{}, err
	}
	if c.ChannelID != sc.ChannelID || c.TenantID != sc.TenantID {
		return Contact{}, apperr.NotFound("Contact", id)
	}
	return c, nil
}

// Lookup lists the contacts with this ID the scope may see: a channel's
// one contact, or for the account every contact of the tenant with this
// ID (the same ID may be held by several channels).
func (s *Service) Lookup(ctx context.Context, sc Scope, id string) ([]Contact, error) {
	if !validID(id) {
		return nil, nil
	}
	if sc.ChannelID != "" {
		c, err := s.Get(ctx, sc, id)
		if apperr.Is(err, apperr.KindNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []Contact{c}, nil
	}
	cs, err := s.Store.ContactsByID(ctx, sc.TenantID, id)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(cs, func(c Contact) bool { return c.TenantID != sc.TenantID || c.ID != id }), nil
}

// validID accepts what could be a contact ID: ours are digits, a channel's
// own (a Messenger PSID, a Viber ID) may hold other printable characters.
func validID(id string) bool {
	if id == "" || len(id) > 128 || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if r < ' ' || r == '#' || r == 0x7f {
			return false
		}
	}
	return true
}

// Create makes a contact in the scope's channel with the given fields.
func (s *Service) Create(ctx context.Context, sc Scope, in []Input, opportunity bool) (Contact, error) {
	fields, err := s.Store.ListFields(ctx, sc.TenantID)
	if err != nil {
		return Contact{}, err
	}
	now := s.Now().Unix()
	c := Contact{TenantID: sc.TenantID, ChannelID: sc.ChannelID, Fields: map[string]string{}, Custom: map[string]string{},
		Tags: []string{}, Opportunity: opportunity, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := s.apply(&c, in, fields, sc.DefaultCountry); err != nil {
		return Contact{}, err
	}
	c.ID = NewContactID()
	if err := withinBudget(c); err != nil {
		return Contact{}, err
	}
	for range 3 {
		c.ID = NewContactID()
		err = s.Store.CreateContact(ctx, c)
		if !apperr.Is(err, apperr.KindExists) {
			break
		}
	}
	return c, err
}

// Update sets fields of a contact (and the opportunity flag when given). A
// write that changes nothing is not made.
func (s *Service) Update(ctx context.Context, sc Scope, id string, in []Input, opportunity *bool) (Contact, error) {
	return s.update(ctx, sc, id, nil, in, opportunity)
}

// UpdateFrom is Update of a contact the caller has just read (strongly
// consistent, in sc): the write starts from it instead of reading it
// again; should it have changed since, it is read again.
func (s *Service) UpdateFrom(ctx context.Context, sc Scope, c Contact, in []Input, opportunity *bool) (Contact, error) {
	return s.update(ctx, sc, c.ID, &c, in, opportunity)
}

func (s *Service) update(ctx context.Context, sc Scope, id string, read *Contact, in []Input, opportunity *bool) (Contact, error) {
	fields, err := s.Store.ListFields(ctx, sc.TenantID)
	if err != nil {
		return Contact{}, err
	}
	return s.modify(ctx, sc, id, read, func(c *Contact) error {
		if opportunity != nil {
			c.Opportunity = *opportunity
		}
		return s.apply(c, in, fields, sc.DefaultCountry)
	})
}

// AddTags adds tags a contact does not have yet.
func (s *Service) AddTags(ctx context.Context, sc Scope, id string, tags []string) (Contact, error) {
	return s.addTags(ctx, sc, id, nil, tags)
}

// AddTagsFrom is AddTags on a contact the caller has just read (as
// UpdateFrom).
func (s *Service) AddTagsFrom(ctx context.Context, sc Scope, c Contact, tags []string) (Contact, error) {
	return s.addTags(ctx, sc, c.ID, &c, tags)
}

func (s *Service) addTags(ctx context.Context, sc Scope, id string, read *Contact, tags []string) (Contact, error) {
	tags, err := cleanTags(tags)
	if err != nil {
		return Contact{}, err
	}
	return s.modify(ctx, sc, id, read, func(c *Contact) error {
		for _, t := range tags {
			if !slices.Contains(c.Tags, t) {
				c.Tags = append(c.Tags, t)
			}
		}
		if len(c.Tags) > MaxTags {
			return invalid("tags", "a contact can have at most %d tags", MaxTags)
		}
		return nil
	})
}

// RemoveTags removes tags; tags the contact does not have are ignored.
func (s *Service) RemoveTags(ctx context.Context, sc Scope, id string, tags []string) (Contact, error) {
	return s.removeTags(ctx, sc, id, nil, tags)
}

// RemoveTagsFrom is RemoveTags on a contact the caller has just read (as
// UpdateFrom).
func (s *Service) RemoveTagsFrom(ctx context.Context, sc Scope, c Contact, tags []string) (Contact, error) {
	return s.removeTags(ctx, sc, c.ID, &c, tags)
}

func (s *Service) removeTags(ctx context.Context, sc Scope, id string, read *Contact, tags []string) (Contact, error) {
	tags, err := cleanTags(tags)
	if err != nil {
		return Contact{}, err
	}
	return s.modify(ctx, sc, id, read, func(c *Contact) error {
		c.Tags = slices.DeleteFunc(c.Tags, func(t string) bool { return slices.Contains(tags, t) })
		return nil
	})
}

// Delete removes a contact.
func (s *Service) Delete(ctx context.Context, sc Scope, id string) error {
	for range 3 {
		c, err := s.Get(ctx, sc, id)
		if err != nil {
			return err
		}
		if err = s.Store.DeleteContact(ctx, c); !apperr.Is(err, apperr.KindConflict) {
			return err
		}
	}
	return apperr.Conflict("contact")
}

// modify reads, changes and writes a contact, retrying when a concurrent
// write got there first. read, when not nil, is the contact as the caller
// has just read it: the first try starts from it (a copy) instead of
// reading; a retry reads.
func (s *Service) modify(ctx context.Context, sc Scope, id string, read *Contact, change func(*Contact) error) (Contact, error) {
	if read != nil && (read.ID != id || read.TenantID != sc.TenantID || (sc.ChannelID != "" && read.ChannelID != sc.ChannelID)) {
		read = nil // not the scope's contact: read it
	}
	for range 5 {
		var prev Contact
		var err error
		if read != nil {
			prev, read = clone(*read), nil
		} else if prev, err = s.Get(ctx, sc, id); err != nil {
			return Contact{}, err
		}
		next := clone(prev)
		if err := change(&next); err != nil {
			return Contact{}, err
		}
		if same(prev, next) && next.Once == nil {
			return prev, nil
		}
		if err := withinBudget(next); err != nil {
			return Contact{}, err
		}
		next.Version = prev.Version + 1
		next.UpdatedAt = s.Now().Unix()
		if err = s.Store.UpdateContact(ctx, prev, next); !apperr.Is(err, apperr.KindConflict) {
			return next, err
		}
	}
	return Contact{}, apperr.Conflict("contact")
}

// apply sets the inputs on c, checking each against its field's type. On an
// error c may be partly changed: callers pass a contact they discard then
// (a new one, or modify's copy), so nothing is half-written.
func (s *Service) apply(c *Contact, in []Input, fields []Field, country string) error {
	if len(in) > MaxFieldsPerWrite {
		return invalid("custom_fields", "at most %d fields per request, got %d", MaxFieldsPerWrite, len(in))
	}
	type change struct {
		std   bool
		key   string
		value string
	}
	changes := make([]change, 0, len(in))
	seen := map[string]bool{}
	for i, f := range in {
		label := fmt.Sprintf("custom_fields[%d]", i)
		if strings.TrimSpace(f.Name) == "" {
			return invalid(label+".name", "is required")
		}
		std, def, err := resolve(f.Name, fields)
		if err != nil {
			return err
		}
		var ch change
		var typ FieldType
		var options []string
		if std.Name != "" {
			if !std.Writable {
				return invalid(f.Name, "is set by the messaging platform and cannot be changed through the API")
			}
			ch, typ = change{std: true, key: std.Name}, std.Type
		} else {
			ch, typ, options = change{key: def.ID}, def.Type, def.Options
		}
		if seen[ch.key] {
			return invalid(f.Name, "is given more than once")
		}
		seen[ch.key] = true
		if ch.value, err = Canonical(f.Name, typ, options, f.Value, s.Phone, country); err != nil {
			return err
		}
		changes = append(changes, ch)
	}
	custom := c.Custom
	for _, ch := range changes {
		m := custom
		if ch.std {
			m = c.Fields
		}
		if ch.value == "" {
			delete(m, ch.key)
		} else {
			m[ch.key] = ch.value
		}
	}
	pruneDeleted(custom, fields)
	if len(custom) > MaxCustomValues {
		return invalid("custom_fields", "a contact can hold at most %d custom field values", MaxCustomValues)
	}
	return nil
}

// pruneDeleted drops values of custom fields that no longer exist: they are
// not shown or searchable any more, and must not count against the limit.
func pruneDeleted(custom map[string]string, fields []Field) {
	for id := range custom {
		if !slices.ContainsFunc(fields, func(f Field) bool { return f.ID == id }) {
			delete(custom, id)
		}
	}
}

// resolve finds the field an input names: a standard field, else a custom
// field by name (ignoring case), else by ID.
func resolve(name string, fields []Field) (StandardField, Field, error) {
	for _, f := range Standard {
		if strings.EqualFold(f.Name, name) {
			return f, Field{}, nil
		}
	}
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			return StandardField{}, f, nil
		}
	}
	for _, f := range fields {
		if f.ID == name {
			return StandardField{}, f, nil
		}
	}
	return StandardField{}, Field{}, invalid(name, "is not a contact field: use a standard field (%s) or a custom field's name or ID", standardNames())
}

func standardNames() string {
	names := make([]string, 0, len(Standard))
	for _, f := range Standard {
		if f.Writable {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, ", ")
}

func cleanTags(tags []string) ([]string, error) {
	if len(tags) == 0 {
		return nil, invalid("tags", "must be a non-empty array of strings")
	}
	if len(tags) > MaxTagsPerCall {
		return nil, invalid("tags", "at most %d tags per request, got %d", MaxTagsPerCall, len(tags))
	}
	out := make([]string, 0, len(tags))
	for i, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" || utf8.RuneCountInString(t) > MaxTagLength {
			return nil, invalid(fmt.Sprintf("tags[%d]", i), "must be 1 to %d characters", MaxTagLength)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// checkSearch refuses a search without a field name or with a page out of
// range, before anything is read.
func checkSearch(name string, page int) error {
	if strings.TrimSpace(name) == "" {
		return invalid("name", "is required")
	}
	if page < 1 || page > 1000 {
		return invalid("page", "must be between 1 and 1000")
	}
	return nil
}

// Search lists one page (from 1) of the scope's contacts whose field (a
// standard field's name, or a custom field's name or ID) equals value;
// fields are the tenant's field definitions, which the caller reads (it
// needs them to present the results).
func (s *Service) Search(ctx context.Context, sc Scope, fields []Field, name, value string, page int) (Page, error) {
	if err := checkSearch(name, page); err != nil {
		return Page{}, err
	}
	key, canon, err := s.searchTerm(name, value, fields, sc.DefaultCountry)
	if err != nil {
		return Page{}, err
	}
	return s.Store.Search(ctx, Query{TenantID: sc.TenantID, ChannelID: sc.ChannelID, FieldKey: key,
		ValueKey: ValueKey(canon), Offset: (page - 1) * PerPage, Limit: PerPage})
}

func (s *Service) searchTerm(name, value string, fields []Field, country string) (key, canon string, err error) {
	raw, _ := json.Marshal(value)
	std, def, err := resolve(name, fields)
	if err != nil {
		return "", "", err
	}
	if std.Name != "" {
		key = StandardKey(std.Name)
		canon, err = Canonical("value", std.Type, nil, raw, s.Phone, country)
	} else {
		key = CustomKey(def.ID)
		canon, err = Canonical("value", def.Type, def.Options, raw, s.Phone, country)
	}
	if err == nil && canon == "" {
		err = invalid("value", "is required")
	}
	return key, canon, err
}

// FindByName finds the scope's contacts by first and/or last name (seed
// 003's SEARCH), at most limit of them.
func (s *Service) FindByName(ctx context.Context, sc Scope, first, last string, limit int) ([]Contact, error) {
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	field, value, other := "firstName", first, last
	if first == "" {
		field, value, other = "lastName", last, ""
	}
	if value == "" {
		return nil, invalid("Fname", "or Lname or idContact is required to search")
	}
	var out []Contact
	for offset := 0; len(out) < limit && offset <= 10000; offset += 100 {
		p, err := s.Store.Search(ctx, Query{TenantID: sc.TenantID, ChannelID: sc.ChannelID, FieldKey: StandardKey(field),
			ValueKey: ValueKey(value), Offset: offset, Limit: 100})
		if err != nil {
			return nil, err
		}
		for _, c := range p.Contacts {
			if other == "" || strings.EqualFold(c.Fields["lastName"], other) {
				out = append(out, c)
			}
		}
		if offset+100 >= p.Total {
			break
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// NewContactID returns a random 15-digit decimal ID: below 2^53, so it
// survives clients that read idContact as a JavaScript number.
func NewContactID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(900_000_000_000_000))
	return strconv.FormatInt(n.Int64()+100_000_000_000_000, 10)
}

func clone(c Contact) Contact {
	c.Fields = cloneMap(c.Fields)
	c.Custom = cloneMap(c.Custom)
	c.LastInbound = cloneMap(c.LastInbound)
	c.Tags = slices.Clone(c.Tags)
	if c.Tags == nil {
		c.Tags = []string{}
	}
	return c
}

func cloneMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func same(a, b Contact) bool {
	return equalMaps(a.Fields, b.Fields) && equalMaps(a.Custom, b.Custom) && equalMaps(a.LastInbound, b.LastInbound) &&
		eventSeq(a) == eventSeq(b) &&
		slices.Equal(a.Tags, b.Tags) && a.Opportunity == b.Opportunity
}

func eventSeq(c Contact) string {
	if c.LastEvent == nil {
		return ""
	}
	return c.LastEvent.Seq
}

func equalMaps[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
