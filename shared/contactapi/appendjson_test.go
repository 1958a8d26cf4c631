package contactapi

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"testing/quick"

	"github.com/startmsg/chatbackend/shared/httpapi"
)

// TestContactViewAppendJSON: AppendJSON writes what encoding/json writes
// (without HTML escaping) for contacts with every field filled at random,
// a field added to ContactView included, and for the awkward strings.
func TestContactViewAppendJSON(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	views := []ContactView{
		{},
		{CustomFields: map[string]string{}, Tags: []string{}},
		{ID: "<&>\u2028\xff", CreatedAt: -1, UpdatedAt: 1 << 62, Opportunity: true,
			CustomFields: map[string]string{"b": "\x00\n", "a": `"\`, "é": "😀"}, Tags: []string{"", "\x7f"}},
	}
	for range 300 {
		v, ok := quick.Value(reflect.TypeFor[ContactView](), r)
		if !ok {
			t.Fatal("quick.Value: ContactView")
		}
		views = append(views, v.Interface().(ContactView))
	}
	for _, v := range views {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		if got, want := v.AppendJSON(nil), bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON(%#v)\n = %s\nwant %s", v, got, want)
		}
	}
}

// TestWriteDataAppender: WriteData answers a ContactView exactly as it
// answers through encoding/json (status, headers, body).
func TestWriteDataAppender(t *testing.T) {
	v := ContactView{ID: "1", CustomFields: map[string]string{"firstName": "A&B <x>"}, Tags: []string{"t"}, CreatedAt: 5}
	fast := httptest.NewRecorder()
	httpapi.WriteData(fast, http.StatusCreated, v)
	slow := httptest.NewRecorder()
	httpapi.WriteJSON(slow, http.StatusCreated, map[string]any{"data": v})
	if fast.Code != slow.Code || !reflect.DeepEqual(fast.Header(), slow.Header()) || fast.Body.String() != slow.Body.String() {
		t.Errorf("WriteData: %d %v %s\nencoding/json: %d %v %s", fast.Code, fast.Header(), fast.Body, slow.Code, slow.Header(), slow.Body)
	}
}
