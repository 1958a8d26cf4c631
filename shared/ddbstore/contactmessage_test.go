package ddbstore_test

import (
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/messages"
)

// A new contact and its first message are written together or not at all:
// an existing contact, or the contact limit, writes no message; WithMessage
// then creates the contact alone (or finds it exists) and leaves the
// message to its caller.
func TestCreateContactAndMessage(t *testing.T) {
	s, env := newContacts(t)
	s.MaxContacts = 2
	ms := &ddbstore.Messages{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	msg := func(id, contact string) messages.Message {
		return messages.Message{ID: id, TenantID: "t", ChannelID: "ch", ChannelKind: "whatsapp", ContactID: contact, Direction: messages.Outbound,
			Type: messages.TypeText, Text: &messages.Text{Body: "hi"}, Status: messages.StatusQueued, CreatedAt: time.Now().UnixMilli()}
	}
	stored := func(id string) bool {
		_, err := ms.GetMessage(ctx, "t", id)
		if err != nil && !apperr.Is(err, apperr.KindNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	if err := s.CreateContactAndMessage(ctx, mk("t", "ch", "923001", 1, map[string]string{"phone": "+923001"}, nil), msg("msg_1", "923001")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetContact(ctx, "t", "ch", "923001"); err != nil || !stored("msg_1") {
		t.Fatalf("contact %v, message stored %v", err, stored("msg_1"))
	}
	page, err := ms.ListContactMessages(ctx, "t", "ch", "923001", 10, "")
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != "msg_1" {
		t.Fatalf("the contact's messages: %+v %v", page, err)
	}

	// The contact exists: nothing is written.
	err = s.CreateContactAndMessage(ctx, mk("t", "ch", "923001", 1, map[string]string{"phone": "+923001"}, nil), msg("msg_2", "923001"))
	if !apperr.Is(err, apperr.KindExists) || stored("msg_2") {
		t.Fatalf("existing contact: %v, message stored %v", err, stored("msg_2"))
	}
	written := false
	err = s.WithMessage(msg("msg_2", ""), &written).CreateContact(ctx, mk("t", "ch", "923001", 1, map[string]string{"phone": "+923001"}, nil))
	if !apperr.Is(err, apperr.KindExists) || written || stored("msg_2") {
		t.Fatalf("WithMessage on an existing contact: %v, written %v", err, written)
	}
	// The message exists (a repeated send): the contact is made alone.
	err = s.WithMessage(msg("msg_1", ""), &written).CreateContact(ctx, mk("t", "ch", "923002", 1, map[string]string{"phone": "+923002"}, nil))
	if err != nil || written {
		t.Fatalf("WithMessage with an existing message: %v, written %v", err, written)
	}
	if _, err := s.GetContact(ctx, "t", "ch", "923002"); err != nil {
		t.Fatal(err)
	}

	// At the contact limit: neither.
	s.MaxContacts = 2
	err = s.CreateContactAndMessage(ctx, mk("t", "ch", "923003", 1, map[string]string{"phone": "+923003"}, nil), msg("msg_3", "923003"))
	if e, ok := apperr.As(err); !ok || e.Field != "contacts_per_tenant" || stored("msg_3") {
		t.Fatalf("at the limit: %v, message stored %v", err, stored("msg_3"))
	}
	if _, err := s.GetContact(ctx, "t", "ch", "923003"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("the refused contact was written: %v", err)
	}
}
