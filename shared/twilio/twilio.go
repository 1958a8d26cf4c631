// Package twilio sends SMS and voice calls through Twilio's Programmable
// Messaging and Voice APIs (the 2010-04-01 REST API, through Twilio's
// official Go library, github.com/twilio/twilio-go), and signs and checks
// Twilio's webhook signatures (X-Twilio-Signature).
//
// Why the library and not plain net/http: linked into the sender it adds
// 0.38 MiB to its linux/arm64 bootstrap (8.06 → 8.44 MiB, under the 10 MiB
// budget) and about 0.3 ms and 6 KB to its package initialisation (the
// client package compiles two regexps at init; the sender's init budget is
// 1.5× the 41.6 ms baseline). Its requests ignore the caller's context
// (it builds them on context.Background()), so every call goes through an
// http.Client whose transport puts the call's context back on the request
// and sends it to the configured base URL (the sandbox, tests): the
// sender's deadline and Lambda's shutdown cancel a call in flight.
package twilio

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	tclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/startmsg/chatbackend/shared/messages"
)

// BaseURL is Twilio's REST API.
const BaseURL = "https://api.twilio.com"

// Limits of what is sent.
const (
	// MaxSMSChars is the longest SMS body Twilio takes (in characters;
	// longer ones are refused with 21617).
	MaxSMSChars = messages.MaxSMSChars
	// MaxTwiMLChars is the longest TwiML a call may carry in its Twiml
	// parameter.
	MaxTwiMLChars = messages.MaxTwiMLChars
)

// Credentials are a channel's Twilio account and sender.
type Credentials struct {
	AccountSID string
	AuthToken  string
	// From is the sending number (E.164); MessagingServiceSID may take its
	// place for SMS.
	From                string
	MessagingServiceSID string
	// BaseURL overrides BaseURL ("" for Twilio's own).
	BaseURL string
}

// Client calls Twilio. The zero value uses http.DefaultTransport.
type Client struct {
	// Transport sends the requests (nil: http.DefaultTransport).
	Transport http.RoundTripper
	// Timeout bounds one call (default 15 s).
	Timeout time.Duration
}

// Sent is Twilio's answer to an accepted message or call.
type Sent struct {
	SID    string // SM… (message) or CA… (call)
	Status string // queued, accepted, …
}

// SMS sends body to the number to (E.164); statusCallback, when set, is
// the URL Twilio posts the message's statuses to.
func (c *Client) SMS(ctx context.Context, cr Credentials, to, body, statusCallback string) (Sent, error) {
	p := &api.CreateMessageParams{}
	p.SetPathAccountSid(cr.AccountSID).SetTo(to).SetBody(body)
	if cr.MessagingServiceSID != "" {
		p.SetMessagingServiceSid(cr.MessagingServiceSID)
	} else {
		p.SetFrom(cr.From)
	}
	if statusCallback != "" {
		p.SetStatusCallback(statusCallback)
	}
	m, err := c.service(ctx, cr).CreateMessage(p)
	if err != nil {
		return Sent{}, asError(ctx, err)
	}
	return Sent{SID: deref(m.Sid), Status: deref(m.Status)}, nil
}

