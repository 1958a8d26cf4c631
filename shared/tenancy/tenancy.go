// Package tenancy is the domain of tenants, their channels and the
// credentials that call the API: channel API tokens (one or more per channel)
// and the tenant's account secret key. Secrets are generated here, shown
// once, and stored only as SHA-256 hashes.
package tenancy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// ChannelKind is the messaging network a channel is on.
type ChannelKind string

const (
	Messenger ChannelKind = "messenger"
	WhatsApp  ChannelKind = "whatsapp"
	Viber     ChannelKind = "viber"
	SMS       ChannelKind = "sms"
	Voice     ChannelKind = "voice"
)

// ChannelKinds lists every kind, in a stable order.
var ChannelKinds = []ChannelKind{Messenger, WhatsApp, Viber, SMS, Voice}

// ParseChannelKind accepts a kind name.
func ParseChannelKind(s string) (ChannelKind, error) {
	for _, k := range ChannelKinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("kind must be one of messenger, whatsapp, viber, sms, voice, not %q", s)
}

// CredentialKind says what a presented secret is.
type CredentialKind string

const (
	ChannelToken  CredentialKind = "channel"
	AccountSecret CredentialKind = "account"
)

// Tenant is a customer account.
type Tenant struct {
	ID        string `json:"id" dynamodbav:"id"`
	Name      string `json:"name" dynamodbav:"name"`
	CreatedAt int64  `json:"created_at" dynamodbav:"created_at"`
	// SecretMask shows which account secret is current (never the secret).
	SecretMask string `json:"secret_mask" dynamodbav:"secret_mask"`
	// SecretHash is the current account secret's hash; kept to revoke it.
	SecretHash string `json:"-" dynamodbav:"secret_hash"`
}

// Channel is one bot presence (a Messenger page, a WhatsApp number, ...).
type Channel struct {
	ID       string      `json:"id" dynamodbav:"id"`
	TenantID string      `json:"tenant_id" dynamodbav:"tenant_id"`
	Kind     ChannelKind `json:"kind" dynamodbav:"kind"`
	Name     string      `json:"name" dynamodbav:"name"`
	// DefaultCountry (ISO 3166-1 alpha-2) is how phone numbers written
	// without a country code are read.
	DefaultCountry string `json:"default_country" dynamodbav:"default_country"`
	CreatedAt      int64  `json:"created_at" dynamodbav:"created_at"`
	// Messenger channels: the app secret that signs Messenger's webhook
	// calls (X-Hub-Signature-256) and the token of its GET handshake. Both
	// are secrets: no answer shows them, not even the creation's (the
	// operator typed them).
	AppSecret   string `json:"-" dynamodbav:"app_secret,omitempty"`
	VerifyToken string `json:"-" dynamodbav:"verify_token,omitempty"`
	// InstanceID is a WhatsApp channel's instance id (seed 002's
	// /instance{id}/…), unique across tenants; 0 for other kinds.
	InstanceID int64 `json:"instance_id,omitempty" dynamodbav:"instance_id,omitempty"`
	// WhatsApp is what a WhatsApp channel shows of its Cloud API
	// credentials (ids only), once they are set.
	WhatsApp *WhatsAppInfo `json:"whatsapp,omitempty" dynamodbav:"whatsapp,omitempty"`
	// Twilio is what an SMS or voice channel shows of its Twilio
	// credentials (set with the admin API).
	Twilio *TwilioInfo `json:"twilio,omitempty" dynamodbav:"twilio,omitempty"`
}

// Token is a channel API token as listed: never the token itself.
type Token struct {
	ID        string `json:"id" dynamodbav:"id"`
	TenantID  string `json:"-" dynamodbav:"tenant_id"`
	ChannelID string `json:"channel_id" dynamodbav:"channel_id"`
	Name      string `json:"name" dynamodbav:"name"`
	Mask      string `json:"token" dynamodbav:"mask"`
	CreatedAt int64  `json:"created_at" dynamodbav:"created_at"`
	Hash      string `json:"-" dynamodbav:"hash"`
}

