// Package connections is the JSON API connector's domain (seed 000): a
// connection sends chosen subscriber fields to a URL when one of its trigger
// fields is collected on its channel. It also holds the delivery and
// attempt records the dispatcher keeps, and the rules for retrying.
package connections

import (
	"context"
	"log/slog"
	"time"
)

// Trigger is a collected field that fires a connection.
type Trigger string

const (
	TriggerEmail       Trigger = "email"
	TriggerPhone       Trigger = "phone"
	TriggerLocation    Trigger = "location"
	TriggerPostback    Trigger = "postback"
	TriggerBirthday    Trigger = "birthday"
	TriggerWebviewForm Trigger = "webview_form"
)

// Triggers lists every trigger.
var Triggers = []Trigger{TriggerEmail, TriggerPhone, TriggerLocation, TriggerPostback, TriggerBirthday, TriggerWebviewForm}

// PayloadFields are the seed's field names a connection can send, besides
// custom fields by name.
var PayloadFields = []string{"psid", "first_name", "last_name", "subscribed_at", "email", "labels", "page_id", "page_name",
	"phone_number", "user_location", "postbackid", "subscriber_id", "webview_form_id"}

// Source says who made a connection.
const (
	SourceAPI    = "api"    // POST /v1/connections
	SourceZapier = "zapier" // POST /v1/hooks (REST hook subscription)
)

// Secret signs deliveries (Standard Webhooks "whsec_..."). After a rotation
// the previous secret keeps signing until ExpiresAt, so receivers can switch.
type Secret struct {
	Value     string `json:"-" dynamodbav:"value"`
	ExpiresAt int64  `json:"expires_at,omitempty" dynamodbav:"expires_at,omitempty"` // 0: current
}

// redacted is how a signing secret prints.
const redacted = "whsec_[redacted]"

// String keeps the secret out of whatever prints a connection (%v and %+v,
// error messages): only its kind shows.
func (s Secret) String() string { return redacted }

// GoString does the same for %#v.
func (s Secret) GoString() string { return "connections.Secret{" + redacted + "}" }

// LogValue does the same for slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Connection is one webhook target.
type Connection struct {
	ID        string    `dynamodbav:"id"`
	TenantID  string    `dynamodbav:"tenant_id"`
	ChannelID string    `dynamodbav:"channel_id"`
	Name      string    `dynamodbav:"name"`
	URL       string    `dynamodbav:"url"`
	Triggers  []Trigger `dynamodbav:"triggers"`
	Fields    []string  `dynamodbav:"fields"`
	Secrets   []Secret  `dynamodbav:"secrets"`
	Source    string    `dynamodbav:"source"`
	Enabled   bool      `dynamodbav:"enabled"`
	// DisabledReason says why the system switched the connection off
	// (410 Gone, failing for 5 days); "" when a user did or it is on.
	DisabledReason string `dynamodbav:"disabled_reason,omitempty"`
	// FailingSince is when the current run of failed attempts began (unix
	// seconds); 0 after a success.
	FailingSince int64 `dynamodbav:"failing_since,omitempty"`
	CreatedAt    int64 `dynamodbav:"created_at"`
	UpdatedAt    int64 `dynamodbav:"updated_at"`
	// Version increases with every write, the dispatcher's included, so a
	// user's edit never undoes a switch-off it did not see.
	Version int64 `dynamodbav:"version"`
}

// Signing returns the secrets to sign with at now: the current one and any
// previous one still in its grace period.
func (c Connection) Signing(now time.Time) []string {
	var out []string
	for _, s := range c.Secrets {
		if s.ExpiresAt == 0 || s.ExpiresAt > now.Unix() {
			out = append(out, s.Value)
		}
	}
	return out
}

// Has reports whether the connection fires on t.
func (c Connection) Has(t Trigger) bool {
	for _, x := range c.Triggers {
		if x == t {
			return true
		}
	}
	return false
}

