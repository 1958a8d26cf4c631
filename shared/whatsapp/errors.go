package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/messages"
)

// Error is a call that did not succeed: Meta's error object (an answer with
// {"error":{message,type,code,error_subcode,error_data{details},fbtrace_id}}),
// an answer that held none (a proxy's 502 page), or a transport failure
// (timeout, refused connection). Temporary says whether the same request
// may succeed later: the sender retries those with backoff and records the
// others as the message's failure.
type Error struct {
	HTTPStatus int    // 0 when no answer came
	Code       int    // Meta's code (131047, 100, ...); 0 when none
	Subcode    int    // error_subcode
	Type       string // OAuthException, ...
	Message    string // Meta's message, "(#131047) Re-engagement message"
	Details    string // error_data.details (or error_data when a string)
	FBTraceID  string
	// Temporary: a timeout, 429, 5xx or a code Meta documents as
	// temporary (rate limits, "something went wrong", service unavailable).
	Temporary bool
	// RetryAfter is the answer's Retry-After, when it had one.
	RetryAfter time.Duration
	// Err is the transport error, when no answer came.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("whatsapp: ")
	switch {
	case e.Err != nil && e.HTTPStatus == 0:
		b.WriteString(e.Err.Error())
	case e.Code != 0 && !strings.Contains(e.Message, "#"+strconv.Itoa(e.Code)):
		fmt.Fprintf(&b, "(#%d) %s", e.Code, e.Message)
	default:
		b.WriteString(e.Message)
	}
	if e.Details != "" {
		b.WriteString(": ")
		b.WriteString(e.Details)
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed later (the
// sender's Classified interface).
func (e *Error) Retryable() bool { return e.Temporary }

// ProviderCode is Meta's code, or "timeout", "http_<status>",
// "transport" when Meta gave none (as Failure).
func (e *Error) ProviderCode() string { return e.Failure().Code }

// ProviderMessage is Meta's message and details (as Failure).
func (e *Error) ProviderMessage() string { return e.Failure().Message }

// Failure is the error as a message's failure: Meta's code and text, or
// "timeout", "http_<status>" when Meta gave none.
func (e *Error) Failure() *messages.Failure {
	code := strconv.Itoa(e.Code)
	switch {
	case e.Code != 0:
	case e.HTTPStatus != 0:
		code = "http_" + strconv.Itoa(e.HTTPStatus)
	case isTimeout(e.Err):
		code = "timeout"
	default:
		code = "transport"
	}
	msg := e.Message
	if e.Details != "" && e.Details != msg {
		if msg != "" {
			msg += ": "
		}
		msg += e.Details
	}
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return &messages.Failure{Code: code, Message: msg}
}

// IsRetryable reports whether err is worth another try of the same
// request: a retryable *Error (which every transport failure of this
// package is). Any other error (an invalid message) is not.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary
}

// AsError returns err's *Error, if it holds one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// ErrInvalid is wrapped by the errors of a request this package refuses to
// send (an empty text, a media link that is not http(s), a profile field
// over WhatsApp's limit): sending it again would fail again.
var ErrInvalid = errors.New("whatsapp: invalid request")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Codes Meta documents as temporary: a later try of the same request may
// succeed (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
// and the Graph API's error handling guide).
var retryableCodes = map[int]bool{
	1:      true, // API Unknown: possible server error
	2:      true, // API Service: temporary downtime or overload
	4:      true, // API Too Many Calls (app rate limit)
	17:     true, // API User Too Many Calls
	32:     true, // page-level rate limit
	341:    true, // application limit reached
	613:    true, // calls within one hour exceeded
	80007:  true, // rate limit issues (WhatsApp Business Account)
	130429: true, // Cloud API throughput reached
	131000: true, // something went wrong
	131016: true, // service unavailable
	131048: true, // spam rate limit hit
	131056: true, // (business, consumer) pair rate limit hit
	131057: true, // account in maintenance mode
	132069: true, // flow is throttled
	133004: true, // server temporarily unavailable
}

// Codes that fail whatever the HTTP status says: the request, the
// recipient, the template or the credentials are wrong, and a retry would
// fail the same way.
var permanentCodes = map[int]bool{
	0:      true, // AuthException
	3:      true, // API method: capability or permission
	10:     true, // permission denied
	33:     true, // parameter value is not valid
	100:    true, // invalid parameter
	190:    true, // access token expired or invalid
	368:    true, // temporarily blocked for policy violations
	130472: true, // user's number is part of an experiment
	130497: true, // business cannot message users in this country
	131005: true, // access denied
	131008: true, // required parameter missing
	131009: true, // parameter value not valid
	131021: true, // recipient cannot be the sender
	131026: true, // message undeliverable
	131031: true, // business account locked
	131037: true, // display name not approved
	131042: true, // business eligibility (payment) issue
	131045: true, // incorrect certificate
	131047: true, // re-engagement: more than 24 h since the contact wrote
	131049: true, // not delivered to maintain healthy ecosystem engagement
	131050: true, // user stopped marketing messages
	131051: true, // unsupported message type
	131052: true, // media download error
	131053: true, // media upload error
	131055: true, // method not allowed
	132000: true, // template parameter count mismatch
	132001: true, // template does not exist
	132005: true, // template hydrated text too long
	132007: true, // template format character policy violated
	132012: true, // template parameter format mismatch
	132015: true, // template paused
	132016: true, // template disabled
	132068: true, // flow blocked
	135000: true, // generic user error
}

// Classify classifies an error answer by Meta's code (when it has one)
// and its HTTP status: the code's documented meaning wins; otherwise 429
// and 5xx are temporary, other statuses are not.
func Classify(httpStatus, code int, transient bool) bool {
	switch {
	case retryableCodes[code] && code != 0:
		return true
	case permanentCodes[code] && code != 0:
		return false
	case code >= 200 && code <= 299: // API permission codes
		return false
	case transient:
		return true
	}
	return httpStatus == http.StatusTooManyRequests || httpStatus >= 500
}

// graphError is Meta's error object as it comes on the wire.
type graphError struct {
	Error *struct {
		Message      string          `json:"message"`
		Type         string          `json:"type"`
		Code         json.Number     `json:"code"`
		Subcode      json.Number     `json:"error_subcode"`
		ErrorData    json.RawMessage `json:"error_data"`
		FBTraceID    string          `json:"fbtrace_id"`
		IsTransient  bool            `json:"is_transient"`
		ErrorUserMsg string          `json:"error_user_msg"`
	} `json:"error"`
}

// decodeError makes an *Error of a non-2xx answer.
func decodeError(status int, header http.Header, body []byte) *Error {
	e := &Error{HTTPStatus: status, RetryAfter: retryAfter(header.Get("Retry-After"))}
	var g graphError
	if json.Unmarshal(body, &g) == nil && g.Error != nil && (g.Error.Message != "" || g.Error.Code != "") {
		ge := g.Error
		e.Message, e.Type, e.FBTraceID = ge.Message, ge.Type, ge.FBTraceID
		e.Code, _ = strconv.Atoi(string(ge.Code))
		e.Subcode, _ = strconv.Atoi(string(ge.Subcode))
		if e.Message == "" {
			e.Message = fmt.Sprintf("HTTP %d with an error object without a message", status)
		}
		e.Details = errorDetails(ge.ErrorData)
		if e.Details == "" {
			e.Details = ge.ErrorUserMsg
		}
		e.Temporary = Classify(status, e.Code, ge.IsTransient)
		return e
	}
	// No error object: a gateway's or proxy's own page.
	snippet := strings.TrimSpace(string(body))
	if len(snippet) > 200 {
		snippet = snippet[:200] + "…"
	}
	e.Message = fmt.Sprintf("HTTP %d without an error object", status)
	if snippet != "" {
		e.Details = snippet
	}
	e.Temporary = Classify(status, 0, false)
	return e
}

// errorDetails reads error_data: {"details": "..."} on the messages API,
// a plain string on the template API.
func errorDetails(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var obj struct {
		Details string `json:"details"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Details != "" {
		return obj.Details
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return min(time.Duration(min(n, int(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// maxRetryAfter caps a Retry-After: a day, well beyond any retry the
// sender schedules.
const maxRetryAfter = 24 * time.Hour

// transportError wraps a failure to get an answer: retryable, whatever
// it was (a timeout, a reset, a canceled context), since the provider may
// not have seen the request, and the message must not be lost.
func transportError(err error) *Error {
	return &Error{Err: err, Temporary: true}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
