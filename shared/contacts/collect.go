package contacts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// Collected is what a bot collected from a subscriber: a field value, an
// event (postback, webview form, location), or both.
type Collected struct {
	// Field names a standard field (platform fields included: the bot is
	// the platform) or a custom field by name or ID; Value is its value.
	Field string
	Value json.RawMessage
	// PostbackID, WebviewFormID and Location record an event.
	PostbackID    string
	WebviewFormID string
	Location      string
	// Once, when set, records this collection at most once (see
	// Contact.Once): a repeat is refused with ErrRecorded.
	Once *Once
}

// Event kinds.
const (
	EventPostback    = "postback"
	EventWebviewForm = "webview_form"
	EventLocation    = "location"
)

// Collect records what the bot collected from the subscriber psid on the
// scope's channel, creating the contact (with ID psid) on first sight.
func (s *Service) Collect(ctx context.Context, sc Scope, psid string, in Collected) (Contact, error) {
	return s.collect(ctx, sc, psid, in, false)
}

// collect is Collect; absent says the caller just read the contact and
// found none, so the create is tried first (the stored contact is read
// only when the create finds one). A standard field is set without
// reading the tenant's custom fields (a standard name resolves first).
func (s *Service) collect(ctx context.Context, sc Scope, psid string, in Collected, absent bool) (Contact, error) {
	if !validID(psid) {
		return Contact{}, invalid("psid", "is required (the subscriber's ID on the channel, at most 128 characters)")
	}
	ev, err := s.event(in)
	if err != nil {
		return Contact{}, err
	}
	if in.Field == "" && ev == nil {
		return Contact{}, invalid("field", "or postback_id, webview_form_id or location is required")
	}
	var fields []Field
	if _, std := StandardByName(in.Field); !std && in.Field != "" {
		if fields, err = s.Store.ListFields(ctx, sc.TenantID); err != nil {
			return Contact{}, err
		}
	}
	change := func(c *Contact) error {
		c.Once = in.Once
		if in.Field != "" {
			if err := s.collectField(c, in.Field, in.Value, fields, sc.DefaultCountry); err != nil {
				return err
			}
		}
		if ev != nil {
			c.LastEvent = ev
			if ev.Location != "" {
				c.Fields["location"] = ev.Location
			}
		}
		return nil
	}
	if !absent {
		c, err := s.modify(ctx, sc, psid, nil, change)
		if !apperr.Is(err, apperr.KindNotFound) {
			return c, err
		}
	}
	now := s.Now().Unix()
	c := Contact{ID: psid, TenantID: sc.TenantID, ChannelID: sc.ChannelID, Fields: map[string]string{}, Custom: map[string]string{},
		Tags: []string{}, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := change(&c); err != nil {
		return Contact{}, err
	}
	if err := withinBudget(c); err != nil {
		return Contact{}, err
	}
	if err := s.Store.CreateContact(ctx, c); apperr.Is(err, apperr.KindExists) {
		// Created concurrently: apply to the stored one.
		return s.modify(ctx, sc, psid, nil, change)
	} else if err != nil {
		return Contact{}, err
	}
	return c, nil
}

func (s *Service) event(in Collected) (*Event, error) {
	ev := &Event{PostbackID: strings.TrimSpace(in.PostbackID), WebviewFormID: strings.TrimSpace(in.WebviewFormID),
		Location: strings.TrimSpace(in.Location), At: s.Now().Unix()}
	n := 0
	for kind, v := range map[string]string{EventPostback: ev.PostbackID, EventWebviewForm: ev.WebviewFormID, EventLocation: ev.Location} {
		if v != "" {
			ev.Kind = kind
			n++
			if len(v) > MaxValueLength {
				return nil, invalid(kind, "is longer than %d characters", MaxValueLength)
			}
		}
	}
	switch n {
	case 0:
		return nil, nil
	case 1:
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		ev.Seq = fmt.Sprintf("%d-%s", ev.At, hex.EncodeToString(b))
		return ev, nil
	}
	return nil, invalid("postback_id", "give one event at a time: postback_id, webview_form_id or location")
}

// collectField sets one field as the bot collected it: any standard field
// may be set, unlike through the Contacts API.
func (s *Service) collectField(c *Contact, name string, value json.RawMessage, fields []Field, country string) error {
	std, def, err := resolve(name, fields)
	if err != nil {
		return err
	}
	if std.Name != "" {
		v, err := Canonical(std.Name, std.Type, nil, value, s.Phone, country)
		if err != nil {
			return err
		}
		setOrClear(c.Fields, std.Name, v)
		return nil
	}
	v, err := Canonical(def.Name, def.Type, def.Options, value, s.Phone, country)
	if err != nil {
		return err
	}
	setOrClear(c.Custom, def.ID, v)
	pruneDeleted(c.Custom, fields)
	if len(c.Custom) > MaxCustomValues {
		return invalid("field", "a contact can hold at most %d custom field values", MaxCustomValues)
	}
	return nil
}

func setOrClear(m map[string]string, k, v string) {
	if v == "" {
		delete(m, k)
	} else {
		m[k] = v
	}
}