// Credential is what the authorizer finds for a presented secret.
type Credential struct {
	Hash        string         `dynamodbav:"hash"`
	Kind        CredentialKind `dynamodbav:"kind"`
	ID          string         `dynamodbav:"credential_id"`
	TenantID    string         `dynamodbav:"tenant_id"`
	ChannelID   string         `dynamodbav:"channel_id,omitempty"`
	ChannelKind ChannelKind    `dynamodbav:"channel_kind,omitempty"`
	// DefaultCountry is the channel's, copied so that the authorizer's
	// cached answer carries it and requests need not read the channel.
	DefaultCountry string `dynamodbav:"default_country,omitempty"`
}

// Store persists tenancy data. Every method that writes more than one item
// writes them in one transaction.
type Store interface {
	CreateTenant(ctx context.Context, t Tenant, secret Credential) error
	GetTenant(ctx context.Context, id string) (Tenant, error)
	// RotateSecret replaces the tenant's account secret: the old hash stops
	// resolving in the same transaction.
	RotateSecret(ctx context.Context, tenantID, oldHash string, secret Credential, mask string) error
	CreateChannel(ctx context.Context, c Channel) error
	GetChannel(ctx context.Context, tenantID, channelID string) (Channel, error)
	ListChannels(ctx context.Context, tenantID string) ([]Channel, error)
	CreateToken(ctx context.Context, t Token, cred Credential) error
	ListTokens(ctx context.Context, tenantID, channelID string) ([]Token, error)
	RevokeToken(ctx context.Context, tenantID, channelID, tokenID string) error
	LookupCredential(ctx context.Context, hash string) (Credential, error)
}

// Service holds the tenancy rules on top of a Store.
type Service struct {
	Store Store
	Now   func() time.Time
	// Instances allocates WhatsApp channels' instance ids at creation (nil:
	// none are allocated; SetWhatsApp allocates one later).
	Instances InstanceAllocator
}

// InstanceAllocator hands out instance ids, never the same twice.
type InstanceAllocator interface {
	NextInstanceID(ctx context.Context) (int64, error)
}

//go:generate go test -run TestRegionsMatchPhoneLibrary -update .

// IsPhoneRegion reports whether code (upper case) is a region the phone
// number library knows: what a channel's default_country must be.
func IsPhoneRegion(code string) bool {
	_, ok := slices.BinarySearch(phoneRegions, code)
	return ok
}

// NewTenant is the result of creating a tenant: the secret is shown once.
type NewTenant struct {
	Tenant        Tenant `json:"tenant"`
	AccountSecret string `json:"account_secret"`
}

// CreateTenant makes a tenant with a fresh account secret key.
func (s *Service) CreateTenant(ctx context.Context, name string) (NewTenant, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return NewTenant{}, apperr.Invalid("name", "is required (1 to 200 characters)")
	}
	t := Tenant{ID: NewID("ten"), Name: name, CreatedAt: s.Now().Unix()}
	secret, hash := NewSecret(SecretPrefix)
	t.SecretMask, t.SecretHash = Mask(secret), hash
	cred := Credential{Hash: hash, Kind: AccountSecret, ID: "sec_" + hash[:16], TenantID: t.ID}
	if err := s.Store.CreateTenant(ctx, t, cred); err != nil {
		return NewTenant{}, err
	}
	return NewTenant{Tenant: t, AccountSecret: secret}, nil
}

