// Package contacts is the contact store's domain: contacts, their standard
// and custom field values and tags, the per-tenant custom field definitions
// (the "contact fields module"), the rules for values of each type, and the
// search terms that make a lookup by field a key lookup.
package contacts

import (
	"context"
	"errors"
	"strings"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// Contact is one person a bot talks to.
type Contact struct {
	ID        string `dynamodbav:"id"`
	TenantID  string `dynamodbav:"tenant_id"`
	ChannelID string `dynamodbav:"channel_id"` // "" for contacts made with the account API
	// Fields holds the standard fields by name (firstName, phone, ...).
	Fields map[string]string `dynamodbav:"fields"`
	// Custom holds custom field values by field ID, in canonical form.
	Custom      map[string]string `dynamodbav:"custom"`
	Tags        []string          `dynamodbav:"tags"`
	Opportunity bool              `dynamodbav:"opportunity"`
	CreatedAt   int64             `dynamodbav:"created_at"`
	UpdatedAt   int64             `dynamodbav:"updated_at"`
	// LastInbound is when the contact last wrote to us, per channel ID (unix
	// seconds): the 24-hour messaging window starts there.
	LastInbound map[string]int64 `dynamodbav:"last_inbound"`
	// LastEvent is the latest thing the bot collected that is an event
	// rather than a field value (a postback, a webview form, a location).
	// Every collection writes a new Seq, so the table's stream sees it even
	// when the values repeat.
	LastEvent *Event `dynamodbav:"last_event,omitempty"`
	// Version increases with every write; updates are conditional on it.
	Version int64 `dynamodbav:"version"`
	// CountShard is the store's record of the shard of the tenant's contact
	// counter that counted this contact, plus one (0: not counted, as
	// contacts made before the counter): its delete takes it off there.
	CountShard int `dynamodbav:"count_shard,omitempty"`
	// Once, when set, makes this write the one recording of an outside
	// event (not stored with the contact): the store writes the mark in the
	// same transaction and refuses the write with ErrRecorded if the mark is
	// already there.
	Once *Once `dynamodbav:"-"`
	// LegacyKey is set by the store on a channel's contact it read under
	// the key versions before channel-scoped identity used (not stored);
	// the store's next write of it moves it to its own key. Copies keep it.
	LegacyKey bool `dynamodbav:"-"`
}

// Once is the mark of an outside event recorded by a contact write.
type Once struct {
	Key     string // unique within the tenant
	Expires int64  // unix seconds: the mark is forgotten after this
}

// ErrRecorded means a write carrying a Once mark was refused because the
// event was recorded before; nothing was written.
var ErrRecorded = errors.New("contacts: event already recorded")

// Event is one collected event (POST /v1/events, Messenger webhooks).
type Event struct {
	Kind          string `dynamodbav:"kind"` // postback | webview_form | location
	PostbackID    string `dynamodbav:"postback_id,omitempty"`
	WebviewFormID string `dynamodbav:"webview_form_id,omitempty"`
	Location      string `dynamodbav:"location,omitempty"`
	At            int64  `dynamodbav:"at"`
	Seq           string `dynamodbav:"seq"`
}

// FieldType is the type of a custom field's values.
type FieldType string

const (
	Text     FieldType = "text"
	Number   FieldType = "number"
	Boolean  FieldType = "boolean"
	Date     FieldType = "date"
	DateTime FieldType = "datetime"
	Email    FieldType = "email"
	Phone    FieldType = "phone"
	List     FieldType = "list" // one of Options
)

// FieldTypes lists every type.
var FieldTypes = []FieldType{Text, Number, Boolean, Date, DateTime, Email, Phone, List}

// Field is a tenant's custom field definition.
type Field struct {
	ID        string    `json:"id" dynamodbav:"id"`
	Name      string    `json:"name" dynamodbav:"name"`
	Type      FieldType `json:"type" dynamodbav:"type"`
	Options   []string  `json:"options,omitempty" dynamodbav:"options,omitempty"`
	CreatedAt int64     `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt int64     `json:"updated_at" dynamodbav:"updated_at"`
}

// StandardField is a field every contact has.
type StandardField struct {
	Name string
	Type FieldType
	// Writable fields may be set through the API (seed 001's list); the
	// others come from the messaging platform.
	Writable bool
}

// Standard lists the standard fields in the order they are shown.
var Standard = []StandardField{
	{"firstName", Text, true},
	{"lastName", Text, true},
	{"profilePic", Text, true},
	{"language", Text, true},
	{"phone", Phone, true},
	{"email", Email, true},
	{"locale", Text, false},
	{"timezone", Text, false},
	{"gender", Text, false},
	{"birthday", Date, false},
	{"location", Text, false},
}

// StandardByName finds a standard field.
func StandardByName(name string) (StandardField, bool) {
	for _, f := range Standard {
		if f.Name == name {
			return f, true
		}
	}
	return StandardField{}, false
}

// Limits of the API (seed 001).
const (
	MaxFieldsPerWrite = 30
	MaxTagsPerCall    = 10
	MaxTags           = 200
	MaxTagLength      = 100
	MaxValueLength    = 1024
	MaxFields         = 500 // custom field definitions per tenant
	// MaxCustomValues bounds the custom values one contact holds, so that a
	// contact and all its search entries fit in one transaction (100 items:
	// the contact, 11 standard fields, 88 custom ones; a test checks the sum).
	MaxCustomValues = 88
	PerPage         = 10
)

// SearchTerms are the (field key, value key) pairs a contact can be found
// by: every non-empty standard and custom value. Field keys are "std:<name>"
// and "cf:<id>"; value keys are the canonical value folded to lower case,
// so searches ignore case.
func SearchTerms(c Contact) map[string]string {
	out := map[string]string{}
	for k, v := range c.Fields {
		if v != "" {
			out[StandardKey(k)] = ValueKey(v)
		}
	}
	for id, v := range c.Custom {
		if v != "" {
			out[CustomKey(id)] = ValueKey(v)
		}
	}
	return out
}

// StandardKey and CustomKey name a field in search terms.
func StandardKey(name string) string { return "std:" + name }

// CustomKey names a custom field in search terms.
func CustomKey(id string) string { return "cf:" + id }

// ValueKey is the form a canonical value is searched by.
func ValueKey(v string) string { return strings.ToLower(strings.TrimSpace(v)) }

// Query is a search for contacts whose field equals a value.
type Query struct {
	TenantID string
	// ChannelID limits the search to one channel's contacts; "" searches the
	// whole tenant.
	ChannelID string
	FieldKey  string // StandardKey or CustomKey
	ValueKey  string // ValueKey of the canonical value
	Offset    int
	Limit     int
}

// Page is one page of search results, oldest contact first, and the number
// of all matches.
type Page struct {
	Contacts []Contact
	Total    int
}

// Store persists contacts and field definitions. Every write that touches
// several items (a contact and its search index entries, a field and its
// name guard) is one transaction.
//
// A contact's identity is (tenant, channel, ID): a channel's own IDs (a
// Messenger PSID is page-scoped; a WhatsApp phone, a Viber ID) are per
// channel, so the same ID in two channels names two contacts. Contacts made
// with the account API have channel "".
type Store interface {
	// GetContact reads the contact id of channelID ("" for an account
	// contact); an apperr.KindNotFound if that channel holds none.
	GetContact(ctx context.Context, tenantID, channelID, id string) (Contact, error)
	// ContactsByID lists the tenant's contacts whose ID is id, in every
	// channel and the account's (the account API's view of an ID).
	ContactsByID(ctx context.Context, tenantID, id string) ([]Contact, error)
	// CreateContact writes a new contact (Version 1) with its search
	// entries; an apperr.KindExists if the ID is taken.
	CreateContact(ctx context.Context, c Contact) error
	// UpdateContact replaces prev by next (next.Version = prev.Version+1)
	// and moves the search entries that changed; an apperr.KindConflict if the stored
	// version is not prev.Version.
	UpdateContact(ctx context.Context, prev, next Contact) error
	// DeleteContact removes a contact and its search entries; an apperr.KindConflict if
	// it changed since read.
	DeleteContact(ctx context.Context, c Contact) error
	Search(ctx context.Context, q Query) (Page, error)

	ListFields(ctx context.Context, tenantID string) ([]Field, error)
	// CreateField assigns the next numeric ID of the tenant and writes the
	// field; an apperr.KindExists if another field has the name (case-insensitively).
	CreateField(ctx context.Context, tenantID string, f Field) (Field, error)
	// UpdateField replaces prev by next; an apperr.KindExists if the new name is taken.
	UpdateField(ctx context.Context, tenantID string, prev, next Field) error
	DeleteField(ctx context.Context, tenantID string, f Field) error
}

// invalid is an apperr.KindInvalid naming the input that is wrong and why.
func invalid(field, format string, args ...any) *apperr.Error {
	return apperr.Invalidf(field, format, args...)
}
