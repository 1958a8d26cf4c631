package ddbstore

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/messages"
)

// CreateContactAndMessage writes a new contact (as CreateContact does: its
// search entries, the tenant's count, the contact limit) and a new message
// to it (as Messages.CreateMessage does, on the same data table) in one
// transaction: a send to a number without a contact stores both or
// neither. Any failed condition (an existing contact, or message) is
// CreateContact's apperr.KindExists, and nothing is written: the caller
// then reads the contact and stores the message alone. m must name c.
func (s *Contacts) CreateContactAndMessage(ctx context.Context, c contacts.Contact, m messages.Message) error {
	if m.ContactID != c.ID || m.TenantID != c.TenantID || m.ChannelID != c.ChannelID {
		return errors.New("create contact and message: the message is not the contact's")
	}
	it, err := messageItem(m)
	if err != nil {
		return err
	}
	return s.createContact(ctx, c, []types.TransactWriteItem{putNew(s.Table, it)})
}

// WithMessage is s whose CreateContact writes the message m to the new
// contact in the same transaction (CreateContactAndMessage) and sets
// *written; when that transaction fails a condition (the contact, or the
// message, exists), it creates the contact alone as CreateContact does,
// and the caller stores the message itself (*written stays false).
func (s *Contacts) WithMessage(m messages.Message, written *bool) contacts.Store {
	return &contactWithMessage{Contacts: s, m: m, written: written}
}

type contactWithMessage struct {
	*Contacts
	m       messages.Message
	written *bool
}

func (s *contactWithMessage) CreateContact(ctx context.Context, c contacts.Contact) error {
	m := s.m
	m.ContactID = c.ID
	err := s.CreateContactAndMessage(ctx, c, m)
	if err == nil {
		*s.written = true
		return nil
	}
	if apperr.Is(err, apperr.KindExists) {
		return s.Contacts.CreateContact(ctx, c)
	}
	return err
}
