// Package installations is seed 004's sender installations: a WhatsApp
// sender that runs on the customer's own computer. The API queues its
// messages (the seed's add_message, as JSON or as a link); the installed
// program pulls them whenever it runs, each under a lease, and acks each
// one sent or failed. Messages created outside the installation's allowed
// hours are held until the next opening (shared/hours), released by the
// scheduler (shared/scheduler, kind ReleaseKind).
//
// Order. Each installation's messages are handed out strictly in creation
// order (a per-installation sequence number given when the message is
// accepted; the one transaction that stores the message and its queue
// entry lands only if no later number landed first, so that no entry is
// ever there after a later one was seen): a pull hands out messages from
// the head of the queue and
// stops at the first one that is leased to an earlier pull and not yet
// acked, or held. A later message is never handed out while an earlier
// one is leased (head-of-line): if the sender dies holding a lease, that
// message and the ones after it come back, in order, once the lease ends.
//
// Exactly once after an ack. A pull leases messages with a random lease
// token; an ack must carry the token of the latest lease of its message.
// In one transaction it removes the message's queue entry (on the
// condition that the entry carries that lease and no ack) and records the
// message's status. An ack of an earlier version recorded itself on the
// entry first (one conditional write), then did the other two; a pull
// that meets an entry so recorded goes past it and finishes that ack,
// should its process have died. A stale ack (its lease ended and the
// message was handed out again) is refused; an ack repeated with the same
// token is answered as the first one was.
package installations

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/hours"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/scheduler"
)

// ReleaseKind is the scheduler's kind of a held message's release.
const ReleaseKind = "installation.release"

// SecretPrefix starts every installation secret.
const SecretPrefix = "is_"

// Limits.
const (
	MaxName       = 100
	MaxNumbers    = 20
	MaxLinkBytes  = 2048
	MaxPull       = 100 // messages one pull hands out
	DefaultPull   = 10
	MaxWait       = 20 * time.Second
	DefaultLease  = 120 * time.Second
	MinLease      = 10 * time.Second
	MaxLease      = 15 * time.Minute
	MaxErrorChars = 1024
	// OnlineFor is how long after its last pull an installation counts as
	// online.
	OnlineFor = 60 * time.Second
)

