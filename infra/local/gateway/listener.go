package gateway

import (
	"bytes"
	"net"
	"strconv"
	"strings"

	"github.com/startmsg/chatbackend/shared/httpapi"
)

// EnvelopeListener wraps the gateway's listener so that the answers
// net/http's server writes on its own, before any handler runs (a header
// value with a control byte, a malformed request line, headers over the
// limit), are in the error envelope like every other error, as API
// Gateway's gateway responses are. net/http writes those answers straight
// to the connection in one write, as plain text; the wrapper recognises
// them by their fixed headers and rewrites them.
func EnvelopeListener(l net.Listener) net.Listener { return envelopeListener{l} }

type envelopeListener struct{ net.Listener }

func (l envelopeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return envelopeConn{c}, nil
}

type envelopeConn struct{ net.Conn }

// serverErrorHeaders are the headers net/http's server puts on the answers
// it writes itself (server.go, errorHeaders).
const serverErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c envelopeConn) Write(b []byte) (int, error) {
	if out, ok := rewriteServerError(b); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// rewriteServerError turns one of net/http's plain-text error answers
// ("HTTP/1.1 400 Bad Request: invalid header value" + errorHeaders + text)
// into the same status with the envelope.
func rewriteServerError(b []byte) ([]byte, bool) {
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 4")) && !bytes.HasPrefix(b, []byte("HTTP/1.1 5")) {
		return nil, false
	}
	head, text, ok := bytes.Cut(b, []byte(serverErrorHeaders))
	if !ok {
		return nil, false
	}
	line := string(head[len("HTTP/1.1 "):])
	code, err := strconv.Atoi(line[:min(3, len(line))])
	if err != nil || code < 400 {
		return nil, false
	}
	// The text is "400 Bad Request: invalid header value", or a bare
	// reason: the message keeps its detail.
	reason := statusText(line)
	detail := strings.TrimSpace(string(text))
	detail = strings.TrimPrefix(detail, strconv.Itoa(code)+" "+reason)
	detail = strings.TrimSpace(strings.TrimPrefix(detail, ":"))
	msg := reason + "."
	switch {
	case detail != "":
		msg = reason + ": " + strings.TrimSuffix(detail, ".") + "."
	case code == 400:
		// What net/http says nothing more about: a malformed request line
		// or header (a header value with a control byte, say).
		msg = "The request could not be read: a malformed request line or header (such as a control character in a header value)."
	}
	body := httpapi.ErrorBody(msg)
	var out bytes.Buffer
	out.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + reason + "\r\n")
	out.WriteString("Content-Type: application/json\r\nConnection: close\r\n")
	out.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	out.Write(body)
	return out.Bytes(), true
}

// statusText is the reason phrase of a status line's rest ("400 Bad
// Request: invalid header value" → "Bad Request").
func statusText(line string) string {
	s := strings.TrimSpace(line[min(3, len(line)):])
	if i := strings.Index(s, ":"); i >= 0 {
		s = s[:i]
	}
	return s
}
