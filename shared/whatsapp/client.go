// Package whatsapp is a client of Meta's WhatsApp Cloud API (the Graph
// API): it sends text, template and media messages
// (POST /{version}/{phone_number_id}/messages), reads and updates the
// business profile and creates and lists message templates. The base URL
// and API version are configuration, so the same client talks to Meta or
// to the local provider sandbox (infra/local/sandbox).
//
// Every failure is an *Error that says whether a retry may succeed
// (timeouts, 429, 5xx, Meta's temporary codes) or not (131047 outside the
// 24-hour window, 132001 unknown template, 131026 undeliverable, 100
// invalid parameter, 190 bad token, ...), with Meta's code and text.
//
// Only net/http and encoding/json: it adds little to a function's binary.
// The access token travels in the Authorization header alone; nothing here
// logs, and Credentials never prints it.
package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/lazyre"
)

// Defaults: Meta's Graph API host and the version of the Cloud API
// description this client follows (business-messaging-api v23.0).
const (
	DefaultBaseURL = "https://graph.facebook.com"
	DefaultVersion = "v23.0"
	// DefaultTimeout bounds one call, connection to last byte.
	DefaultTimeout = 15 * time.Second
)

// Environment variables that point the system at a Cloud API: Meta's by
// default, the provider sandbox under `make run` and in the tests.
const (
	EnvBaseURL = "WHATSAPP_API_BASE_URL"
	EnvVersion = "WHATSAPP_API_VERSION"
)

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 1 << 20

// Config is where the Cloud API is and how long a call may take.
type Config struct {
	BaseURL string // DefaultBaseURL when empty
	Version string // DefaultVersion when empty
	Timeout time.Duration
	// HTTPClient replaces the client's own (tests).
	HTTPClient *http.Client
}

var versionRE = &lazyre.Regexp{Expr: `^v[0-9]{1,3}\.[0-9]{1,2}$`}

// ConfigFromEnv reads EnvBaseURL and EnvVersion.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{BaseURL: strings.TrimSpace(getenv(EnvBaseURL)), Version: strings.TrimSpace(getenv(EnvVersion))}
	_, err := New(c)
	return c, err
}

// NewFromEnv is New with the settings of EnvBaseURL and EnvVersion
// (Meta's Graph API and DefaultVersion when unset).
func NewFromEnv(getenv func(string) string) (*Client, error) {
	c, err := ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	return New(c)
}

// Client calls the Cloud API. It is safe for concurrent use.
type Client struct {
	base    string
	version string
	hc      *http.Client
}

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	base, err := checkBase(base)
	if err != nil {
		return nil, err
	}
	version := cfg.Version
	if version == "" {
		version = DefaultVersion
	}
	if !versionRE.MatchString(version) {
		return nil, fmt.Errorf("%s %q: want a Graph API version such as %s", EnvVersion, version, DefaultVersion)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		hc = &http.Client{Timeout: timeout, Transport: newTransport(timeout)}
	}
	return &Client{base: base, version: version, hc: hc}, nil
}

// checkBase accepts an http(s) URL without query or fragment and returns
// it without its trailing slash.
func checkBase(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%s %q: want an http(s) base URL such as %s", EnvBaseURL, base, DefaultBaseURL)
	}
	return strings.TrimRight(base, "/"), nil
}

// newTransport is a pool for one host: kept-alive connections (a sender
// instance talks to graph.facebook.com only), no proxy from the
// environment, bounded handshakes.
func newTransport(timeout time.Duration) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
}

// Credentials are one WhatsApp channel's: the system user's access token,
// the business phone number's id and, for templates, the WhatsApp Business
// Account's id. They never print their token.
type Credentials struct {
	AccessToken   string
	PhoneNumberID string
	WABAID        string
	// BaseURL, when set, replaces the client's for this channel's calls
	// (a channel pointed at the sandbox); the client's version stays.
	BaseURL string
}

// String hides the token.
func (c Credentials) String() string {
	return fmt.Sprintf("{phone_number_id:%s waba_id:%s base_url:%s access_token:%s}", c.PhoneNumberID, c.WABAID, c.BaseURL, mask(c.AccessToken))
}

// GoString hides the token from %#v too.
func (c Credentials) GoString() string { return c.String() }

func mask(s string) string {
	if s == "" {
		return "(none)"
	}
	return "(set)"
}

// graphIDRE is a Graph API id: digits (1 to 32 of them, checked apart:
// a bounded repetition in a regexp compiles to that many copies at init).
var graphIDRE = &lazyre.Regexp{Expr: `^[0-9]+$`}

func checkID(name, id string) error {
	if len(id) > 32 || !graphIDRE.MatchString(id) {
		return invalidf("%s must be a numeric Graph API id, not %q", name, id)
	}
	return nil
}

// call sends one request and decodes a 2xx answer into out.
func (c *Client) call(ctx context.Context, cr Credentials, method, path string, query url.Values, in, out any) error {
	if cr.AccessToken == "" {
		return invalidf("no access token")
	}
	if strings.ContainsAny(cr.AccessToken, " \r\n\t") {
		return invalidf("the access token holds white space")
	}
	base := c.base
	if cr.BaseURL != "" {
		b, err := checkBase(cr.BaseURL)
		if err != nil {
			return invalidf("%v", err)
		}
		base = b
	}
	u := base + "/" + c.version + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return invalidf("%v", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return invalidf("%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+cr.AccessToken)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return transportError(scrub(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return transportError(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp.StatusCode, resp.Header, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// A 2xx the client cannot read: the provider acted on the
		// request, so a retry could repeat it.
		return &Error{HTTPStatus: resp.StatusCode, Message: "unreadable answer: " + err.Error()}
	}
	return nil
}

// scrub drops the URL from a *url.Error: it names the phone number id and
// nothing secret, but the error text is shorter and stable without it.
func scrub(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s %s: %w", ue.Op, "request", ue.Err)
	}
	return err
}
