package gateway

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// net/http's own answers (before any handler runs) come in the envelope;
// the handlers' answers pass untouched.
func TestEnvelopeListener(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "handler text")
	}))
	srv.Listener = EnvelopeListener(srv.Listener)
	srv.Start()
	defer srv.Close()
	send := func(raw string) (*http.Response, string) {
		t.Helper()
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	cases := []struct {
		raw    string
		status int
		says   string
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\x01b\r\n\r\n", 400, "header"},
		{"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: \x7f\r\n\r\n", 400, "header"},
		{"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "Unsupported transfer encoding"},
		{"GET / HTTP/1.1\r\n\r\n", 400, "missing required Host header"},
	}
	for _, c := range cases {
		res, body := send(c.raw)
		var env struct {
			Status, Message string
			Data            []any
		}
		if res.StatusCode != c.status || res.Header.Get("Content-Type") != "application/json" ||
			json.Unmarshal([]byte(body), &env) != nil || env.Status != "error" || env.Data == nil || !strings.Contains(env.Message, c.says) {
			t.Errorf("%q: %d %v %s", c.raw, res.StatusCode, res.Header, body)
		}
	}
	if res, body := send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); res.StatusCode != 200 || body != "handler text" {
		t.Errorf("a handler's answer changed: %d %s", res.StatusCode, body)
	}
}
