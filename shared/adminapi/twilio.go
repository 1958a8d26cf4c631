package adminapi

import (
	"net/http"

	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// TwilioPorts are what the Twilio credentials route needs.
type TwilioPorts interface {
	Ports
	TwilioStore() tenancy.TwilioStore
}

// AdminTwilioSet builds the handler of function admin-twilio-set: PUT an
// SMS or voice channel's Twilio credentials (account SID, auth token, and
// the from number or, on SMS channels, a messaging service SID), checked
// (SID shapes, E.164 from) and stored encrypted, replacing the ones set
// before. The answer is the channel with its Twilio info; the auth token is
// never shown again.
func AdminTwilioSet(p TwilioPorts) http.Handler {
	a, tw := newAPI(p), p.TwilioStore()
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var in tenancy.TwilioInput
		if err := httpapi.DecodeJSON(r, &in, true); err != nil {
			return err
		}
		c, err := a.svc.SetTwilio(r.Context(), tw, httpapi.PathParam(r, "tenantId"), httpapi.PathParam(r, "channelId"), in)
		if err != nil {
			return err
		}
		httpapi.WriteData(w, http.StatusOK, c)
		return nil
	})
}