// Installation is one installed sender on a tenant's WhatsApp channel.
type Installation struct {
	UUID      string `json:"uuid" dynamodbav:"uuid"`
	TenantID  string `json:"-" dynamodbav:"tenant_id"`
	ChannelID string `json:"channel_id" dynamodbav:"channel_id"`
	Name      string `json:"name" dynamodbav:"name"`
	// Numbers are the installation's own sender numbers (E.164):
	// FromMobileNumber must be one of them.
	Numbers []string `json:"numbers" dynamodbav:"numbers"`
	// UseAPI is the seed's "Use API" switch (main menu → settings → API):
	// off, add_message is refused.
	UseAPI bool `json:"use_api" dynamodbav:"use_api"`
	// Hours are the allowed hours; nil: the channel's (ChannelHours),
	// also after an update with hours null.
	Hours *hours.Schedule `json:"hours" dynamodbav:"hours,omitempty"`
	// DefaultCountry reads local numbers given without ToCountryCode
	// (ISO 3166-1 alpha-2; the channel's when the installation was made).
	DefaultCountry string `json:"default_country" dynamodbav:"default_country"`
	SecretHash     string `json:"-" dynamodbav:"secret_hash"`
	CreatedAt      int64  `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt      int64  `json:"updated_at" dynamodbav:"updated_at"`
	// LastSeenAt is its last pull (Unix ms, 0: never); Online is a pull
	// within OnlineFor. Both are read from the installation's state.
	LastSeenAt int64 `json:"last_seen_at" dynamodbav:"-"`
	Online     bool  `json:"online" dynamodbav:"-"`
}

// Entry is one message in an installation's queue.
type Entry struct {
	Seq          int64  `dynamodbav:"seq"`
	MessageID    string `dynamodbav:"msg"`
	TenantID     string `dynamodbav:"tenant_id"`
	To           string `dynamodbav:"to"`
	From         string `dynamodbav:"from,omitempty"`
	Text         string `dynamodbav:"text"`
	DownloadLink string `dynamodbav:"link,omitempty"`
	CreatedAt    int64  `dynamodbav:"created_at"`
	HoldUntil    int64  `dynamodbav:"hold_until,omitempty"` // held until (Unix ms); 0: pullable
	Lease        string `dynamodbav:"lease,omitempty"`
	LeaseUntil   int64  `dynamodbav:"lease_until,omitempty"`
	// Acked is the lease that acked the entry, with the ack's status,
	// time and failure: set by an ack before it sets the message's status
	// and deletes the entry (Store.Finish completes it).
	Acked      string            `dynamodbav:"acked,omitempty"`
	AckStatus  messages.Status   `dynamodbav:"ack_status,omitempty"`
	AckAt      int64             `dynamodbav:"ack_at,omitempty"`
	AckFailure *messages.Failure `dynamodbav:"ack_failure,omitempty"`
}

// Store keeps installations, their queues and their state. Errors are
// apperr kinds.
type Store interface {
	CreateInstallation(ctx context.Context, in Installation) error
	// GetInstallation reads one by UUID (any tenant's: the caller scopes).
	GetInstallation(ctx context.Context, uuid string) (Installation, error)
	// LastSeen is an installation's last pull (Unix ms, 0: never).
	LastSeen(ctx context.Context, uuid string) (int64, error)
	ListInstallations(ctx context.Context, tenantID, channelID string) ([]Installation, error)
	// UpdateInstallation replaces an existing installation's settings.
	UpdateInstallation(ctx context.Context, in Installation) error
	// ChannelHours are the channel's allowed hours (zero: always open).
	ChannelHours(ctx context.Context, tenantID, channelID string) (hours.Schedule, error)
	SetChannelHours(ctx context.Context, tenantID, channelID string, s hours.Schedule) error
	// Enqueue stores a message and its queue entry (and, for a held
	// message, its release) with a sequence number of the installation,
	// all in one transaction that lands only if no later number landed
	// first: an entry is never visible before the ones numbered before
	// it. Numbers only go up (one may be skipped). It returns the entry as
	// stored.
	Enqueue(ctx context.Context, uuid string, m messages.Message, e Entry, release *scheduler.Due) (Entry, error)
	// Head lists up to limit entries from the head of the queue, in
	// order: all the entries stored before it began, up to limit (a later
	// one without an earlier one never).
	Head(ctx context.Context, uuid string, limit int) ([]Entry, error)
	// Lease leases entries until until, in order, each to its Lease, and
	// stops at the first another pull got first (or acked meanwhile): it
	// returns how many it leased (a prefix of entries).
	Lease(ctx context.Context, uuid string, entries []Entry, token string, now, until time.Time) (int, error)
	// Ack ends a leased message (its queue entry seq, leased with token):
	// the entry goes and the message is marked st (sent or failed, with
	// f) at now, in one transaction. A token that is not the entry's
	// latest lease is ErrStaleLease; an entry already gone is ErrNoEntry,
	// unless this very lease acked it (then the message as acked, again).
	Ack(ctx context.Context, tenantID, uuid, messageID string, seq int64, token string, st messages.Status, f *messages.Failure, now time.Time) (messages.Message, error)
	// AckMany is Ack for several messages: one error per ack (nil:
	// acked; else an apperr, as Ack's), or an error that is none of theirs.
	AckMany(ctx context.Context, tenantID, uuid string, acks []AckItem, now time.Time) ([]error, error)
	// Finish completes an ack recorded on an entry (Acked) whose message
	// status or entry deletion did not happen yet; idempotent.
	Finish(ctx context.Context, uuid string, e Entry) error
	// Release makes a held message queued and its entry pullable;
	// changed is false when it was not held (already released, or gone).
	Release(ctx context.Context, tenantID, messageID string) (uuid string, changed bool, err error)
	// Seen records a pull at now.
	Seen(ctx context.Context, uuid string, now time.Time) error
}

// AckItem is one ack of a batch, validated.
type AckItem struct {
	ID      string
	Seq     int64
	Lease   string
	Status  messages.Status
	Failure *messages.Failure
}

// MaxAcks is the most acks one batch takes.
const MaxAcks = 50

// Store errors.
var (
	ErrStaleLease = apperr.New(apperr.KindConflict, "This lease is no longer the message's: the lease ended and the message was handed out again. Ack with the lease of the latest pull that returned it.")
	ErrNoEntry    = apperr.New(apperr.KindConflict, "This message is no longer in the installation's queue: it was acked already.")
)

// Input is what a create or an update sets (nil: unchanged; on create,
// the default).
type Input struct {
	Name    *string   `json:"name"`
	Numbers *[]string `json:"numbers"`
	UseAPI  *bool     `json:"use_api"`
	// Hours is an hours.Schedule (kept raw here: the OpenAPI document
	// tells request types from answer types); null on an update removes
	// the installation's own, so that its channel's apply again.
	Hours          json.RawMessage `json:"hours"`
	DefaultCountry *string         `json:"default_country"`
}

// ParseHours reads a schedule given in a request and validates it.
func ParseHours(field string, raw json.RawMessage) (hours.Schedule, error) {
	var h hours.Schedule
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return h, apperr.Invalid(field, "must be an object {time_zone, week: {mon: [{from, to}], …}, holidays: [YYYY-MM-DD]}")
	}
	if err := h.Validate(field); err != nil {
		return h, err
	}
	return h, nil
}

// Phone normalises a number a sender dials: raw, with an optional
// country calling code, else read in country.
type Phone func(raw, callingCode, country string) (string, error)

// apply validates in onto inst.
func (in Input) apply(inst *Installation, phone Phone, create bool) error {
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if n == "" || utf8.RuneCountInString(n) > MaxName || strings.ContainsFunc(n, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return apperr.Invalidf("name", "must be 1 to %d printable characters", MaxName)
		}
		inst.Name = n
	} else if create {
		return apperr.Invalid("name", "is required")
	}
	if in.DefaultCountry != nil {
		c := strings.ToUpper(strings.TrimSpace(*in.DefaultCountry))
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			return apperr.Invalid("default_country", "must be an ISO 3166-1 alpha-2 code such as IL")
		}
		inst.DefaultCountry = c
	}
	if in.Numbers != nil {
		if len(*in.Numbers) > MaxNumbers {
			return apperr.Invalidf("numbers", "at most %d numbers", MaxNumbers)
		}
		out := []string{}
		seen := map[string]bool{}
		for i, raw := range *in.Numbers {
			if phone == nil {
				return fmt.Errorf("installations: no phone normaliser")
			}
			n, err := phone(raw, "", inst.DefaultCountry)
			if err != nil {
				return apperr.Invalidf(fmt.Sprintf("numbers[%d]", i), "%q is not a valid phone number", raw)
			}
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
		inst.Numbers = out
	} else if create {
		inst.Numbers = []string{}
	}
	if in.UseAPI != nil {
		inst.UseAPI = *in.UseAPI
	}
	if string(bytes.TrimSpace(in.Hours)) == "null" {
		// Back to the channel's hours (on a create: the default anyway).
		inst.Hours = nil
	} else if len(in.Hours) > 0 {
		h, err := ParseHours("hours", in.Hours)
		if err != nil {
			return err
		}
		inst.Hours = &h
	}
	return nil
}

// Schedule is the installation's allowed hours: its own, else the
// channel's.
func (s *Service) Schedule(ctx context.Context, inst Installation) (hours.Schedule, error) {
	if inst.Hours != nil {
		return *inst.Hours, nil
	}
	return s.Store.ChannelHours(ctx, inst.TenantID, inst.ChannelID)
}