// Delivery is one payload for one connection: the unit the queue carries.
// ID is the Standard Webhooks webhook-id, the same for every attempt.
type Delivery struct {
	ID           string  `json:"id" dynamodbav:"id"`
	TenantID     string  `json:"tenant_id" dynamodbav:"tenant_id"`
	ConnectionID string  `json:"connection_id" dynamodbav:"connection_id"`
	Trigger      Trigger `json:"trigger" dynamodbav:"trigger"`
	// Payload is exactly the JSON body every attempt sends.
	Payload   []byte `json:"payload" dynamodbav:"payload"`
	CreatedAt int64  `json:"created_at" dynamodbav:"created_at"`
	// Test marks a sample sent by POST .../test (not retried).
	Test bool `json:"test,omitempty" dynamodbav:"test,omitempty"`
	// ConnVersion is the connection's Version when the delivery was routed
	// (0: unknown): the dispatcher sends it with that version of the
	// connection or a newer one. Carried by the queue only.
	ConnVersion int64 `json:"conn_version,omitempty" dynamodbav:"-"`
}

// Task is a delivery as the deliveries queue carries it: the delivery's own
// fields and, once it has been tried, how many attempts were made. The
// count travels with the message, so only attempts that were really made
// spend the delivery's MaxAttempts: a message that the queue hands out
// again after a fault of the dispatcher (a store error, a crash, a lost
// receive, a throttled invocation) is tried under the same number. A new
// delivery, a replay and a redrive are queued with no count.
type Task struct {
	Delivery
	// Attempts is how many attempts were made before this message was
	// queued (0: none).
	Attempts int `json:"attempts,omitempty"`
	// NotBefore (unix milliseconds) is when the next attempt is due, when
	// that is later than a queued message can be delayed (SQS delays a
	// message by 15 minutes at most): a message received earlier is hidden
	// until then without an attempt.
	NotBefore int64 `json:"not_before,omitempty"`
	// RateSlot (unix milliseconds) is the send time this delivery reserved
	// in its tenant's delivery rate when it was parked for it: received
	// again, it is sent without reserving another.
	RateSlot int64 `json:"rate_slot,omitempty"`
	// Unlogged are attempts of this delivery already made whose activity
	// log write failed: the message carries them until the dispatcher
	// writes them, with this message's next attempt, or at once when
	// LogOnly is set (a delivery done with: nothing is sent again).
	Unlogged []Attempt `json:"unlogged,omitempty"`
	LogOnly  bool      `json:"log_only,omitempty"`
}

// ConnAttempt is an attempt with the connection it was made for.
type ConnAttempt struct {
	TenantID, ConnectionID string
	Attempt
}

// Outcome classifies an attempt.
type Outcome string

const (
	OutcomeSuccess Outcome = "success"
	OutcomeTimeout Outcome = "timeout"
	OutcomeDNS     Outcome = "dns"
	OutcomeConnect Outcome = "connect"
	OutcomeTLS     Outcome = "tls"
	OutcomeHTTP    Outcome = "http" // a non-2xx answer
	// OutcomeBlocked is a target the SSRF guard refused at dial time.
	OutcomeBlocked Outcome = "blocked"
	// OutcomeSigning is a delivery that could not be signed (the
	// connection has no usable secret); nothing was sent.
	OutcomeSigning Outcome = "signing"
	// OutcomeDisabled is a delivery not sent because its connection is
	// switched off; it is kept as dead, to redrive once it is back on.
	OutcomeDisabled Outcome = "disabled"
)

// Attempt is one try of a delivery, as the activity report shows it.
type Attempt struct {
	Time        int64   `json:"time" dynamodbav:"time"` // unix milliseconds
	WebhookID   string  `json:"webhook_id" dynamodbav:"webhook_id"`
	Attempt     int     `json:"attempt" dynamodbav:"attempt"`
	Outcome     Outcome `json:"outcome" dynamodbav:"outcome"`
	HTTPCode    int     `json:"http_code" dynamodbav:"http_code"` // 0 when no response
	DurationMS  int64   `json:"duration_ms" dynamodbav:"duration_ms"`
	Trigger     Trigger `json:"trigger" dynamodbav:"trigger"`
	RequestBody string  `json:"request_body" dynamodbav:"request_body"`
	// RequestHeaders are the request's headers exactly as sent (the
	// webhook-* headers, Content-Type, Content-Length, User-Agent; the
	// names in Go's canonical form, as they go on the wire); absent when
	// nothing was sent (a signing failure, a switched-off connection) and
	// on attempts logged before they were recorded.
	RequestHeaders map[string]string `json:"request_headers,omitempty" dynamodbav:"request_headers,omitempty"`
	ResponseBody   string            `json:"response_body" dynamodbav:"response_body"` // cut at MaxResponseBody
	Error          string            `json:"error,omitempty" dynamodbav:"error,omitempty"`
	// Final is true when no further attempt will be made.
	Final bool `json:"final" dynamodbav:"final"`
}

