package apidoc

import (
	"net/http"

	"github.com/startmsg/chatbackend/shared/twhook"
)

// Twilio's status callbacks: a form-encoded body (Twilio's parameters),
// answered like the other providers' webhooks.
func init() {
	Ops["twilio-status"] = Op{Response: typeOf[twhook.TwilioAck](), Errors: []int{http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge},
		ResponseExample: `{"status":"success"}`}
}