// RotateSecret issues a new account secret; the previous one stops working.
func (s *Service) RotateSecret(ctx context.Context, tenantID string) (NewTenant, error) {
	t, err := s.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return NewTenant{}, err
	}
	secret, hash := NewSecret(SecretPrefix)
	cred := Credential{Hash: hash, Kind: AccountSecret, ID: "sec_" + hash[:16], TenantID: t.ID}
	if err := s.Store.RotateSecret(ctx, t.ID, t.SecretHash, cred, Mask(secret)); err != nil {
		return NewTenant{}, err
	}
	t.SecretMask, t.SecretHash = Mask(secret), hash
	return NewTenant{Tenant: t, AccountSecret: secret}, nil
}

// ChannelInput is what creating a channel takes.
type ChannelInput struct {
	Kind           string `json:"kind"`
	Name           string `json:"name"`
	DefaultCountry string `json:"default_country"`
	// Messenger channels only: Messenger webhook settings.
	AppSecret   string `json:"app_secret"`
	VerifyToken string `json:"verify_token"`
}

// CreateChannel adds a channel to an existing tenant.
func (s *Service) CreateChannel(ctx context.Context, tenantID string, in ChannelInput) (Channel, error) {
	kind, err := ParseChannelKind(in.Kind)
	if err != nil {
		return Channel{}, apperr.Invalid("kind", strings.TrimPrefix(err.Error(), "kind "))
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return Channel{}, apperr.Invalid("name", "is required (1 to 200 characters)")
	}
	// Every local number is read in default_country: a code the phone
	// library does not know ("ZZ", "UK") or none would refuse them all.
	country := strings.ToUpper(strings.TrimSpace(in.DefaultCountry))
	if !IsPhoneRegion(country) {
		return Channel{}, apperr.Invalid("default_country", fmt.Sprintf("must be an ISO 3166-1 alpha-2 region code the phone number library knows, such as \"US\" or \"PK\", not %q", in.DefaultCountry))
	}
	if _, err := s.Store.GetTenant(ctx, tenantID); err != nil {
		return Channel{}, err
	}
	if (in.AppSecret != "" || in.VerifyToken != "") && kind != Messenger {
		return Channel{}, apperr.Invalid("app_secret", "is for messenger channels only")
	}
	if len(in.AppSecret) > 200 || len(in.VerifyToken) > 200 {
		return Channel{}, apperr.Invalid("app_secret", "and verify_token must be at most 200 characters")
	}
	c := Channel{ID: NewID("ch"), TenantID: tenantID, Kind: kind, Name: name, DefaultCountry: country, CreatedAt: s.Now().Unix(),
		AppSecret: in.AppSecret, VerifyToken: in.VerifyToken}
	if kind == WhatsApp && s.Instances != nil {
		// The counter moves even if the create then fails: ids may have
		// gaps, never repeats.
		if c.InstanceID, err = s.Instances.NextInstanceID(ctx); err != nil {
			return Channel{}, err
		}
	}
	if err := s.Store.CreateChannel(ctx, c); err != nil {
		return Channel{}, err
	}
	return c, nil
}

// NewToken is a generated channel token: Token is shown once.
type NewToken struct {
	Token
	Secret string `json:"token"`
}

// CreateToken generates a channel API token.
func (s *Service) CreateToken(ctx context.Context, tenantID, channelID, name string) (NewToken, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 200 {
		return NewToken{}, apperr.Invalid("name", "must be at most 200 characters")
	}
	c, err := s.Store.GetChannel(ctx, tenantID, channelID)
	if err != nil {
		return NewToken{}, err
	}
	secret, hash := NewSecret(TokenPrefix)
	t := Token{ID: NewID("tok"), TenantID: tenantID, ChannelID: c.ID, Name: name, Mask: Mask(secret), CreatedAt: s.Now().Unix(), Hash: hash}
	cred := Credential{Hash: hash, Kind: ChannelToken, ID: t.ID, TenantID: tenantID, ChannelID: c.ID, ChannelKind: c.Kind, DefaultCountry: c.DefaultCountry}
	if err := s.Store.CreateToken(ctx, t, cred); err != nil {
		return NewToken{}, err
	}
	return NewToken{Token: t, Secret: secret}, nil
}
