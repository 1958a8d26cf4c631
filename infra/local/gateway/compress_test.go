package gateway

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/routes"
)

func TestUnitPreferredCoding(t *testing.T) {
	for accept, want := range map[string]string{
		"":                        "",
		"gzip":                    "gzip",
		"gzip, deflate, br":       "gzip",
		"deflate, gzip;q=0.5":     "deflate",
		"br, gzip":                "br", // ranked first and not API Gateway's: no compression
		"gzip;q=0":                "",
		"*":                       "gzip",
		"identity":                "identity",
		"br;q=0.2, GZIP ; q=0.9":  "gzip",
		"deflate;q=bad, gzip;q=1": "deflate",
	} {
		if got := preferredCoding(accept); got != want {
			t.Errorf("Accept-Encoding %q: %q, want %q", accept, got, want)
		}
	}
}

func unzip(t *testing.T, coding string, b []byte) string {
	t.Helper()
	var r io.Reader
	var err error
	switch coding {
	case "gzip":
		r, err = gzip.NewReader(bytes.NewReader(b))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(b))
	default:
		t.Fatalf("coding %q", coding)
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestUnitResponseCompression: as API Gateway with minimumCompressionSize
// set, a body at least that long is compressed with the coding the client
// ranks first when it is gzip or deflate; a shorter one, one for a client
// that asks for none or for another coding first, and one the function
// encoded itself go as they are.
func TestUnitResponseCompression(t *testing.T) {
	tg := newTestGateway(t, 0)
	long := `{"status":"success","data":[` + strings.Repeat(`{"name":"email","value":"a@example.com"},`, 60) + `{}]}`
	tg.handlers["me"].res = events.APIGatewayProxyResponse{StatusCode: 200, Body: long, Headers: map[string]string{"Content-Type": "application/json"}}
	for _, c := range []struct{ accept, coding string }{{"gzip", "gzip"}, {"deflate, gzip;q=0.8", "deflate"}, {"", ""}, {"br, gzip;q=0.5", ""}, {"identity", ""}} {
		rec := tg.do("GET", "/v1/me", nil, http.Header{"Accept-Encoding": {c.accept}})
		got := rec.Header().Get("Content-Encoding")
		if rec.Code != 200 || got != c.coding {
			t.Fatalf("Accept-Encoding %q: %d, Content-Encoding %q, want %q", c.accept, rec.Code, got, c.coding)
		}
		body := rec.Body.String()
		if c.coding != "" {
			if rec.Body.Len() >= len(long)/3 {
				t.Errorf("Accept-Encoding %q: %d bytes compressed of %d", c.accept, rec.Body.Len(), len(long))
			}
			body = unzip(t, c.coding, rec.Body.Bytes())
		}
		if body != long {
			t.Fatalf("Accept-Encoding %q: body %q", c.accept, body)
		}
	}
	short := long[:routes.MinCompressionSize-1]
	tg.handlers["me"].res.Body = short
	if rec := tg.do("GET", "/v1/me", nil, http.Header{"Accept-Encoding": {"gzip"}}); rec.Header().Get("Content-Encoding") != "" || rec.Body.String() != short {
		t.Fatalf("a body under the minimum: %q %q", rec.Header().Get("Content-Encoding"), rec.Body)
	}
	tg.handlers["me"].res = events.APIGatewayProxyResponse{StatusCode: 200, Body: long, Headers: map[string]string{"Content-Encoding": "br"}}
	if rec := tg.do("GET", "/v1/me", nil, http.Header{"Accept-Encoding": {"gzip"}}); rec.Header().Get("Content-Encoding") != "br" || rec.Body.String() != long {
		t.Fatalf("a body the function encoded: %q", rec.Header().Get("Content-Encoding"))
	}

	off, err := New(Config{Routes: testRoutes[:1], Handlers: map[string]APIHandler{"me": func(_ context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: long}, nil
	}}, MinCompressionSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/v1/me", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	off.ServeHTTP(rec, r)
	if rec.Header().Get("Content-Encoding") != "" || rec.Body.String() != long {
		t.Fatalf("compression off: %q", rec.Header().Get("Content-Encoding"))
	}
}

// TestUnitRequestDecompression: a request body sent gzip- or
// deflate-encoded reaches the function decompressed; one that does not
// decompress, or in another coding, is refused in the envelope before the
// function runs.
func TestUnitRequestDecompression(t *testing.T) {
	tg := newTestGateway(t, 0)
	body := `{"custom_fields":[{"name":"email","value":"a@example.com"}]}`
	var gz, zl bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write([]byte(body))
	_ = w.Close()
	z := zlib.NewWriter(&zl)
	_, _ = z.Write([]byte(body))
	_ = z.Close()
	h := tg.handlers["contact-create"]
	for coding, sent := range map[string][]byte{"gzip": gz.Bytes(), "deflate": zl.Bytes(), "identity": []byte(body)} {
		rec := tg.do("POST", "/v1/contact", sent, http.Header{"Content-Encoding": {coding}, "Content-Type": {"application/json"}})
		if rec.Code != 200 || h.last.Body != body {
			t.Fatalf("%s: %d, the function got %q", coding, rec.Code, h.last.Body)
		}
	}
	// No body: nothing to decompress, whatever the header says.
	if rec := tg.do("POST", "/v1/contact", nil, http.Header{"Content-Encoding": {"gzip"}}); rec.Code != 200 || h.last.Body != "" {
		t.Fatalf("an empty gzip body: %d, the function got %q", rec.Code, h.last.Body)
	}
	calls := h.calls
	wantEnvelope(t, tg.do("POST", "/v1/contact", []byte(body), http.Header{"Content-Encoding": {"gzip"}}), http.StatusUnsupportedMediaType,
		"Could not decompress the request body: Content-Encoding must be gzip, deflate or identity, and the body encoded with it.")
	wantEnvelope(t, tg.do("POST", "/v1/contact", []byte(body), http.Header{"Content-Encoding": {"br"}}), http.StatusUnsupportedMediaType,
		"Could not decompress the request body: Content-Encoding must be gzip, deflate or identity, and the body encoded with it.")
	if h.calls != calls {
		t.Fatalf("the function ran %d times for bodies that did not decompress", h.calls-calls)
	}
	// A small body that decompresses past API Gateway's 10 MB.
	var bomb bytes.Buffer
	w = gzip.NewWriter(&bomb)
	_, _ = w.Write(bytes.Repeat([]byte{' '}, MaxPayload+1))
	_ = w.Close()
	wantEnvelope(t, tg.do("POST", "/v1/contact", bomb.Bytes(), http.Header{"Content-Encoding": {"gzip"}}), http.StatusRequestEntityTooLarge,
		"Request body is too large once decompressed (API Gateway's limit is 10 MB).")
}
