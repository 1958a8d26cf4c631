package contacts

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// PhoneContactID is the contact ID of a person on a channel that names its
// people by phone number (WhatsApp's wa_id): the E.164 number's digits,
// without the "+". Inbound messages and sends to a phone number use it
// alike, so a conversation is one contact both ways.
func PhoneContactID(e164 string) string { return strings.TrimPrefix(e164, "+") }

// ChannelContact is the scope channel's contact with ID id (PhoneContactID
// of phone), made on first sight with its phone (E.164) and, when name is
// given, firstName. A number the phone library does not read still makes
// the contact, named by its number (or name). Errors are the store's, and
// the contact limit's (apperr.KindRejected).
func (s *Service) ChannelContact(ctx context.Context, sc Scope, id, phone, name string) (Contact, error) {
	c, err := s.Get(ctx, sc, id)
	if err == nil {
		return c, nil
	}
	if !apperr.Is(err, apperr.KindNotFound) {
		return Contact{}, err
	}
	return s.NewChannelContact(ctx, sc, id, phone, name)
}

// NewChannelContact is ChannelContact for a caller that has just read the
// contact and found none: it creates it without reading it again (one
// write), and applies to the stored one only when a concurrent write made
// it first.
func (s *Service) NewChannelContact(ctx context.Context, sc Scope, id, phone, name string) (Contact, error) {
	v, _ := json.Marshal(phone)
	c, err := s.collect(ctx, sc, id, Collected{Field: "phone", Value: v}, true)
	if apperr.Is(err, apperr.KindInvalid) {
		first := strings.TrimSpace(name)
		if first == "" {
			first = phone
		}
		v, _ := json.Marshal(first)
		c, err = s.collect(ctx, sc, id, Collected{Field: "firstName", Value: v}, true)
	}
	if err != nil {
		return Contact{}, err
	}
	if name = strings.TrimSpace(name); name != "" && c.Fields["firstName"] == "" {
		v, _ := json.Marshal(name)
		named, err := s.Collect(ctx, sc, id, Collected{Field: "firstName", Value: v})
		switch {
		case err == nil:
			c = named
		case apperr.Is(err, apperr.KindInvalid) || apperr.Is(err, apperr.KindTooLarge) || apperr.Is(err, apperr.KindRejected) || apperr.Is(err, apperr.KindNotFound):
			// The name is a nicety: the contact stands without it.
		default:
			return Contact{}, err
		}
	}
	return c, nil
}
