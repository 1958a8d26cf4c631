package contactinputapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/startmsg/chatbackend/shared/contactapi"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
)

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
		return contactapi.MapErr(err)
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
		return "", httpapi.Errorf(http.StatusBadRequest, `location must be "lat,long" or {"lat":…,"long":…} with valid coordinates.`)
	}
	return fmt.Sprintf("%g,%g", *ll.Lat, *ll.Long), nil
}
