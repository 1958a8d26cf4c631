package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
)

type decodeTarget struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
	Sub   struct {
		On bool `json:"on"`
	} `json:"sub"`
}

// asError asserts that err is a client error (an *apperr.Error with a
// kind) answered with the given status and a message containing every
// fragment.
func asError(t *testing.T, err error, status int, fragments ...string) *httpapi.Error {
	t.Helper()
	if _, ok := apperr.As(err); !ok {
		t.Fatalf("err = %v (%T), want *apperr.Error", err, err)
	}
	e, ok := httpapi.AsHTTP(err)
	if !ok {
		t.Fatalf("err = %v (%T) answers 500", err, err)
	}
	if e.Status != status {
		t.Fatalf("status = %d, want %d (message %q)", e.Status, status, e.Message)
	}
	if e.Message == "" {
		t.Fatal("empty message")
	}
	for _, f := range fragments {
		if !strings.Contains(e.Message, f) {
			t.Fatalf("message %q does not contain %q", e.Message, f)
		}
	}
	return e
}

func TestUnmarshalErrors(t *testing.T) {
	cases := []struct {
		name      string
		body      string
		closed    bool
		fragments []string
	}{
		{"empty", "", true, []string{"empty"}},
		{"whitespace only", " \n\t\r ", true, []string{"empty"}},
		{"syntax error names the offset", `{"name": x}`, true, []string{"Malformed JSON at byte 10", "invalid character 'x'"}},
		{"syntax error in key", `{x}`, true, []string{"Malformed JSON at byte 2"}},
		{"truncated", `{"name":`, true, []string{"Malformed JSON", "ends too early"}},
		{"truncated literal", `nul`, true, []string{"ends too early"}},
		{"unknown field on a closed contract", `{"name":"a","colour":"red"}`, true, []string{`Unknown field "colour"`}},
		{"wrong type names the field", `{"name":1}`, false, []string{`Field "name"`, "a string", "number"}},
		{"wrong type of a nested field", `{"sub":{"on":"yes"}}`, false, []string{`Field "sub.on"`, "a boolean", "string"}},
		{"wrong type of an array field", `{"tags":"a"}`, false, []string{`Field "tags"`, "an array", "string"}},
		{"wrong type of an array element", `{"tags":[1]}`, false, []string{`Field "tags`, "a string", "number"}},
		{"number for a struct field object", `{"sub":3}`, false, []string{`Field "sub"`, "an object"}},
		{"array body for an object", `[1,2]`, false, []string{"Request body must be", "object", "array"}},
		{"string body for an object", `"hi"`, false, []string{"Request body must be", "object", "string"}},
		{"trailing value", `{"name":"a"} {"name":"b"}`, true, []string{"unexpected data after the JSON value"}},
		{"trailing garbage", `{"name":"a"} x`, true, []string{"unexpected data after the JSON value"}},
		{"trailing close brace", `{"name":"a"}}`, true, []string{"unexpected data after the JSON value"}},
		{"trailing close bracket", `{"name":"a"}]`, true, []string{"unexpected data after the JSON value"}},
		{"byte order mark", "\xef\xbb\xbf{}", true, []string{"Malformed JSON at byte 1"}},
		{"null", `null`, true, []string{"null"}},
		{"null among whitespace", " null\n", false, []string{"null"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dst decodeTarget
			asError(t, httpapi.Unmarshal([]byte(c.body), &dst, c.closed), http.StatusBadRequest, c.fragments...)
		})
	}
}

func TestUnmarshalAccepts(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		closed bool
		want   decodeTarget
	}{
		{"object", `{"name":"a","count":2,"tags":["x"]}`, true, decodeTarget{Name: "a", Count: 2, Tags: []string{"x"}}},
		{"surrounding whitespace", "\n  {\"name\":\"a\"}  \n", true, decodeTarget{Name: "a"}},
		{"unknown field on an open contract", `{"name":"a","colour":"red"}`, false, decodeTarget{Name: "a"}},
		{"empty object", `{}`, true, decodeTarget{}},
		{"field names match case-insensitively", `{"NAME":"a"}`, true, decodeTarget{Name: "a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dst decodeTarget
			if err := httpapi.Unmarshal([]byte(c.body), &dst, c.closed); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dst, c.want) {
				t.Fatalf("decoded %+v, want %+v", dst, c.want)
			}
		})
	}
}

