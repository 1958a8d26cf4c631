package ddbstore

import (
	"context"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/messages"
)

// ApplyProviderStatus moves the outbound message that tenantID's channel
// channelID sent through a provider (kind: the channel's kind, whatsapp,
// sms, voice), known to it by providerID, forward to st at at (f: why it
// failed). A status that comes before the sender recorded the message
// sent (no pointer from providerID yet) is kept as an early status, which
// the sender's sent write applies (RecordEarlyStatus): no status is lost.
// A message of another tenant or channel is an apperr.KindNotFound, and a
// status that is no step forward changes nothing.
func (s *Messages) ApplyProviderStatus(ctx context.Context, kind, tenantID, channelID, providerID string, st messages.Status, at time.Time, f *messages.Failure) error {
	owner, id, err := s.MessageByProviderID(ctx, kind, providerID)
	if apperr.Is(err, apperr.KindNotFound) {
		// The sender recorded it meanwhile (or the read above was stale):
		// the pointer, read again, names the message.
		var kept bool
		kept, owner, id, err = s.RecordEarlyStatus(ctx, kind, providerID, tenantID, channelID, st, at, f)
		if err != nil || kept {
			return err
		}
	}
	if err != nil {
		return err
	}
	if owner != tenantID {
		return apperr.NotFound("Message", providerID)
	}
	m, err := s.GetMessage(ctx, tenantID, id)
	if err != nil {
		return err
	}
	if m.ChannelID != channelID {
		return apperr.NotFound("Message", providerID)
	}
	_, _, err = s.UpdateStatus(ctx, tenantID, id, st, at, f)
	return err
}
