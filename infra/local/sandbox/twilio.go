package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/twilio"
)

// Twilio's side of the sandbox: the 2010-04-01 REST API's
//
//   - POST /2010-04-01/Accounts/{AccountSid}/Messages.json (To, From or
//     MessagingServiceSid, Body, StatusCallback): an SMS, answered 201 with
//     the Message resource, status queued;
//   - POST /2010-04-01/Accounts/{AccountSid}/Calls.json (To, From, Twiml or
//     Url, StatusCallback, StatusCallbackEvent): a call, answered 201 with
//     the Call resource, status queued;
//
// form-encoded, with HTTP Basic auth (account SID and auth token; 401 with
// code 20003 otherwise), refusing as Twilio does with its error object
// {code, message, more_info, status}: 21604 no To, 21211 an invalid To,
// 21603 no From, 21602 no Body, 21617 a body over 1,600 characters, 21614
// an SMS to a number that is no mobile (TwilioLandlines), 21205 no Twiml
// or Url, 21219 TwiML over 4,000 characters. After an accepted request it
// posts the statuses to its StatusCallback, form-encoded and signed
// (X-Twilio-Signature) with the account's auth token, as Twilio does:
// sent then delivered for an SMS (undelivered with 30003 for a number set
// undeliverable), initiated, ringing, in-progress then completed for a
// call (busy for an undeliverable number).

// TwilioAPIVersion is the path's version segment.
const TwilioAPIVersion = "2010-04-01"

// TwilioRecord is one accepted SMS or call.
type TwilioRecord struct {
	SID        string    `json:"sid"`
	AccountSID string    `json:"account_sid"`
	Kind       string    `json:"kind"` // sms or call
	To         string    `json:"to"`
	From       string    `json:"from"`
	Body       string    `json:"body,omitempty"`  // an SMS's text
	TwiML      string    `json:"twiml,omitempty"` // a call's TwiML
	Callback   string    `json:"status_callback,omitempty"`
	Status     string    `json:"status"`
	At         time.Time `json:"at"`
}

// TwilioLandline marks a number (E.164) as a fixed line: SMS to it are
// refused with 21614.
func (s *Sandbox) TwilioLandline(e164 string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.landlines[e164] = true
	} else {
		delete(s.landlines, e164)
	}
}

// TwilioRecords are the accepted SMS and calls, oldest first.
func (s *Sandbox) TwilioRecords() []TwilioRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TwilioRecord(nil), s.twilio...)
}

type twilioErr struct {
	status, code int
	message      string
}