func jsonRequest(body []byte, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/x", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// bodyOfSize returns a valid JSON object of exactly n bytes.
func bodyOfSize(n int) []byte {
	const head, tail = `{"name":"`, `"}`
	return []byte(head + strings.Repeat("a", n-len(head)-len(tail)) + tail)
}

func TestReadBodyContentType(t *testing.T) {
	cases := []struct {
		ct string
		ok bool
	}{
		{"", true},
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON", true},
		{"application/vnd.api+json", true},
		{"application/problem+json; charset=utf-8", true},
		{"text/plain", false},
		{"application/x-www-form-urlencoded", false},
		{"multipart/form-data; boundary=x", false},
		{"application/jsonx", false},
		{"application/json-patch", false},
		{"not a media type;;", false},
	}
	for _, c := range cases {
		t.Run(c.ct, func(t *testing.T) {
			b, err := httpapi.ReadBody(jsonRequest([]byte(`{}`), c.ct))
			if c.ok {
				if err != nil || string(b) != `{}` {
					t.Fatalf("ReadBody = %q, %v", b, err)
				}
				return
			}
			asError(t, err, http.StatusBadRequest, "Content-Type must be application/json", c.ct)
		})
	}
}

func TestReadBodySize(t *testing.T) {
	if httpapi.MaxBodyBytes != 256*1024 {
		t.Fatalf("MaxBodyBytes = %d, want 256 KiB", httpapi.MaxBodyBytes)
	}
	exact := bodyOfSize(httpapi.MaxBodyBytes)
	b, err := httpapi.ReadBody(jsonRequest(exact, "application/json"))
	if err != nil || len(b) != httpapi.MaxBodyBytes {
		t.Fatalf("exactly 256 KiB: len %d, err %v", len(b), err)
	}
	var dst decodeTarget
	if err := httpapi.DecodeJSON(jsonRequest(exact, "application/json"), &dst, true); err != nil || len(dst.Name) != httpapi.MaxBodyBytes-11 {
		t.Fatalf("DecodeJSON of exactly 256 KiB: %v", err)
	}

	over := bodyOfSize(httpapi.MaxBodyBytes + 1)
	_, err = httpapi.ReadBody(jsonRequest(over, "application/json"))
	asError(t, err, http.StatusRequestEntityTooLarge, "too large")
	asError(t, httpapi.DecodeJSON(jsonRequest(over, ""), &dst, true), http.StatusRequestEntityTooLarge, "too large")
}

type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestReadBodyReadFailure(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/x", io.NopCloser(failingBody{}))
	_, err := httpapi.ReadBody(r)
	e := asError(t, err, http.StatusBadRequest, "Could not read")
	if strings.Contains(e.Message, "connection reset") {
		t.Fatalf("message leaks the read error: %q", e.Message)
	}
}

func TestDecodeJSON(t *testing.T) {
	cases := []struct {
		name      string
		body      string
		ct        string
		status    int
		fragments []string
	}{
		{"ok", `{"name":"a"}`, "application/json; charset=utf-8", 0, nil},
		{"ok without content type", `{"name":"a"}`, "", 0, nil},
		{"ok vnd+json", `{"name":"a"}`, "application/vnd.api+json", 0, nil},
		{"wrong content type wins over a good body", `{"name":"a"}`, "text/plain", 400, []string{"Content-Type"}},
		{"empty body", ``, "application/json", 400, []string{"empty"}},
		{"malformed", `{"name":}`, "application/json", 400, []string{"Malformed JSON at byte"}},
		{"unknown field", `{"nom":"a"}`, "application/json", 400, []string{`Unknown field "nom"`}},
		{"wrong type", `{"count":"2"}`, "application/json", 400, []string{`Field "count"`, "a whole number"}},
		{"trailing data", `{"name":"a"}[]`, "application/json", 400, []string{"unexpected data"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dst decodeTarget
			err := httpapi.DecodeJSON(jsonRequest([]byte(c.body), c.ct), &dst, true)
			if c.status == 0 {
				if err != nil || dst.Name != "a" {
					t.Fatalf("DecodeJSON = %+v, %v", dst, err)
				}
				return
			}
			asError(t, err, c.status, c.fragments...)
		})
	}
}

// FuzzUnmarshal: every input is either refused with a 400 *Error that says
// something, or accepted; what is accepted is valid JSON, and decoding into a
// map agrees exactly with json.Unmarshal (which also refuses trailing data).
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		``, ` `, `{}`, `null`, `[]`, `1`, `"s"`, `true`,
		`{"name":"a","count":2,"tags":["x","y"],"sub":{"on":true}}`,
		`{"name":1}`, `{"count":1.5}`, `{"count":1e400}`, `{"x":1e400}`,
		`{"name":"a"} {}`, `{"name":"a"}}`, `{"name":"a"}]`, `{"name":"a"} x`,
		`{"a":`, `{"a"`, `{`, `nul`, `{x}`, "\xef\xbb\xbf{}", `{"a":"\ud800"}`, "{\"a\":\"\xff\"}",
		`{"a":1,"a":2}`, `[[[[[[[[[[]]]]]]]]]]`, `{"colour":"red"}`, `{"NAME":"a"}`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, closed bool) {
		check := func(err error) bool {
			if err == nil {
				if !json.Valid(b) {
					t.Fatalf("accepted invalid JSON %q", b)
				}
				return true
			}
			e, ok := httpapi.AsHTTP(err)
			if !ok {
				t.Fatalf("%q: err %v (%T) is not a client error", b, err, err)
			}
			if e.Status != http.StatusBadRequest || strings.TrimSpace(e.Message) == "" {
				t.Fatalf("%q: got %d %q, want 400 with a message", b, e.Status, e.Message)
			}
			return false
		}

		var m map[string]any
		ok := check(httpapi.Unmarshal(b, &m, closed))
		var want map[string]any
		stdErr := json.Unmarshal(b, &want)
		// Beyond encoding/json, Unmarshal refuses a null body and strings
		// that are not UTF-8 or hold a NUL (which it would store changed).
		ownRule := stdErr == nil && (want == nil || !textIntact(want))
		if ok != (stdErr == nil) && !(ownRule && !ok) {
			t.Fatalf("%q: Unmarshal ok=%v, json.Unmarshal err=%v", b, ok, stdErr)
		}
		if ok && !reflect.DeepEqual(m, want) {
			t.Fatalf("%q: decoded %#v, json.Unmarshal %#v", b, m, want)
		}

		var s decodeTarget
		check(httpapi.Unmarshal(b, &s, closed))
	})
}
