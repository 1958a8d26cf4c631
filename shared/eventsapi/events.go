// Package eventsapi serves what bots and platforms report: POST /v1/events
// (a subscriber's collected field or event) and the Messenger webhooks (the
// subscription handshake and the signed event POSTs, which are stored for
// the Messenger intake, shared/messenger). Recording an event may parse a
// phone number: collect is started with wiring.WithPhone; the Messenger
// routes parse none.
package eventsapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contactapi"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/messenger"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// The handlers, one builder per function: a function binary links only
// its own handler (shared/registry lists them all by name).

// EventsCollect builds the handler of function events-collect.
func EventsCollect(p Ports) http.Handler {
	return httpapi.HandlerFunc(newAPI(p).collect)
}

// MessengerVerify builds the handler of function messenger-verify.
func MessengerVerify(p Ports) http.Handler { return messengerVerify(p) }

// MessengerReceive builds the handler of function messenger-receive.
func MessengerReceive(p Ports) http.Handler {
	return httpapi.HandlerFunc(newMessenger(p).receive)
}

// Ports are what these handlers need; shared/wiring provides them.
type Ports interface {
	ContactStore() contacts.Store
	TenancyStore() tenancy.Store
	// Phone is nil in the Messenger routes, which parse no phone numbers.
	Phone() contacts.PhoneNormalizer
	Clock() func() time.Time
	// MessengerInbox keeps verified Messenger webhook calls.
	MessengerInbox() messenger.Inbox
}

// API holds the handlers' service.
type API struct {
	svc *contacts.Service
}

func newAPI(p Ports) *API {
	return &API{svc: &contacts.Service{Store: p.ContactStore(), Phone: p.Phone(), Now: p.Clock()}}
}

// eventBody is what a bot reports it collected (POST /v1/events).
type eventBody struct {
	PSID          string          `json:"psid"`
	Field         string          `json:"field"`
	Value         json.RawMessage `json:"value"`
	PostbackID    string          `json:"postback_id"`
	WebviewFormID string          `json:"webview_form_id"`
	// Location is "lat,long" or {"lat":…, "long":…}.
	Location json.RawMessage `json:"location"`
}

// collect records a subscriber's collected field or event on the token's
// channel, creating the subscriber on first sight; the table's stream then
// fires the connections' triggers.
func (a *API) collect(w http.ResponseWriter, r *http.Request) error {
	var in eventBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	loc, err := location(in.Location)
	if err != nil {
		return err
	}
	c, err := a.svc.Collect(r.Context(), contactapi.Scope(r), strings.TrimSpace(in.PSID), contacts.Collected{
		Field: strings.TrimSpace(in.Field), Value: in.Value, PostbackID: in.PostbackID, WebviewFormID: in.WebviewFormID, Location: loc,
	})
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, Collected{ID: c.ID, PSID: c.ID})
	return nil
}

// Collected is POST /v1/events' data: the subscriber's contact ID, which is
// its PSID.
type Collected struct {
	ID   string `json:"id"`
	PSID string `json:"psid"`
}

func location(raw json.RawMessage) (string, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return "", nil
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return strings.TrimSpace(text), nil
	}
	var ll struct {
		Lat  *float64 `json:"lat"`
		Long *float64 `json:"long"`
	}
	if json.Unmarshal(raw, &ll) != nil || ll.Lat == nil || ll.Long == nil || *ll.Lat < -90 || *ll.Lat > 90 || *ll.Long < -180 || *ll.Long > 180 {
		return "", apperr.BadRequest(`location must be "lat,long" or {"lat":…,"long":…} with valid coordinates.`)
	}
	return fmt.Sprintf("%g,%g", *ll.Lat, *ll.Long), nil
}
