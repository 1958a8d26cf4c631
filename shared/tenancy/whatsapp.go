package tenancy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// WhatsApp channels hold the Cloud API credentials of their number: the
// access token that sends, the phone number id and the WhatsApp Business
// Account (WABA) id it belongs to, and the Meta app's secret and verify
// token that authenticate the webhook. They are set with the admin API and
// never shown again: no answer and no log line carries the token, the
// secret or the verify token (Secret redacts itself).

// Secret is a credential value that never prints: %v, %+v, %#v, slog and
// JSON all show "[redacted]". Reveal gives the value to the one caller
// that uses it (the sender's Authorization header, the signature check).
type Secret string

const redactedSecret = "[redacted]"

// Reveal is the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String keeps the secret out of whatever prints it.
func (s Secret) String() string { return redactedSecret }

// GoString does the same for %#v.
func (s Secret) GoString() string { return "tenancy.Secret(" + redactedSecret + ")" }

// LogValue does the same for slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redactedSecret) }

// MarshalJSON does the same for JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redactedSecret) }

// WhatsAppCredentials are a WhatsApp channel's Cloud API credentials, as
// the sender and the webhook read them.
type WhatsAppCredentials struct {
	TenantID      string `dynamodbav:"tenant_id"`
	ChannelID     string `dynamodbav:"channel_id"`
	AccessToken   Secret `dynamodbav:"access_token"`
	PhoneNumberID string `dynamodbav:"phone_number_id"`
	WABAID        string `dynamodbav:"waba_id"`
	AppSecret     Secret `dynamodbav:"app_secret"`
	// VerifyHash is the verify token's SHA-256 (Hash): the handshake looks
	// the presented token up by it, so the token itself is not kept.
	VerifyHash string `dynamodbav:"verify_hash"`
	UpdatedAt  int64  `dynamodbav:"updated_at"`
}

// WhatsAppInfo is what a WhatsApp channel shows of its credentials: the ids
// (not secrets) and whether the secrets are set.
type WhatsAppInfo struct {
	PhoneNumberID string `json:"phone_number_id" dynamodbav:"phone_number_id"`
	WABAID        string `json:"waba_id" dynamodbav:"waba_id"`
	// Configured is true once the access token, app secret and verify
	// token are set (they are never shown).
	Configured bool  `json:"configured" dynamodbav:"configured"`
	UpdatedAt  int64 `json:"updated_at" dynamodbav:"updated_at"`
}

// WhatsAppRoute is what the webhook needs of the channel a phone number id
// or a WABA id names: whose it is and the secret that signs its calls.
type WhatsAppRoute struct {
	TenantID       string `dynamodbav:"tenant_id"`
	ChannelID      string `dynamodbav:"channel_id"`
	DefaultCountry string `dynamodbav:"default_country"`
	PhoneNumberID  string `dynamodbav:"phone_number_id"`
	WABAID         string `dynamodbav:"waba_id"`
	AppSecret      Secret `dynamodbav:"app_secret"`
}

// WhatsAppInput sets a WhatsApp channel's credentials. The first call must
// give all five; a later one may leave any out to keep it (rotating the
// access token alone, say).
type WhatsAppInput struct {
	AccessToken   string `json:"access_token"`
	PhoneNumberID string `json:"phone_number_id"`
	WABAID        string `json:"waba_id"`
	AppSecret     string `json:"app_secret"`
	VerifyToken   string `json:"verify_token"`
}

// Limits of the credentials' lengths.
const (
	maxAccessToken = 4096
	maxAppSecret   = 200
	maxVerifyToken = 200
	maxMetaID      = 32
)

// WhatsAppStore persists WhatsApp credentials, their lookups (by phone
// number id, by WABA id, by verify token) and instance ids.
type WhatsAppStore interface {
	// NextInstanceID allocates a new instance id (an atomic counter: never
	// the same twice).
	NextInstanceID(ctx context.Context) (int64, error)
	// SetWhatsApp writes c as the channel's credentials, replacing prev
	// (nil: none yet), with the channel's info, the lookups, and, if
	// instanceID is not 0, the channel's new instance id with its lookup,
	// all in one transaction. A phone number id another channel holds is an
	// apperr.KindExists.
	SetWhatsApp(ctx context.Context, ch Channel, prev *WhatsAppCredentials, c WhatsAppCredentials, instanceID int64) error
	// WhatsAppCredentials reads a channel's credentials; an
	// apperr.KindNotFound if none are set.
	WhatsAppCredentials(ctx context.Context, tenantID, channelID string) (WhatsAppCredentials, error)
	// WhatsAppByPhone finds the channel of a phone number id.
	WhatsAppByPhone(ctx context.Context, phoneNumberID string) (WhatsAppRoute, error)
	// WhatsAppByWABA lists the channels of a WABA id.
	WhatsAppByWABA(ctx context.Context, wabaID string) ([]WhatsAppRoute, error)
	// WhatsAppVerifyToken reports whether some channel's verify token
	// hashes to hash.
	WhatsAppVerifyToken(ctx context.Context, hash string) (bool, error)
	// ChannelByInstance finds the channel of an instance id.
	ChannelByInstance(ctx context.Context, id int64) (tenantID, channelID string, err error)
}

// metaID checks a numeric Meta id (phone number id, WABA id).
func metaID(field, v string) error {
	if v == "" || len(v) > maxMetaID || strings.Trim(v, "0123456789") != "" {
		return apperr.Invalidf(field, "must be the numeric id Meta shows (1 to %d digits)", maxMetaID)
	}
	return nil
}

