package httpapi

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/routes"
)

// IDForm is the form of one kind of path parameter: what an ID of that kind
// can look like, and the answer an unknown one gets.
type IDForm struct {
	// Valid reports whether s could be an ID of this kind.
	Valid func(s string) bool
	// NotFound is the answer an unknown ID of this kind gets from its
	// handlers; an ID of the wrong form gets the very same answer, so the
	// form check tells a caller nothing the lookup would not.
	NotFound func(id string) error
}

// PathIDs maps every path parameter of the route table to its form. The
// middleware (Wrap) checks each parameter of a route here before the
// handler runs: nothing that could never be an ID reaches a store (DynamoDB
// refuses keys over 1,024 bytes with a 500-class error). A test fails when
// a route's path has a parameter this map does not know.
var PathIDs = map[string]IDForm{
	// Ours are 15 digits; a channel's own (a Messenger PSID, a Viber ID, a
	// psid given to /v1/events) is any printable text of at most 128 bytes
	// without "#"; on Viber channels the path carries it Base64-encoded
	// (at most 172 characters).
	"contactId": {Valid: contactIDForm, NotFound: notFound("Contact")},
	// Custom field IDs are the tenant's counter: decimal, no leading zero.
	"fieldId":      {Valid: decimalForm(10), NotFound: notFound("Contact field")},
	"connectionId": {Valid: prefixedForm("conn_"), NotFound: notFound("Connection")},
	// A Zapier hook is a connection made by Zapier.
	"hookId": {Valid: prefixedForm("conn_"), NotFound: notFound("Hook")},
	// Delivery (webhook) IDs: msg_ and 32 hex digits (router.DeliveryID)
	// or 16 base32 characters (test sends).
	"webhookId": {Valid: prefixedForm("msg_"), NotFound: func(id string) error {
		return apperr.New(apperr.KindNotFound, "No logged delivery %q on this connection (attempts are kept 7 days).", id)
	}},
	"deliveryId": {Valid: prefixedForm("msg_"), NotFound: notFound("Dead delivery")},
	// Tenancy IDs: a prefix and 16 base32 characters (tenancy.NewID);
	// the samples make run seeds use short names (ten_sample).
	"tenantId":  {Valid: prefixedForm("ten_"), NotFound: notFound("Tenant")},
	"channelId": {Valid: prefixedForm("ch_"), NotFound: notFound("Channel")},
	"tokenId":   {Valid: prefixedForm("tok_"), NotFound: notFound("Token")},
	// The panel's file names (shared/dashboard checks them again).
	"asset": {Valid: assetForm, NotFound: func(string) error { return ErrNotFound }},
	// Message IDs: msg_ and 16 base32 characters (tenancy.NewID).
	"messageId": {Valid: prefixedForm("msg_"), NotFound: notFound("Message")},
}

// MaxIDBytes bounds the text after an ID's prefix.
const MaxIDBytes = 64

func notFound(what string) func(string) error {
	return func(id string) error { return apperr.NotFound(what, id) }
}

// prefixedForm is prefix followed by 1 to MaxIDBytes lower-case letters
// and digits.
func prefixedForm(prefix string) func(string) bool {
	return func(s string) bool {
		rest, ok := strings.CutPrefix(s, prefix)
		if !ok || rest == "" || len(rest) > MaxIDBytes {
			return false
		}
		for i := 0; i < len(rest); i++ {
			if c := rest[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
				return false
			}
		}
		return true
	}
}

// decimalForm is 1 to n decimal digits without a leading zero.
func decimalForm(n int) func(string) bool {
	return func(s string) bool {
		if s == "" || len(s) > n || s[0] == '0' {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
}

// MaxContactIDParam is the longest {contactId}: a 128-byte ID in Base64.
const MaxContactIDParam = 172

func contactIDForm(s string) bool {
	if s == "" || len(s) > MaxContactIDParam || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == '#' || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// checkPathIDs answers the first path parameter of the route whose value
// is not of its kind's form, as an unknown ID of that kind is answered:
// on public routes (Messenger's webhooks) that is a bare "Not found.".
func checkPathIDs(params []string, auth routes.Auth, r *http.Request) error {
	for _, name := range params {
		form, ok := PathIDs[name]
		if !ok {
			continue // a test keeps the map complete
		}
		if v := PathParam(r, name); !form.Valid(v) {
			if auth == routes.AuthNone {
				return ErrNotFound
			}
			return form.NotFound(v)
		}
	}
	return nil
}

// assetForm is a file name of the panel's build: 1 to 100 letters, digits,
// "-", "_" and ".", not starting with a dot.
func assetForm(s string) bool {
	if s == "" || len(s) > 100 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}
