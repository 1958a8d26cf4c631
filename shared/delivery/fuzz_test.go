package delivery

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/connections"
)

// FuzzBodyText: any response body becomes valid UTF-8 within the limit, and
// a valid body under the limit is kept as is.
func FuzzBodyText(f *testing.F) {
	f.Add([]byte("ok"), false)
	f.Add([]byte("a\xffb\xe2\x82"), true)
	f.Add([]byte("\xf0\x9f\x98"), true)
	f.Fuzz(func(t *testing.T, b []byte, truncated bool) {
		if len(b) > connections.MaxResponseBody {
			b, truncated = b[:connections.MaxResponseBody], true
		}
		got := bodyText(b, truncated)
		if !utf8.ValidString(got) || len(got) > connections.MaxResponseBody {
			t.Fatalf("bodyText(%q) = %q", b, got)
		}
		if !truncated && utf8.Valid(b) && got != string(b) {
			t.Fatalf("bodyText changed valid %q to %q", b, got)
		}
	})
}

// FuzzRetryAfter: any header value gives a delay in [0, connections.MaxDelay].
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "Wed, 21 Oct 2015 07:28:00 GMT", "-1", "", "9999999999999999999999", "1e3"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := parseRetryAfter(v, now); d < 0 || d > connections.MaxDelay {
			t.Fatalf("parseRetryAfter(%q) = %s", v, d)
		}
	})
}