// printable checks a secret's characters: printable ASCII without spaces.
func printable(field, v string, max int) error {
	if len(v) > max {
		return apperr.Invalidf(field, "must be at most %d characters", max)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return apperr.Invalidf(field, "must be printable ASCII without spaces")
		}
	}
	return nil
}

// SetWhatsApp sets (or changes) a WhatsApp channel's credentials; the
// channel gets an instance id if it has none yet.
func (s *Service) SetWhatsApp(ctx context.Context, wa WhatsAppStore, tenantID, channelID string, in WhatsAppInput) (Channel, error) {
	in.PhoneNumberID = strings.TrimSpace(in.PhoneNumberID)
	in.WABAID = strings.TrimSpace(in.WABAID)
	for _, f := range []struct {
		name, v string
		max     int
	}{{"access_token", in.AccessToken, maxAccessToken}, {"app_secret", in.AppSecret, maxAppSecret}, {"verify_token", in.VerifyToken, maxVerifyToken}} {
		if err := printable(f.name, f.v, f.max); err != nil {
			return Channel{}, err
		}
	}
	if in.PhoneNumberID != "" {
		if err := metaID("phone_number_id", in.PhoneNumberID); err != nil {
			return Channel{}, err
		}
	}
	if in.WABAID != "" {
		if err := metaID("waba_id", in.WABAID); err != nil {
			return Channel{}, err
		}
	}
	ch, err := s.Store.GetChannel(ctx, tenantID, channelID)
	if err != nil {
		return Channel{}, err
	}
	if ch.Kind != WhatsApp {
		return Channel{}, apperr.Invalidf("kind", "credentials are for whatsapp channels only; channel %s is %s", ch.ID, ch.Kind)
	}
	var prev *WhatsAppCredentials
	c := WhatsAppCredentials{TenantID: tenantID, ChannelID: ch.ID}
	switch old, err := wa.WhatsAppCredentials(ctx, tenantID, ch.ID); {
	case err == nil:
		prev, c = &old, old
	case !apperr.Is(err, apperr.KindNotFound):
		return Channel{}, err
	}
	if in.AccessToken != "" {
		c.AccessToken = Secret(in.AccessToken)
	}
	if in.PhoneNumberID != "" {
		c.PhoneNumberID = in.PhoneNumberID
	}
	if in.WABAID != "" {
		c.WABAID = in.WABAID
	}
	if in.AppSecret != "" {
		c.AppSecret = Secret(in.AppSecret)
	}
	if in.VerifyToken != "" {
		c.VerifyHash = Hash(in.VerifyToken)
	}
	for _, f := range []struct{ name, v string }{{"access_token", c.AccessToken.Reveal()}, {"phone_number_id", c.PhoneNumberID},
		{"waba_id", c.WABAID}, {"app_secret", c.AppSecret.Reveal()}, {"verify_token", c.VerifyHash}} {
		if f.v == "" {
			return Channel{}, apperr.Invalid(f.name, "is required when a channel's credentials are first set (access_token, phone_number_id, waba_id, app_secret and verify_token)")
		}
	}
	c.UpdatedAt = s.Now().Unix()
	var newID int64
	if ch.InstanceID == 0 {
		if newID, err = wa.NextInstanceID(ctx); err != nil {
			return Channel{}, err
		}
	}
	if err := wa.SetWhatsApp(ctx, ch, prev, c, newID); err != nil {
		return Channel{}, err
	}
	if newID != 0 {
		ch.InstanceID = newID
	}
	ch.WhatsApp = &WhatsAppInfo{PhoneNumberID: c.PhoneNumberID, WABAID: c.WABAID, Configured: true, UpdatedAt: c.UpdatedAt}
	return ch, nil
}

// InstanceSegment is how an instance id appears in a seed-002 path:
// "instance" followed by the id ("instance123").
const InstanceSegment = "instance"

// ParseInstance reads a path segment "instance<id>" (or the bare id, as an
// API Gateway path parameter may hold either); ok is false for anything
// else (no digits, a leading zero, a sign, over 18 digits).
func ParseInstance(seg string) (id int64, ok bool) {
	digits := strings.TrimPrefix(seg, InstanceSegment)
	if digits == "" || len(digits) > 18 || digits[0] == '0' || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n > 0
}

// ChannelReader reads a channel (the tenancy store, or a route's port).
type ChannelReader interface {
	GetChannel(ctx context.Context, tenantID, channelID string) (Channel, error)
}

// CheckInstance is what a seed-002 route does with its "instance{id}" path
// segment: the calling token's channel must be that instance. A segment
// that is no instance id is a 404 (as an unknown path); an instance that is
// not the token's channel (another tenant's, another channel's, or none)
// is a 403, the same answer whichever it is.
func CheckInstance(ctx context.Context, store ChannelReader, tenantID, channelID, segment string) (Channel, error) {
	id, ok := ParseInstance(segment)
	if !ok {
		return Channel{}, apperr.NotFound("Instance", segment)
	}
	ch, err := store.GetChannel(ctx, tenantID, channelID)
	if err != nil {
		return Channel{}, err
	}
	if ch.InstanceID != id {
		return Channel{}, apperr.Forbidden("This token is not for instance %d.", id)
	}
	return ch, nil
}

// FormatInstance is the segment of instance id.
func FormatInstance(id int64) string { return fmt.Sprintf("%s%d", InstanceSegment, id) }
