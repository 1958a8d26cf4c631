package installations

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/messages"
)

// LineBreak is the seed's token for a new line in a message.
const LineBreak = "MessageFlowLineBreak"

// AddRequest is seed 004's add_message, its parameters as given (both
// forms: JSON and link).
type AddRequest struct {
	UUID             string
	ToMobileNumber   string
	ToCountryCode    string
	FromMobileNumber string
	// Message is the text as given: URL-encoded in the JSON form (it is
	// decoded once here), already decoded by the query string in the link
	// form (Decoded true).
	Message      string
	Decoded      bool
	DownloadLink string
	// MessageField names the parameter the message came in (Message or
	// wapMessage), for error messages.
	MessageField string
}

// MessageText is the message's text: URL-decoded once (JSON form; "+" is
// a space, "%2B" a plus; text that is not valid URL encoding is taken as
// it is), the seed's line-break token made a new line.
func (r AddRequest) MessageText() string {
	s := r.Message
	if !r.Decoded {
		if d, err := url.QueryUnescape(s); err == nil {
			s = d
		}
	}
	return strings.ReplaceAll(s, LineBreak, "\n")
}

// CheckDownloadLink accepts what the installed sender can fetch or read: an
// http(s) URL with a host, or an absolute path on a Windows disk (C:/Users/…,
// C:\Users\…). The server never opens either.
func CheckDownloadLink(field, s string) error {
	if len(s) > MaxLinkBytes || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return apperr.Invalidf(field, "must be an http(s) URL or a path on the sender's disk (C:/Users/…) of at most %d bytes", MaxLinkBytes)
	}
	if len(s) >= 3 && isLetter(s[0]) && s[1] == ':' && (s[2] == '/' || s[2] == '\\') {
		return nil
	}
	u, err := url.Parse(s)
	if err == nil && (strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https")) && u.Host != "" && u.User == nil {
		return nil
	}
	return apperr.Invalidf(field, "%q is neither an http(s) URL nor a path on the sender's disk (C:/Users/…)", s)
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Added is add_message's answer.
type Added struct {
	ID     string          `json:"id"`
	Status messages.Status `json:"status"`
	// Held is true when the message was created outside the allowed
	// hours: it goes to the installation at HeldUntil (RFC 3339, in the
	// schedule's time zone).
	Held      bool   `json:"held"`
	HeldUntil string `json:"held_until,omitempty"`
}
