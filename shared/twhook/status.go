package twhook

import (
	"net/url"
	"time"

	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Update is what one status callback says, in our terms.
type Update struct {
	// Kind is the channel kind the SID belongs to: sms for a message
	// (MessageSid), voice for a call (CallSid).
	Kind tenancy.ChannelKind
	// SID is Twilio's id of the message (SM…, MM…) or call (CA…).
	SID string
	// Twilio is Twilio's status as posted; Status ours ("" when it moves
	// nothing: a status we do not know, or one before Twilio took it).
	Twilio string
	Status messages.Status
	// Failure is why a failed message or call failed.
	Failure *messages.Failure
	// At is when Twilio says it happened (a call's Timestamp); zero when
	// it does not say.
	At time.Time
}

// Twilio's message statuses (MessageStatus) and ours. Queued, accepted,
// scheduled and sending say Twilio holds the message: sent, as its
// answer to our request already did.
var messageStatuses = map[string]messages.Status{
	"accepted": messages.StatusSent, "scheduled": messages.StatusSent, "queued": messages.StatusSent,
	"sending": messages.StatusSent, "sent": messages.StatusSent,
	"delivered": messages.StatusDelivered, "read": messages.StatusRead,
	"undelivered": messages.StatusFailed, "failed": messages.StatusFailed,
}

// Twilio's call statuses (CallStatus) and ours: a call goes out (sent)
// until it is answered and ends (completed), or ends unanswered (failed,
// with the reason as its code).
var callStatuses = map[string]messages.Status{
	"queued": messages.StatusSent, "initiated": messages.StatusSent, "ringing": messages.StatusSent,
	"in-progress": messages.StatusSent, "answered": messages.StatusSent,
	"completed": messages.StatusCompleted,
	"busy":      messages.StatusFailed, "no-answer": messages.StatusFailed, "failed": messages.StatusFailed, "canceled": messages.StatusFailed,
}

// callReasons say why a call failed, by Twilio's status.
var callReasons = map[string]string{
	"busy":      "The line was busy.",
	"no-answer": "Nobody answered the call.",
	"canceled":  "The call was canceled before it was answered.",
	"failed":    "Twilio could not place the call.",
}

// errorTexts are the descriptions of the error codes Twilio reports most
// for messages it could not deliver (its callbacks carry the code only).
var errorTexts = map[string]string{
	"30001": "Queue overflow",
	"30002": "Account suspended",
	"30003": "Unreachable destination handset",
	"30004": "Message blocked",
	"30005": "Unknown destination handset",
	"30006": "Landline or unreachable carrier",
	"30007": "Message filtered",
	"30008": "Unknown error",
	"30010": "Message price exceeds max price",
	"30034": "Message from an unregistered number",
}

// Parse reads one status callback's form. ok is false when it names
// neither a call (CallSid, CallStatus) nor a message (MessageSid or
// SmsSid, MessageStatus or SmsStatus).
func Parse(f url.Values) (u Update, ok bool) {
	if sid, st := f.Get("CallSid"), f.Get("CallStatus"); sid != "" && st != "" {
		u = Update{Kind: tenancy.Voice, SID: sid, Twilio: st, Status: callStatuses[st]}
		if t, err := time.Parse(time.RFC1123Z, f.Get("Timestamp")); err == nil {
			u.At = t
		}
		if u.Status == messages.StatusFailed {
			u.Failure = failure(f, st, callReasons[st])
		}
		return u, true
	}
	sid := first(f.Get("MessageSid"), f.Get("SmsSid"))
	st := first(f.Get("MessageStatus"), f.Get("SmsStatus"))
	if sid == "" || st == "" {
		return Update{}, false
	}
	u = Update{Kind: tenancy.SMS, SID: sid, Twilio: st, Status: messageStatuses[st]}
	if u.Status == messages.StatusFailed {
		why := "Twilio reports the message " + st + "."
		if t := errorTexts[f.Get("ErrorCode")]; t != "" {
			why = t + "."
		}
		u.Failure = failure(f, st, why)
	}
	return u, true
}

// failure is Twilio's ErrorCode and ErrorMessage when it gives them,
// else the status and why.
func failure(f url.Values, status, why string) *messages.Failure {
	return &messages.Failure{Code: first(f.Get("ErrorCode"), status), Message: first(f.Get("ErrorMessage"), why)}
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
