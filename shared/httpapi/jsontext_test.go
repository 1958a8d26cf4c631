package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/httpapi"
)

// Strings that encoding/json would store changed (invalid UTF-8 and lone
// surrogates as U+FFFD) or with a NUL are refused, naming where they are.
func TestUnmarshalRefusesBadText(t *testing.T) {
	cases := []struct{ name, body, field, problem string }{
		{"invalid UTF-8 in a value", "{\"name\":\"a\xffb\"}", "name:", "not valid UTF-8"},
		{"NUL escape", `{"name":"a\u0000b"}`, "name:", "NUL"},
		{"NUL escape, upper-case hex", `{"name":"\u0000"}`, "name:", "NUL"},
		{"lone high surrogate", `{"name":"\ud800x"}`, "name:", "lone surrogate"},
		{"lone low surrogate", `{"name":"\uDC00"}`, "name:", "lone surrogate"},
		{"high surrogate at the end", `{"name":"x\ud83d"}`, "name:", "lone surrogate"},
		{"nested in an array of objects", `{"custom_fields":[{"name":"a","value":"x"},{"name":"b","value":"\u0000"}]}`, "custom_fields[1].value:", "NUL"},
		{"in a top-level array", `[{"type":"NEW"},{"Fname":"\u0000"}]`, "[1].Fname:", "NUL"},
		{"in an array of strings", `{"tags":["ok","\ud800"]}`, "tags[1]:", "lone surrogate"},
		{"in a key", "{\"na\xffme\":\"a\"}", "body:", "a key"},
		{"in a nested key", `{"sub":{"\u0000":1}}`, "sub:", "a key"},
		{"a bare string body", `"\u0000"`, "body:", "NUL"},
		{"after numbers and literals", `{"a":1,"b":[true,null,2.5],"c":"\u0000"}`, "c:", "NUL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dst any
			asError(t, httpapi.Unmarshal([]byte(c.body), &dst, false), http.StatusBadRequest, c.field, c.problem)
		})
	}
}

func TestUnmarshalKeepsGoodText(t *testing.T) {
	for _, body := range []string{
		`{"name":"caf\u00e9 \ud83d\ude00 😀"}`,
		`{"name":"\\u0000 is written literally"}`,
		`{"name":"a\\\u00e9"}`,
		`{"name":"tab\there"}`,
	} {
		var dst map[string]string
		if err := httpapi.Unmarshal([]byte(body), &dst, false); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if strings.ContainsRune(dst["name"], 0) || strings.ContainsRune(dst["name"], utf8.RuneError) {
			t.Fatalf("%s decoded to %q", body, dst["name"])
		}
	}
}

// FuzzUnmarshalText: whatever Unmarshal accepts decodes to text without
// NUL characters or replacement characters that were not in the input.
func FuzzUnmarshalText(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `{"a":"\u0000"}`, "{\"a\":\"\xff\"}", `["\ud800"]`, `{"a":[1,{"b":"\ud83d\ude00"}]}`, `null`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		if err := httpapi.Unmarshal(b, &v, false); err != nil {
			if _, ok := httpapi.AsHTTP(err); !ok {
				t.Fatalf("%q: not a client error: %v", b, err)
			}
			return
		}
		replaced := strings.ContainsRune(string(b), utf8.RuneError) || strings.Contains(strings.ToLower(string(b)), `\ufffd`)
		if !textIntact(v) && !replaced {
			t.Fatalf("%q accepted, decoded with a NUL or U+FFFD: %#v", b, v)
		}
	})
}

// textIntact reports whether no string in v (keys included) holds a NUL
// or U+FFFD.
func textIntact(v any) bool {
	bad := func(s string) bool { return strings.ContainsRune(s, 0) || strings.ContainsRune(s, utf8.RuneError) }
	switch x := v.(type) {
	case string:
		return !bad(x)
	case []any:
		for _, e := range x {
			if !textIntact(e) {
				return false
			}
		}
	case map[string]any:
		for k, e := range x {
			if bad(k) || !textIntact(e) {
				return false
			}
		}
	}
	return true
}
