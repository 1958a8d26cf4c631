// Package twhook takes Twilio's status callbacks: the statuses of the SMS
// and calls the sender asked Twilio for on sms and voice channels, posted
// to the channel's own route (POST /v1/webhooks/twilio/{tenantId}/
// {channelId}, the URL the sender gives Twilio as StatusCallback). Each
// call is checked against the channel's auth token (X-Twilio-Signature)
// and moves its message forward (never back) at once: a callback carries
// one status, so there is no inbox to fan out as WhatsApp's webhook has.
package twhook

import (
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// TwilioStatus builds the handler of function twilio-status.
func TwilioStatus(p Ports) http.Handler {
	h := &handler{lookup: p.TwilioLookup(), store: p.TwilioMessages(), now: p.Clock()}
	return httpapi.HandlerFunc(h.receive)
}

// Lookup reads a channel's Twilio credentials (tenancy.TwilioStore's
// read): the auth token that signs its callbacks.
type Lookup interface {
	TwilioCredentials(ctx context.Context, tenantID, channelID string) (tenancy.TwilioCredentials, error)
}

// MessageStore moves messages by the provider's id of them
// (ddbstore.Messages).
type MessageStore interface {
	// ApplyProviderStatus moves the channel's message that the provider
	// knows by providerID forward to st (kind: the channel's kind), or
	// keeps st until the sender records the message sent; a message of
	// another channel is an apperr.KindNotFound.
	ApplyProviderStatus(ctx context.Context, kind, tenantID, channelID, providerID string, st messages.Status, at time.Time, f *messages.Failure) error
}

// Ports are what the handler needs; shared/wiring provides them.
type Ports interface {
	TwilioLookup() Lookup
	TwilioMessages() MessageStore
	Clock() func() time.Time
}

// TwilioAck is the answer to a status callback.
type TwilioAck struct {
	Status string `json:"status"`
}

type handler struct {
	lookup Lookup
	store  MessageStore
	now    func() time.Time
}

// errSignature is the answer to a call that is not the channel's: a wrong
// or missing signature, or a channel without Twilio credentials (the same
// answer, so that it does not tell which channels exist).
var errSignature = apperr.Forbidden("X-Twilio-Signature does not match the channel's Twilio auth token.")

// receive checks a callback and applies its status. Nothing is written
// unless the signature matches. A status we do not know, one of a message
// of another channel, or one that is no step forward is answered 200 and
// changes nothing; a store failure is a 5xx, which Twilio records (and,
// with its retry settings, retries).
func (h *handler) receive(w http.ResponseWriter, r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" {
		return apperr.BadRequest("Content-Type must be application/x-www-form-urlencoded (a Twilio status callback), not %q.", ct)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, httpapi.MaxBodyBytes+1))
	if err != nil {
		return apperr.BadRequest("Could not read the request body.")
	}
	if len(body) > httpapi.MaxBodyBytes {
		return apperr.TooLarge("Request body is too large (max 256 KB).")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return apperr.BadRequest("The body is not form-encoded: %s.", err)
	}
	ctx := r.Context()
	tenantID, channelID := httpapi.PathParam(r, "tenantId"), httpapi.PathParam(r, "channelId")
	cr, err := h.lookup.TwilioCredentials(ctx, tenantID, channelID)
	if apperr.Is(err, apperr.KindNotFound) {
		return errSignature
	} else if err != nil {
		return err
	}
	pub := httpapi.PublicURL(r)
	if !Valid(cr.AuthToken.Reveal(), CallbackURLs(pub.String(), r.URL.RawQuery), form, r.Header.Get("X-Twilio-Signature")) {
		return errSignature
	}
	u, ok := Parse(form)
	if !ok {
		return apperr.BadRequest("A status callback names a message (MessageSid, MessageStatus) or a call (CallSid, CallStatus).")
	}
	if u.Status == "" {
		slog.InfoContext(ctx, "twilio status ignored", "tenant", tenantID, "channel", channelID, "sid", u.SID, "status", u.Twilio)
		httpapi.WriteJSON(w, http.StatusOK, TwilioAck{Status: "success"})
		return nil
	}
	at := u.At
	if at.IsZero() {
		at = h.now()
	}
	err = h.store.ApplyProviderStatus(ctx, string(u.Kind), tenantID, channelID, u.SID, u.Status, at, u.Failure)
	switch {
	case apperr.Is(err, apperr.KindNotFound):
		// Another channel's message: nothing of this channel to move.
		slog.WarnContext(ctx, "twilio status of no message of the channel", "tenant", tenantID, "channel", channelID, "sid", u.SID, "status", u.Twilio)
	case err != nil:
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, TwilioAck{Status: "success"})
	return nil
}
