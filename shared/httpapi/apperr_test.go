package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
)

// TestAppErrMapping: every apperr kind has its status, and its message is
// the envelope's message verbatim, wrapped or not.
func TestAppErrMapping(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		msg    string
	}{
		{"invalid", apperr.Invalid("custom_fields[0].name", "is required"), 400, "custom_fields[0].name: is required."},
		{"invalid, problem ending in a full stop", apperr.Invalid("limit", "must be at least 1."), 400, "limit: must be at least 1."},
		{"invalid, wrapped", fmt.Errorf("apply: %w", apperr.Invalidf("VIP", "must be TRUE or FALSE, not %q", "maybe")), 400, `VIP: must be TRUE or FALSE, not "maybe".`},
		{"bad request", apperr.BadRequest("page must be a whole number from 1, not %q.", "x"), 400, `page must be a whole number from 1, not "x".`},
		{"rejected", apperr.Rejected("url", "resolves to a private address."), 422, "url: resolves to a private address."},
		{"forbidden", apperr.Forbidden("This endpoint takes the account secret key, not a channel API token."), 403, "This endpoint takes the account secret key, not a channel API token."},
		{"not found", apperr.NotFound("Contact", "42"), 404, `Contact "42" not found.`},
		{"not found, no id", apperr.NotFound("Credential", ""), 404, "Credential not found."},
		{"not found, wrapped with a cause", fmt.Errorf("handler: %w", apperr.NotFound("Connection", "abc").Wrap(errors.New("ConditionalCheckFailed"))), 404, `Connection "abc" not found.`},
		{"exists", apperr.Exists("A contact field named %q already exists.", "Plan"), 409, `A contact field named "Plan" already exists.`},
		{"conflict", apperr.Conflict("contact"), 409, "The contact was changed by another request at the same time; retry."},
		{"too large", apperr.TooLarge("Request body is too large (max 256 KB)."), 413, "Request body is too large (max 256 KB)."},
		{"unavailable", apperr.Unavailable("The queue is not available; retry."), 503, "The queue is not available; retry."},
		{"http-level error", &httpapi.Error{Status: 429, Message: httpapi.MsgTooManyRequests}, 429, "Too many requests"},
		{"internal", errors.New("dynamodb: throttled"), 500, httpapi.MsgInternal},
		{"apperr of no kind is internal", &apperr.Error{Message: "secret detail"}, 500, httpapi.MsgInternal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			httpapi.WriteError(rec, httptest.NewRequest("GET", "/", nil), c.err)
			var body struct {
				Status  string `json:"status"`
				Message string `json:"message"`
				Data    []any  `json:"data"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if rec.Code != c.status || body.Status != "error" || body.Message != c.msg || body.Data == nil || len(body.Data) != 0 {
				t.Errorf("WriteError(%v) = %d %s, want %d %q", c.err, rec.Code, rec.Body, c.status, c.msg)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// TestStatusOfEveryKind: no kind but KindInternal answers 500 (no input
// may produce a 5xx except a dependency's unavailability).
func TestStatusOfEveryKind(t *testing.T) {
	want := map[apperr.Kind]int{
		apperr.KindInternal: 500, apperr.KindInvalid: 400, apperr.KindRejected: 422, apperr.KindForbidden: 403, apperr.KindNotFound: 404,
		apperr.KindExists: 409, apperr.KindConflict: 409, apperr.KindTooLarge: 413, apperr.KindUnavailable: 503,
	}
	for k, st := range want {
		if got := httpapi.StatusOf(k); got != st {
			t.Errorf("StatusOf(%s) = %d, want %d", k, got, st)
		}
	}
	if got := httpapi.StatusOf(apperr.Kind(200)); got != 500 {
		t.Errorf("unknown kind: %d", got)
	}
	if http.StatusText(httpapi.StatusOf(apperr.KindRejected)) != "Unprocessable Entity" {
		t.Error("KindRejected is not a 422")
	}
}
