package whatsapp

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/messages"
)

// FuzzDecodeError: whatever a provider (or a proxy before it) answers, the
// client makes an *Error of it with a message, and a failure to record.
func FuzzDecodeError(f *testing.F) {
	f.Add(400, `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"details":"x"},"fbtrace_id":"A"}}`)
	f.Add(400, `{"error":{"code":"100","error_data":"string details"}}`)
	f.Add(502, `<html>bad gateway</html>`)
	f.Add(500, `{"error":null}`)
	f.Add(429, `{"error":{"code":1e400}}`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		e := decodeError(status, http.Header{"Retry-After": {body}}, []byte(body))
		if e == nil || e.Message == "" || e.HTTPStatus != status {
			t.Fatalf("%+v", e)
		}
		fl := e.Failure()
		if fl.Code == "" || fl.Message == "" {
			t.Fatalf("failure %+v", fl)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("negative Retry-After %v", e.RetryAfter)
		}
	})
}

// FuzzBuildSendRequest: a message either becomes a request within
// WhatsApp's limits or is refused as invalid; nothing panics.
func FuzzBuildSendRequest(f *testing.F) {
	f.Add("text", "+923001234567", "hello", "", "")
	f.Add("media", "15551234567", "https://x.io/a.jpg", "image", "cap")
	f.Add("template", "15551234567", "name", "en", "p1")
	f.Fuzz(func(t *testing.T, typ, to, a, b, c string) {
		m := messages.Message{Type: messages.Type(typ), To: to, ID: c}
		switch typ {
		case "text":
			m.Text = &messages.Text{Body: a}
		case "media":
			m.Media = &messages.Media{Kind: messages.MediaKind(b), Link: a, Caption: c}
		case "template":
			m.Template = &messages.Template{Name: a, Language: b, Params: []string{c}}
		}
		r, err := BuildSendRequest(m)
		if err != nil {
			return
		}
		if r.MessagingProduct != "whatsapp" || strings.HasPrefix(r.To, "+") || r.Type == "" {
			t.Fatalf("%+v", r)
		}
		if r.Text != nil && (utf8.RuneCountInString(r.Text.Body) > MaxTextBody || strings.TrimSpace(r.Text.Body) == "") {
			t.Fatalf("text %q", r.Text.Body)
		}
	})
}