// Call calls the number to and plays twiml; statusCallback, when set,
// receives the call's progress (initiated, ringing, answered, completed).
func (c *Client) Call(ctx context.Context, cr Credentials, to, twiml, statusCallback string) (Sent, error) {
	p := &api.CreateCallParams{}
	p.SetPathAccountSid(cr.AccountSID).SetTo(to).SetFrom(cr.From).SetTwiml(twiml)
	if statusCallback != "" {
		p.SetStatusCallback(statusCallback).SetStatusCallbackMethod(http.MethodPost).
			SetStatusCallbackEvent([]string{"initiated", "ringing", "answered", "completed"})
	}
	call, err := c.service(ctx, cr).CreateCall(p)
	if err != nil {
		return Sent{}, asError(ctx, err)
	}
	return Sent{SID: deref(call.Sid), Status: deref(call.Status)}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// service is the library's API service for one call: its requests carry
// ctx and go to cr's base URL.
func (c *Client) service(ctx context.Context, cr Credentials) *api.ApiService {
	base := cr.BaseURL
	if base == "" {
		base = BaseURL
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	tc := &tclient.Client{
		Credentials: tclient.NewCredentials(cr.AccountSID, cr.AuthToken),
		HTTPClient: &http.Client{
			Transport: callTransport{ctx: ctx, base: strings.TrimRight(base, "/"), next: rt},
			Timeout:   timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
	tc.SetAccountSid(cr.AccountSID)
	return api.NewApiServiceWithClient(tc)
}

// callTransport sends the library's requests with the call's context, to
// the base URL.
type callTransport struct {
	ctx  context.Context
	base string
	next http.RoundTripper
}

func (t callTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.WithContext(t.ctx)
	if t.base != BaseURL {
		u, err := url.Parse(t.base + r.URL.Path)
		if err != nil {
			return nil, err
		}
		u.RawQuery = r.URL.RawQuery
		r.URL, r.Host = u, u.Host
	}
	return t.next.RoundTrip(r)
}

// Error is a call Twilio did not take: its error object
// ({code, message, more_info, status}), or no answer.
type Error struct {
	HTTPStatus int    // 0 when no answer came
	Code       int    // Twilio's error code (21211, 21614, …); 0 when none
	Message    string // Twilio's message
	MoreInfo   string
	// Err is the transport error, when no answer came.
	Err error
}

func (e *Error) Error() string {
	if e.HTTPStatus == 0 {
		return "twilio: " + e.Message
	}
	return fmt.Sprintf("twilio: %d %s (HTTP %d)", e.Code, e.Message, e.HTTPStatus)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may pass later: no answer,
// 429 (and Twilio's 20429 too many requests) or 5xx. Any other refusal
// (an invalid or unreachable number, a landline for SMS, bad credentials)
// is for good.
func (e *Error) Retryable() bool {
	return e.HTTPStatus == 0 || e.HTTPStatus == http.StatusTooManyRequests || e.HTTPStatus >= 500 || e.Code == 20429
}

// ProviderCode is Twilio's code, or "timeout", "http_<status>",
// "transport" when it gave none.
func (e *Error) ProviderCode() string {
	switch {
	case e.Code != 0:
		return strconv.Itoa(e.Code)
	case e.HTTPStatus != 0:
		return "http_" + strconv.Itoa(e.HTTPStatus)
	case errors.Is(e.Err, context.DeadlineExceeded) || isTimeout(e.Err):
		return "timeout"
	}
	return "transport"
}

// ProviderMessage is Twilio's message.
func (e *Error) ProviderMessage() string { return e.Message }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// asError turns the library's errors into *Error.
func asError(ctx context.Context, err error) error {
	var te *tclient.TwilioRestError
	if errors.As(err, &te) {
		return &Error{HTTPStatus: te.Status, Code: te.Code, Message: te.Message, MoreInfo: te.MoreInfo}
	}
	var ve *tclient.RestErrorV1
	if errors.As(err, &ve) {
		return &Error{HTTPStatus: ve.HttpStatusCode, Code: ve.Code, Message: ve.Message}
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w: %v", ctx.Err(), err)
	}
	return &Error{Message: err.Error(), Err: err}
}

// SayTwiML is the TwiML of a call that says text (messages.SayTwiML).
func SayTwiML(text string) string { return messages.SayTwiML(text) }

// Sign is Twilio's X-Twilio-Signature of a form-encoded request to
// fullURL: base64 of HMAC-SHA1, keyed by the account's auth token, over the
// URL followed by every parameter's name and value, sorted by name.
func Sign(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Valid reports whether signature is Twilio's signature of a request to
// fullURL with params (Twilio's own validator, which also accepts the URL
// with or without its port).
func Valid(authToken, fullURL string, params url.Values, signature string) bool {
	if signature == "" || authToken == "" {
		return false
	}
	flat := make(map[string]string, len(params))
	for k, v := range params {
		if len(v) != 1 {
			// The library's validator takes one value per name; a repeated
			// name is checked by our own signer.
			return hmac.Equal([]byte(Sign(authToken, fullURL, params)), []byte(signature))
		}
		flat[k] = v[0]
	}
	v := tclient.NewRequestValidator(authToken)
	return v.Validate(fullURL, flat, signature)
}
