// Package flowapi serves seed 004's two forms of add_message ("MessageFlow"):
// `POST /add_message` (a JSON body) and `GET /webhook/add_message` (the same
// parameters in the query string, for tools that can only call a URL).
// The installation's UUID authenticates the call, as in the seed (an
// unknown one is 401); parameter names are matched case-insensitively. The
// message is queued for the installed sender (shared/installations), held
// until the next opening outside the allowed hours.
//
// Numbers are parsed here with the phone library (shared/phone): a local
// number with ToCountryCode is read in that code's country.
package flowapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/installations"
	"github.com/startmsg/chatbackend/shared/phone"
)

// Ports are what these handlers need; shared/wiring provides them.
type Ports interface {
	InstallationStore() installations.Store
	Clock() func() time.Time
}

// AddMessage builds the handler of function add-message (the JSON form).
func AddMessage(p Ports) http.Handler { return build(p, fromJSON) }

// WebhookAddMessage builds the handler of function webhook-add-message
// (the link form).
func WebhookAddMessage(p Ports) http.Handler { return build(p, fromQuery) }

func build(p Ports, read func(*http.Request) (installations.AddRequest, error)) http.Handler {
	svc := &installations.Service{Store: p.InstallationStore(), Now: p.Clock(), Phone: phone.NormalizeDialled}
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		req, err := read(r)
		if err != nil {
			return err
		}
		out, err := svc.Add(r.Context(), req)
		if errors.Is(err, installations.ErrUnauthorized) {
			return ErrUnknownUUID
		}
		if err != nil {
			return err
		}
		httpapi.WriteData(w, http.StatusOK, out)
		return nil
	})
}

// ErrUnknownUUID answers a UUID that is no installation's.
var ErrUnknownUUID = &httpapi.Error{Status: http.StatusUnauthorized, Message: "UUID is not a sender installation's: copy it from the installation's settings."}

// AddBody is the JSON form's body (for the OpenAPI document; names are
// matched case-insensitively, so toMobileNumber works too). Message is
// URL-encoded; values may also be JSON numbers.
type AddBody struct {
	UUID             string `json:"UUID"`
	ToMobileNumber   string `json:"ToMobileNumber"`
	ToCountryCode    string `json:"ToCountryCode,omitempty"`
	FromMobileNumber string `json:"FromMobileNumber,omitempty"`
	Message          string `json:"Message"`
	DownloadLink     string `json:"DownloadLink,omitempty"`
}

// The parameters, by lower-case name.
const (
	pUUID     = "uuid"
	pTo       = "tomobilenumber"
	pCountry  = "tocountrycode"
	pFrom     = "frommobilenumber"
	pMessage  = "message"
	pWap      = "wapmessage"
	pDownload = "downloadlink"
)

var known = map[string]string{pUUID: "UUID", pTo: "ToMobileNumber", pCountry: "ToCountryCode", pFrom: "FromMobileNumber",
	pMessage: "Message", pWap: "wapMessage", pDownload: "DownloadLink"}

// fromJSON reads the JSON form: an object of strings (or numbers); other
// keys are ignored.
func fromJSON(r *http.Request) (installations.AddRequest, error) {
	b, err := httpapi.ReadBody(r)
	if err != nil {
		return installations.AddRequest{}, err
	}
	var raw map[string]json.RawMessage
	if err := httpapi.Unmarshal(b, &raw, false); err != nil {
		return installations.AddRequest{}, err
	}
	vals := map[string]string{}
	for k, v := range raw {
		lk := strings.ToLower(k)
		name, ok := known[lk]
		if !ok {
			continue
		}
		if _, dup := vals[lk]; dup {
			return installations.AddRequest{}, apperr.Invalidf(name, "is given twice (names are matched without regard to case)")
		}
		s, err := scalar(v)
		if err != nil {
			return installations.AddRequest{}, apperr.Invalid(name, "must be a string")
		}
		vals[lk] = s
	}
	return request(vals, false)
}

// scalar is a JSON string's value, or a number's text.
func scalar(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil || strings.ContainsAny(string(n), ".eE-") {
		return "", errors.New("not a string")
	}
	return string(n), nil
}

// fromQuery reads the link form: the query string's parameters, names in
// any case; wapMessage (or Message) is decoded once, by the query string.
func fromQuery(r *http.Request) (installations.AddRequest, error) {
	vals := map[string]string{}
	for k, vs := range r.URL.Query() {
		lk := strings.ToLower(k)
		name, ok := known[lk]
		if !ok {
			continue
		}
		if _, dup := vals[lk]; dup || len(vs) > 1 {
			return installations.AddRequest{}, apperr.Invalidf(name, "is given twice (names are matched without regard to case)")
		}
		vals[lk] = vs[0]
	}
	return request(vals, true)
}

func request(vals map[string]string, decoded bool) (installations.AddRequest, error) {
	req := installations.AddRequest{
		UUID: vals[pUUID], ToMobileNumber: vals[pTo], ToCountryCode: vals[pCountry], FromMobileNumber: vals[pFrom],
		DownloadLink: vals[pDownload], Decoded: decoded,
	}
	m, hasM := vals[pMessage]
	wap, hasW := vals[pWap]
	switch {
	case hasM && hasW:
		return req, apperr.Invalid("Message", "give Message or wapMessage, not both")
	case hasW:
		req.Message, req.MessageField = wap, "wapMessage"
	default:
		req.Message, req.MessageField = m, "Message"
	}
	return req, nil
}
