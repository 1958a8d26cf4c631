package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/router"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Every path parameter of the route table has a form.
func TestPathIDsCoverTheRouteTable(t *testing.T) {
	for _, r := range routes.Table {
		for _, p := range r.PathParams() {
			if _, ok := httpapi.PathIDs[p]; !ok {
				t.Errorf("%s %s: parameter {%s} has no form in httpapi.PathIDs", r.Method, r.Path, p)
			}
		}
	}
}

// The IDs the system makes, and the samples', are of their kind's form.
func TestPathIDsAcceptWhatTheSystemMakes(t *testing.T) {
	longPSID := strings.Repeat("9", 128)
	valid := map[string][]string{
		"contactId":    {contacts.NewContactID(), "100000000000042", "4410020001", longPSID, base64.StdEncoding.EncodeToString([]byte(longPSID)), "a+b/c=="},
		"fieldId":      {"1", "77", "500", "4294967295"},
		"connectionId": {tenancy.NewID("conn"), "conn_sample"},
		"hookId":       {tenancy.NewID("conn")},
		"webhookId":    {router.DeliveryID("49039552664", "conn_x", connections.Trigger("email")), tenancy.NewID("msg")},
		"deliveryId":   {router.DeliveryID("1", "conn_y", connections.Trigger("phone")), tenancy.NewID("msg")},
		"tenantId":     {tenancy.NewID("ten"), "ten_sample"},
		"channelId":    {tenancy.NewID("ch"), "ch_sample"},
		"tokenId":      {tenancy.NewID("tok"), "tok_sample"},
	}
	invalid := map[string][]string{
		"contactId":    {"", strings.Repeat("1", 1020), "a#b", "a\x00b", "a\nb", "\xff", strings.Repeat("a", httpapi.MaxContactIDParam+1)},
		"fieldId":      {"", "0", "01", "x", "-1", "1.5", strings.Repeat("1", 11)},
		"connectionId": {"", "conn_", "conn_ABC", "ten_abc", "conn_a/b", "conn_" + strings.Repeat("a", httpapi.MaxIDBytes+1)},
		"hookId":       {"x", strings.Repeat("1", 1020)},
		"webhookId":    {"", "msg_", "conn_abc", "msg_a-b"},
		"deliveryId":   {"x", "msg_" + strings.Repeat("a", 1020)},
		"tenantId":     {"", "ten", "ten_", "TEN_ABC", "ch_abc", "ten_a b"},
		"channelId":    {"ten_abc", "ch_é"},
		"tokenId":      {"tok_\x00"},
	}
	for param, ids := range valid {
		for _, id := range ids {
			if !httpapi.PathIDs[param].Valid(id) {
				t.Errorf("{%s} refuses %q", param, id)
			}
		}
	}
	for param, ids := range invalid {
		for _, id := range ids {
			if httpapi.PathIDs[param].Valid(id) {
				t.Errorf("{%s} accepts %.40q", param, id)
			}
		}
	}
}

// An ID of the wrong form never reaches the handler: it is answered as an
// unknown ID of its kind is (a 404 in the envelope), on every route.
func TestWrapAnswersMalformedIDsAsUnknown(t *testing.T) {
	long := strings.Repeat("1", 1020)
	for _, r := range routes.Table {
		params := r.PathParams()
		if len(params) == 0 {
			continue
		}
		t.Run(r.Function, func(t *testing.T) {
			p := noPrincipal
			switch r.Auth {
			case routes.AuthChannel, routes.AuthChannelQuery:
				p = channelPrincipal
			case routes.AuthAccount, routes.AuthChannelOrAccount:
				p = accountPrincipal
			case routes.AuthAdmin:
				p = adminPrincipal
			}
			values := map[string]string{}
			for _, name := range params {
				values[name] = long
			}
			req := httptest.NewRequest(r.Method, "/", nil)
			req = req.WithContext(httpapi.WithPathParams(httpapi.WithPrincipal(req.Context(), p), values))
			rec := httptest.NewRecorder()
			called := false
			httpapi.Wrap(r, allowingLimiter(), clock, okHandler(&called)).ServeHTTP(rec, req)
			if called || rec.Code != http.StatusNotFound {
				t.Fatalf("called %v, status %d: %s", called, rec.Code, rec.Body)
			}
			var env struct {
				Status, Message string
				Data            []any
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Status != "error" || env.Data == nil ||
				!strings.HasSuffix(strings.ToLower(env.Message), "not found.") && !strings.Contains(env.Message, "No logged delivery") {
				t.Fatalf("not the unknown-ID answer: %s", rec.Body)
			}
			if r.Auth == routes.AuthNone && env.Message != httpapi.MsgNotFound {
				t.Fatalf("a public route must answer %q: %s", httpapi.MsgNotFound, rec.Body)
			}
		})
	}
}