// HourStat is one hour of a connection's attempts (those that sent
// something): the activity report's chart of the last StatsHours hours.
type HourStat struct {
	// Hour is the hour's start, unix seconds (UTC hours).
	Hour      int64 `json:"hour"`
	Successes int   `json:"successes"`
	Failures  int   `json:"failures"`
	// DurationSumMS and DurationMaxMS are the sum and the largest of the
	// attempts' durations (mean latency: sum / (successes + failures)).
	DurationSumMS int64 `json:"duration_sum_ms"`
	DurationMaxMS int64 `json:"duration_max_ms"`
}

// StatsHours is how many hours the activity report's stats cover.
const StatsHours = 24

// Dead is a delivery that ran out of attempts (or was refused for good), kept
// for listing and redrive.
type Dead struct {
	Delivery
	LastAttempt Attempt `json:"last_attempt" dynamodbav:"last_attempt"`
	DiedAt      int64   `json:"died_at" dynamodbav:"died_at"`
}

// DeadPage is one page of a tenant's dead deliveries, newest first. Next is
// the cursor of the following page, "" after the last one.
type DeadPage struct {
	Items []Dead
	Next  string
}

// Limits.
const (
	MaxConnectionsPerChannel = 50
	MaxResponseBody          = 20 << 10
	ActivityKept             = 10
	// ActivityTTL is how long attempts are kept (only the last 10 are shown).
	ActivityTTL = 7 * 24 * time.Hour
	// DeadTTL is how long dead deliveries can be redriven.
	DeadTTL = 14 * 24 * time.Hour
	// DisableAfter switches off a connection that has failed for this long
	// without one success.
	DisableAfter = 5 * 24 * time.Hour
)

// Store persists connections, attempts and dead deliveries.
type Store interface {
	CreateConnection(ctx context.Context, c Connection) error
	GetConnection(ctx context.Context, tenantID, id string) (Connection, error)
	// ListConnections returns the tenant's connections, all channels.
	ListConnections(ctx context.Context, tenantID string) ([]Connection, error)
	// PutConnection replaces a connection whose stored Version is
	// c.Version-1: an apperr.KindConflict if it changed meanwhile, an
	// apperr.KindNotFound if gone.
	PutConnection(ctx context.Context, c Connection) error
	DeleteConnection(ctx context.Context, tenantID, id string) error
	// RecordResult notes an attempt's effect on the connection: a success
	// clears FailingSince; a failure sets it if unset. It returns the
	// connection as it is afterwards. Callers make it only when the state
	// changes (the first failure, the first success after failures).
	RecordResult(ctx context.Context, tenantID, id string, success bool, at time.Time) (Connection, error)
	// Disable switches a connection off with a reason.
	Disable(ctx context.Context, tenantID, id, reason string, at time.Time) error

	AddAttempt(ctx context.Context, tenantID, connectionID string, a Attempt) error
	// Attempts returns the last n attempts, newest first.
	Attempts(ctx context.Context, tenantID, connectionID string, n int) ([]Attempt, error)
	// FindAttempt returns the latest logged attempt of one delivery (by its
	// webhook ID), however many attempts came after it: an apperr.KindNotFound
	// if none.
	FindAttempt(ctx context.Context, tenantID, connectionID, webhookID string) (Attempt, error)

	AddDead(ctx context.Context, d Dead) error
	// ListDead returns up to limit dead deliveries of a tenant, newest
	// first, from cursor ("" for the first page; DeadPage.Next for the
	// following one). A cursor that is not one ListDead made is an
	// apperr.KindInvalid on "cursor".
	ListDead(ctx context.Context, tenantID string, limit int, cursor string) (DeadPage, error)
	GetDead(ctx context.Context, tenantID, deliveryID string) (Dead, error)
	DeleteDead(ctx context.Context, tenantID, deliveryID string) error
}
