package contract

import (
	"net/http"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		method, path, fn string
		known            bool
	}{
		{"GET", "/v1/me", "me", true},
		{"GET", "/api/v1/me/", "me", true},
		{"GET", "/v1/hooks/sample", "hook-sample", true},
		{"DELETE", "/v1/hooks/h1", "hook-unsubscribe", true},
		{"DELETE", "/v1/hooks/sample", "", true}, // the literal resource wins: 405
		{"POST", "/v1/me", "", true},
		{"GET", "/v1/nope", "", false},
		{"GET", "/v1/contact/", "", true}, // POST only: 405
		{"POST", "/v1/connections/c1/activity/w1/replay", "connection-replay", true},
	} {
		r, ok, known := Match(c.method, c.path)
		if r.Function != c.fn || ok != (c.fn != "") || known != c.known {
			t.Errorf("Match(%s %s) = %s %v %v, want %s %v", c.method, c.path, r.Function, ok, known, c.fn, c.known)
		}
	}
}

func TestCheck(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	js := http.Header{"Content-Type": {"application/json"}}
	errBody := `{"status":"error","message":"API Token is invalid.","data":[]}`
	for _, tc := range []struct {
		name, method, path string
		status             int
		header             http.Header
		body, wantErr      string
	}{
		{"replay answers 202", "POST", "/v1/connections/c1/activity/w1/replay", 202, js, `{"data":{"queued":true,"webhook_id":"w1"}}`, ""},
		{"replay does not answer 200", "POST", "/v1/connections/c1/activity/w1/replay", 200, js, `{"data":{"queued":true,"webhook_id":"w1"}}`, "does not declare"},
		{"a missing property", "POST", "/v1/connections/c1/activity/w1/replay", 202, js, `{"data":{"queued":true}}`, "does not match"},
		{"an undocumented property", "GET", "/v1/contact/1", 200, js,
			`{"data":{"created_at":1,"custom_fields":{},"id":"1","opportunity":false,"tags":[],"updated_at":1,"extra":1}}`, "does not match"},
		{"hook sample is an array", "GET", "/v1/hooks/sample", 200, js, `[{"psid":"1"}]`, ""},
		{"hook sample is not an object", "GET", "/v1/hooks/sample", 200, js, `{"psid":"1"}`, "does not match"},
		{"error envelope", "GET", "/v1/me", 401, js, errBody, ""},
		{"error envelope with data", "GET", "/v1/me", 401, js, `{"status":"error","message":"x","data":[1]}`, "does not match"},
		{"an error the route cannot give", "GET", "/v1/me", 409, js, errBody, "does not declare"},
		{"unknown path", "GET", "/v1/nope", 404, js, errBody, ""},
		{"unknown path answering 200", "GET", "/v1/nope", 200, js, `{}`, "must answer 404"},
		{"another method", "PATCH", "/v1/me", 405, js, `{"status":"error","message":"405 Method Not Allowed.","data":[]}`, ""},
		{"public route has no 401", "GET", "/openapi.json", 401, js, errBody, "does not declare"},
		{"text answer", "GET", "/v1/webhooks/messenger/t1/c1", 200, http.Header{"Content-Type": {"text/plain"}}, "challenge", ""},
		{"wrong content type", "GET", "/v1/me", 401, http.Header{"Content-Type": {"text/html"}}, errBody, "Content-Type"},
	} {
		err := c.Check(tc.method, tc.path, tc.status, tc.header, []byte(tc.body))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.wantErr)
		}
	}
}
