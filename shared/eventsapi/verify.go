package eventsapi

import (
	"crypto/subtle"
	"net/http"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// MessengerChannel is the Messenger channel a webhook route names
// ({tenantId}/{channelId}); anything else is a 404.
func MessengerChannel(r *http.Request, ten tenancy.Store) (tenancy.Channel, error) {
	ch, err := ten.GetChannel(r.Context(), httpapi.PathParam(r, "tenantId"), httpapi.PathParam(r, "channelId"))
	if err != nil || ch.Kind != tenancy.Messenger {
		return tenancy.Channel{}, httpapi.ErrNotFound
	}
	return ch, nil
}

// messengerVerify answers Messenger's subscription handshake with
// hub.challenge. (Its function parses no phone numbers: it is started
// without wiring.WithPhone.)
func messengerVerify(p Ports) http.Handler {
	ten := p.TenancyStore()
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		ch, err := MessengerChannel(r, ten)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		if q.Get("hub.mode") != "subscribe" || ch.VerifyToken == "" ||
			subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(ch.VerifyToken)) != 1 {
			return apperr.Forbidden("hub.mode must be subscribe and hub.verify_token the channel's verify token.")
		}
		// The challenge is the caller's text: nosniff keeps a browser from
		// reading it as anything but plain text.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write([]byte(q.Get("hub.challenge")))
		return nil
	})
}
