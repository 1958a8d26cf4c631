package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/httpapi"
)

// decodeEnvelope asserts rec holds the error envelope with status and
// message, as application/json.
func decodeEnvelope(t *testing.T, rec *httptest.ResponseRecorder, status int, message string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var env map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	want := map[string]any{"status": "error", "message": message, "data": []any{}}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("envelope %v, want %v", env, want)
	}
}

func TestErrorBody(t *testing.T) {
	got := string(httpapi.ErrorBody(`say "hi" <now>`))
	if got != `{"status":"error","message":"say \"hi\" \u003cnow\u003e","data":[]}` {
		t.Fatalf("ErrorBody = %s", got)
	}
}

func TestWriteError(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		status  int
		message string
		headers http.Header
	}{
		{"client error", httpapi.Errorf(http.StatusBadRequest, "Field %q is bad.", "x"), 400, `Field "x" is bad.`, nil},
		{"invalid token", httpapi.ErrInvalidToken, 401, "API Token is invalid.", nil},
		{"not found", httpapi.ErrNotFound, 404, "Not found.", nil},
		{"extra headers", &httpapi.Error{Status: http.StatusTooManyRequests, Message: "Too many requests", Header: http.Header{"Retry-After": {"7"}, "X-Multi": {"a", "b"}}},
			429, "Too many requests", http.Header{"Retry-After": {"7"}, "X-Multi": {"a", "b"}}},
		{"405 with Allow", &httpapi.Error{Status: http.StatusMethodNotAllowed, Message: httpapi.MsgMethodNotAllowed, Header: http.Header{"Allow": {"GET, POST"}}},
			405, "405 Method Not Allowed.", http.Header{"Allow": {"GET, POST"}}},
		{"wrapped *Error keeps its status", fmt.Errorf("create: %w", httpapi.Errorf(http.StatusConflict, "Already exists.")), 409, "Already exists.", nil},
		{"plain error is a generic 500", errors.New("dynamodb: secret table arn:aws:dynamodb:eu-west-1:1:table/x throttled"), 500, "Internal server error.", nil},
		{"wrapped plain error is a generic 500", fmt.Errorf("store: %w", errors.New("boom")), 500, "Internal server error.", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			httpapi.WriteError(rec, httptest.NewRequest(http.MethodGet, "/v1/me", nil), c.err)
			decodeEnvelope(t, rec, c.status, c.message)
			for k, vs := range c.headers {
				if got := rec.Header().Values(k); !reflect.DeepEqual(got, vs) {
					t.Fatalf("header %s = %q, want %q", k, got, vs)
				}
			}
			if c.status == 500 && (strings.Contains(rec.Body.String(), "dynamodb") || strings.Contains(rec.Body.String(), "boom")) {
				t.Fatalf("500 leaks the error: %s", rec.Body)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	if got := httpapi.Errorf(404, "No contact %d.", 7).Error(); got != "404 No contact 7." {
		t.Fatalf("Error() = %q", got)
	}
}

func TestHandlerFunc(t *testing.T) {
	ok := httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		httpapi.WriteSuccess(w, "Done.")
		return nil
	})
	rec := httptest.NewRecorder()
	ok.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 200 || rec.Body.String() != `{"status":"success","message":"Done.","data":[]}` {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}

	failing := httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return httpapi.Errorf(http.StatusUnprocessableEntity, "Nope.")
	})
	rec = httptest.NewRecorder()
	failing.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	decodeEnvelope(t, rec, 422, "Nope.")
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	httpapi.WriteJSON(rec, http.StatusCreated, map[string]int{"a": 1})
	if rec.Code != 201 || rec.Body.String() != `{"a":1}` || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q %q", rec.Code, rec.Body, rec.Header())
	}
	rec = httptest.NewRecorder()
	httpapi.WriteJSON(rec, http.StatusOK, map[string]any{"f": func() {}})
	decodeEnvelope(t, rec, 500, "Internal server error.")
}

func TestPrincipalAndPathParams(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if p := httpapi.CallerOf(r); p != (httpapi.Principal{}) {
		t.Fatalf("no principal: %+v", p)
	}
	if v := httpapi.PathParam(r, "id"); v != "" {
		t.Fatalf("no params: %q", v)
	}
	p := httpapi.Principal{Kind: "channel", TenantID: "ten_a", ChannelID: "ch_b", CredentialID: "tok_c"}
	ctx := httpapi.WithPathParams(httpapi.WithPrincipal(r.Context(), p), map[string]string{"id": "42"})
	r = r.WithContext(ctx)
	if got := httpapi.CallerOf(r); got != p {
		t.Fatalf("CallerOf = %+v", got)
	}
	if got := httpapi.PathParam(r, "id"); got != "42" {
		t.Fatalf("PathParam = %q", got)
	}
	if got := httpapi.PathParam(r, "other"); got != "" {
		t.Fatalf("PathParam(other) = %q", got)
	}
}
