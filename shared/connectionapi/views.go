package connectionapi

import "github.com/startmsg/chatbackend/shared/connections"

// The answers of this package's routes. Fields are in alphabetical order,
// the order their JSON has always had.

// ConnectionView is a connection as the API shows it: never the secrets,
// except the current one right after it was made (create, rotate).
type ConnectionView struct {
	CreatedAt      int64    `json:"created_at"`
	DisabledReason string   `json:"disabled_reason,omitempty"`
	Enabled        bool     `json:"enabled"`
	FailingSince   int64    `json:"failing_since,omitempty"`
	Fields         []string `json:"fields"`
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	// NextProbeAt is when a paused connection's next probe is due (RFC 3339).
	NextProbeAt string `json:"next_probe_at,omitempty"`
	PageID      string `json:"page_id"`
	// PausedReason says why a paused connection waits: "endpoint failing
	// since <RFC 3339>", and "(host-wide: <host:port> …)" after it when
	// its endpoint host's breaker pauses it.
	PausedReason string `json:"paused_reason,omitempty"`
	Secret       string `json:"secret,omitempty"`
	Source       string `json:"source"`
	// State is active, paused (its circuit breaker or its endpoint host's
	// is open: deliveries wait, one probe per interval) or disabled.
	State     string                `json:"state"`
	Triggers  []connections.Trigger `json:"triggers"`
	UpdatedAt int64                 `json:"updated_at"`
	URL       string                `json:"url"`
}

// Activity is GET /v1/connections/{connectionId}/activity's answer: the
// last attempts, newest first, the connection, and its last 24 hours of
// attempts by hour (oldest first).
type Activity struct {
	Connection ConnectionView         `json:"connection"`
	Data       []connections.Attempt  `json:"data"`
	Stats      []connections.HourStat `json:"stats"`
}

// Replayed is a replay's data: the delivery is queued again.
type Replayed struct {
	Queued    bool   `json:"queued"`
	WebhookID string `json:"webhook_id"`
}

// Redriven is a dead delivery's redrive data: it is queued again.
type Redriven struct {
	ID     string `json:"id"`
	Queued bool   `json:"queued"`
}

// DeadView is a dead delivery as listed; payload is the JSON body it sends.
type DeadView struct {
	ConnectionID string              `json:"connection_id"`
	DiedAt       int64               `json:"died_at"`
	ID           string              `json:"id"`
	LastAttempt  connections.Attempt `json:"last_attempt"`
	Payload      string              `json:"payload"`
	Trigger      connections.Trigger `json:"trigger"`
}

// DeadPage is GET /v1/deliveries/dead's answer.
type DeadPage struct {
	Data  []DeadView `json:"data"`
	Links DeadLinks  `json:"links"`
}

// DeadLinks holds the next page's URL, null on the last page.
type DeadLinks struct {
	Next *string `json:"next"`
}

// HookCreated is POST /v1/hooks' answer: Zapier reads the hook's id at the
// top level.
type HookCreated struct {
	Data ConnectionView `json:"data"`
	ID   string         `json:"id"`
}

// SamplePayload is one of GET /v1/hooks/sample's payloads: the flat JSON of a
// delivery, every value a string.
type SamplePayload map[string]string

// HookBody is POST /v1/hooks' body (Zapier's subscribe call).
type HookBody = hookBody
