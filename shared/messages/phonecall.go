package messages

import (
	"strings"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// SMS and voice channels (Twilio): text messages only, an SMS up to
// MaxSMSChars, a call's TwiML (the text said in <Say>, escaped) up to
// MaxTwiMLChars.
const (
	MaxSMSChars   = 1600 // Twilio refuses a longer body (21617)
	MaxTwiMLChars = 4000 // Twilio's limit on a call's Twiml parameter
)

// PhoneKinds are the channel kinds whose messages are SMS or calls.
var PhoneKinds = []string{"sms", "voice"}

// CheckPhoneText checks the text of a message on an SMS (kind "sms") or
// voice ("voice") channel against its limits: field names the input field
// errors are about.
func CheckPhoneText(kind, field, text string) error {
	if strings.TrimSpace(text) == "" {
		return apperr.Invalid(field, "is empty")
	}
	switch kind {
	case "sms":
		if n := utf8.RuneCountInString(text); n > MaxSMSChars {
			return apperr.Invalidf(field, "is %d characters long; an SMS takes at most %d", n, MaxSMSChars)
		}
	case "voice":
		if n := utf8.RuneCountInString(SayTwiML(text)); n > MaxTwiMLChars {
			return apperr.Invalidf(field, "makes a call's TwiML of %d characters (the text escaped in <Response><Say>…</Say></Response>); at most %d", n, MaxTwiMLChars)
		}
	}
	return nil
}

// FixedLineSMS is the refusal of an SMS to a number the phone library
// types as a fixed line.
func FixedLineSMS(field, number string) error {
	return apperr.Rejected(field, number+" is a fixed-line number: it cannot receive SMS (send a call on a voice channel instead)")
}

// SayTwiML is the TwiML of a call that says text:
// <Response><Say>text</Say></Response>, the text escaped as XML (control
// characters XML 1.0 does not allow become spaces).
func SayTwiML(text string) string {
	var b strings.Builder
	b.WriteString("<Response><Say>")
	for _, r := range text {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == utf8.RuneError {
				b.WriteByte(' ')
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteString("</Say></Response>")
	return b.String()
}
