package adminapi

import (
	"net/http"

	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// WhatsAppPorts are what the WhatsApp credentials route needs.
type WhatsAppPorts interface {
	Ports
	WhatsAppStore() tenancy.WhatsAppStore
}

// AdminWhatsappSet builds the handler of function admin-whatsapp-set: PUT a
// WhatsApp channel's Cloud API credentials. The answer is the channel (its
// instance id, phone number id and WABA id); the access token, app secret
// and verify token are never shown again.
func AdminWhatsappSet(p WhatsAppPorts) http.Handler {
	a, wa := newAPI(p), p.WhatsAppStore()
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var in tenancy.WhatsAppInput
		if err := httpapi.DecodeJSON(r, &in, true); err != nil {
			return err
		}
		c, err := a.svc.SetWhatsApp(r.Context(), wa, httpapi.PathParam(r, "tenantId"), httpapi.PathParam(r, "channelId"), in)
		if err != nil {
			return err
		}
		httpapi.WriteData(w, http.StatusOK, c)
		return nil
	})
}