func writeTwilioError(w http.ResponseWriter, e twilioErr) {
	writeJSON(w, e.status, map[string]any{"code": e.code, "message": e.message,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", e.code), "status": e.status})
}

// serveTwilio answers /2010-04-01/… .
func (s *Sandbox) serveTwilio(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 4 || parts[1] != "Accounts" || r.Method != http.MethodPost || (parts[3] != "Messages.json" && parts[3] != "Calls.json") {
		writeTwilioError(w, twilioErr{404, 20404, "The requested resource " + r.URL.Path + " was not found"})
		return
	}
	sid := parts[2]
	user, pass, ok := r.BasicAuth()
	if !ok || user != sid || !s.twilioAuth(sid, pass) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeTwilioError(w, twilioErr{401, 20003, "Authenticate"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		writeTwilioError(w, twilioErr{400, 20001, "Invalid request: the body must be application/x-www-form-urlencoded"})
		return
	}
	f := r.PostForm
	to, from := f.Get("To"), f.Get("From")
	rec := TwilioRecord{SID: newSID(parts[3]), AccountSID: sid, To: to, From: from, Callback: f.Get("StatusCallback"), Status: "queued", At: s.opt.Now()}
	var e *twilioErr
	switch {
	case to == "":
		e = &twilioErr{400, 21604, "A 'To' phone number is required."}
	case !e164(to):
		e = &twilioErr{400, 21211, fmt.Sprintf("Invalid 'To' Phone Number: %s", to)}
	case parts[3] == "Messages.json" && from == "" && f.Get("MessagingServiceSid") == "":
		e = &twilioErr{400, 21603, "A 'From' phone number is required."}
	case parts[3] == "Calls.json" && from == "":
		e = &twilioErr{400, 21213, "Caller phone number is required"}
	case from != "" && !e164(from):
		e = &twilioErr{400, 21212, fmt.Sprintf("Invalid From Number (caller ID): %s", from)}
	}
	if e == nil && parts[3] == "Messages.json" {
		rec.Kind, rec.Body = "sms", f.Get("Body")
		if rec.From == "" {
			rec.From = f.Get("MessagingServiceSid")
		}
		s.mu.Lock()
		landline := s.landlines[to]
		s.mu.Unlock()
		switch {
		case strings.TrimSpace(rec.Body) == "":
			e = &twilioErr{400, 21602, "Message body is required."}
		case utf8.RuneCountInString(rec.Body) > twilio.MaxSMSChars:
			e = &twilioErr{400, 21617, "The concatenated message body exceeds the 1600 character limit."}
		case landline:
			e = &twilioErr{400, 21614, fmt.Sprintf("'To' number %s is not a valid mobile number", to)}
		}
	} else if e == nil {
		rec.Kind, rec.TwiML = "call", f.Get("Twiml")
		switch {
		case rec.TwiML == "" && f.Get("Url") == "" && f.Get("ApplicationSid") == "":
			e = &twilioErr{400, 21205, "Url parameter is required."}
		case utf8.RuneCountInString(rec.TwiML) > twilio.MaxTwiMLChars:
			e = &twilioErr{400, 21219, "Twiml parameter exceeds the maximum length of 4000 characters."}
		case rec.TwiML != "" && !strings.HasPrefix(strings.TrimSpace(rec.TwiML), "<Response"):
			e = &twilioErr{400, 12100, "Document parse failure"}
		}
	}
	s.mu.Lock()
	s.stats.Requests++
	if e != nil {
		s.stats.Refused[fmt.Sprint(e.code)]++
		s.mu.Unlock()
		writeTwilioError(w, *e)
		return
	}
	s.stats.Accepted++
	s.twilio = append(s.twilio, rec)
	if over := len(s.twilio) - s.opt.MaxRecords; over > 0 {
		s.twilio = append([]TwilioRecord(nil), s.twilio[over:]...)
	}
	failing := s.undeliver[strings.TrimPrefix(to, "+")]
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, twilioResource(rec))
	s.postTwilioStatuses(rec, pass, failing)
}

// twilioAuth checks an account's auth token: the configured ones, or any
// 32 hex characters for an account SID when none are.
func (s *Sandbox) twilioAuth(sid, token string) bool {
	if want, ok := s.opt.TwilioAccounts[sid]; ok {
		return token == want
	}
	return len(s.opt.TwilioAccounts) == 0 && twilioSIDOK("AC", sid) && len(token) == 32 && isHex(token)
}

func twilioSIDOK(prefix, sid string) bool {
	return len(sid) == 34 && strings.HasPrefix(sid, prefix) && isHex(sid[2:])
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// e164 is a + and 8 to 15 digits, the first not 0.
func e164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// newSID is a fresh message (SM…) or call (CA…) SID.
func newSID(resource string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	if resource == "Calls.json" {
		return "CA" + hex.EncodeToString(b)
	}
	return "SM" + hex.EncodeToString(b)
}

// twilioResource is the Message or Call resource Twilio answers with.
func twilioResource(r TwilioRecord) map[string]any {
	date := r.At.UTC().Format(time.RFC1123Z)
	base := fmt.Sprintf("/%s/Accounts/%s", TwilioAPIVersion, r.AccountSID)
	if r.Kind == "sms" {
		uri := base + "/Messages/" + r.SID + ".json"
		return map[string]any{
			"account_sid": r.AccountSID, "api_version": TwilioAPIVersion, "body": r.Body,
			"date_created": date, "date_sent": nil, "date_updated": date, "direction": "outbound-api",
			"error_code": nil, "error_message": nil, "from": r.From, "messaging_service_sid": nil,
			"num_media": "0", "num_segments": fmt.Sprint(segments(r.Body)), "price": nil, "price_unit": "USD",
			"sid": r.SID, "status": "queued", "to": r.To, "uri": uri,
			"subresource_uris": map[string]string{"media": base + "/Messages/" + r.SID + "/Media.json"},
		}
	}
	uri := base + "/Calls/" + r.SID + ".json"
	return map[string]any{
		"sid": r.SID, "account_sid": r.AccountSID, "api_version": TwilioAPIVersion,
		"answered_by": nil, "caller_name": nil, "date_created": date, "date_updated": date, "direction": "outbound-api",
		"duration": nil, "end_time": nil, "forwarded_from": nil, "from": r.From, "from_formatted": r.From,
		"group_sid": nil, "parent_call_sid": nil, "phone_number_sid": nil, "price": nil, "price_unit": "USD",
		"queue_time": "0", "start_time": nil, "status": "queued", "to": r.To, "to_formatted": r.To, "trunk_sid": nil, "uri": uri,
		"subresource_uris": map[string]string{"notifications": base + "/Calls/" + r.SID + "/Notifications.json",
			"recordings": base + "/Calls/" + r.SID + "/Recordings.json"},
	}
}

// segments is how many SMS segments a body takes (GSM-7 153, else 67).
func segments(body string) int {
	n, per := utf8.RuneCountInString(body), 153
	for _, r := range body {
		if r > 0x7f {
			per = 67
			break
		}
	}
	if n <= 160 && per == 153 || n <= 70 {
		return 1
	}
	return (n + per - 1) / per
}

// postTwilioStatuses posts a record's statuses to its callback, signed
// with the account's auth token, in the background.
func (s *Sandbox) postTwilioStatuses(r TwilioRecord, authToken string, failing bool) {
	steps := []string{"sent", "delivered"}
	if r.Kind == "call" {
		steps = []string{"initiated", "ringing", "in-progress", "completed"}
	}
	if failing {
		steps = []string{"sent", "undelivered"}
		if r.Kind == "call" {
			steps = []string{"initiated", "ringing", "busy"}
		}
	}
	if r.Callback == "" {
		s.setTwilioStatus(r.SID, steps[len(steps)-1])
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for i, st := range steps {
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(s.opt.StatusDelay):
			}
			f := url.Values{"AccountSid": {r.AccountSID}, "From": {r.From}, "To": {r.To}, "ApiVersion": {TwilioAPIVersion}}
			if r.Kind == "sms" {
				f.Set("MessageSid", r.SID)
				f.Set("SmsSid", r.SID)
				f.Set("MessageStatus", st)
				f.Set("SmsStatus", st)
				if st == "undelivered" {
					f.Set("ErrorCode", "30003")
				}
			} else {
				f.Set("CallSid", r.SID)
				f.Set("CallStatus", st)
				f.Set("Direction", "outbound-api")
				f.Set("CallbackSource", "call-progress-events")
				f.Set("SequenceNumber", fmt.Sprint(i))
				f.Set("Timestamp", s.opt.Now().UTC().Format(time.RFC1123Z))
				if st == "completed" {
					f.Set("CallDuration", "4")
				}
			}
			s.setTwilioStatus(r.SID, st)
			s.deliverTwilio(r.Callback, "twilio:"+st, r.SID, authToken, f)
		}
	}()
}

func (s *Sandbox) setTwilioStatus(sid, st string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.twilio) - 1; i >= 0; i-- {
		if s.twilio[i].SID == sid {
			s.twilio[i].Status = st
			return
		}
	}
}

// deliverTwilio posts one status callback, retrying on the webhook
// schedule until it is answered 2xx.
func (s *Sandbox) deliverTwilio(callback, kind, ref, authToken string, f url.Values) {
	body := f.Encode()
	for attempt := 0; ; attempt++ {
		status, err := func() (int, error) {
			ctx, cancel := context.WithTimeout(s.ctx, s.opt.WebhookTimeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, callback, strings.NewReader(body))
			if err != nil {
				return 0, err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("User-Agent", "TwilioProxy/1.1")
			req.Header.Set("X-Twilio-Signature", twilio.Sign(authToken, callback, f))
			resp, err := s.hc.Do(req)
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}()
		c := WebhookCall{Kind: kind, Ref: ref, Attempt: attempt + 1, Status: status, At: s.opt.Now()}
		if err != nil {
			c.Error = err.Error()
		}
		s.logCall(c)
		if status >= 200 && status < 300 {
			return
		}
		if attempt >= len(s.opt.WebhookRetries) {
			s.mu.Lock()
			s.stats.WebhooksDropped++
			s.mu.Unlock()
			return
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(s.opt.WebhookRetries[attempt]):
		}
	}
}
