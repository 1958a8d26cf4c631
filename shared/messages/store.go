package messages

import (
	"context"
	"time"
)

// Store keeps messages (ddbstore.Messages). Errors are apperr kinds.
type Store interface {
	// CreateMessage stores a new message; its stream record hands an
	// outbound queued message to the sender (through the trigger router and
	// the outbox queue).
	CreateMessage(ctx context.Context, m Message) error
	// GetMessage reads one message of a tenant (not found: apperr).
	GetMessage(ctx context.Context, tenantID, id string) (Message, error)
	// ListContactMessages lists a channel contact's messages, newest first,
	// from cursor on ("" for the first page); Next is "" on the last page.
	ListContactMessages(ctx context.Context, tenantID, channelID, contactID string, limit int, cursor string) (Page, error)
	// ListChannelMessages lists a channel's messages (both directions),
	// newest first, from cursor on ("" for the first page).
	ListChannelMessages(ctx context.Context, tenantID, channelID string, limit int, cursor string) (Page, error)
	// LastInbound is when the contact at address (E.164) last wrote to the
	// channel, Unix ms (0: never, or longer ago than the window's record
	// is kept).
	LastInbound(ctx context.Context, tenantID, channelID, address string) (int64, error)
	// RecordInbound notes that the contact at address wrote to the channel
	// at t (the provider's inbound webhook calls it); an older time never
	// replaces a newer one.
	RecordInbound(ctx context.Context, tenantID, channelID, address string, t time.Time) error
	// UpdateStatus moves a message to status s at t if that is a step
	// forward (Advances); changed is false when it is not, and the message
	// is as stored.
	UpdateStatus(ctx context.Context, tenantID, id string, s Status, t time.Time, f *Failure) (m Message, changed bool, err error)
	// UpdateStatusByProviderID is UpdateStatus for a provider's status
	// callback: the message is found by the provider's id of it (kind: the
	// channel kind, e.g. whatsapp; providerID: the wamid).
	UpdateStatusByProviderID(ctx context.Context, kind, providerID string, s Status, t time.Time, f *Failure) (m Message, changed bool, err error)
}

// Page is one page of a listing.
type Page struct {
	Items []Message
	Next  string
}

// ClaimedError is a sender's claim on a message refused because another
// sender holds a live one: Until is when that claim's lease ends.
type ClaimedError struct{ Until time.Time }

func (e *ClaimedError) Error() string {
	return "message claimed by another sender until " + e.Until.UTC().Format(time.RFC3339Nano)
}
