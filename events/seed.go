package events

import (
	"context"
	"fmt"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// The data the samples name: their authorizer contexts and paths use
// SampleTenant, SampleChannel, the channel token SampleTokenID and the
// contact SampleContact; authorizer/request.json presents SampleToken.
const (
	SampleTenant  = "ten_sample"
	SampleChannel = "ch_sample"
	SampleTokenID = "tok_sample"
	SampleToken   = "ct_sample_token_for_entry_path_tests"
	SampleSecret  = "sk_sample_secret_for_entry_path_tests"
	SampleContact = "100000000000042"
	// SampleAppSecret signs the Messenger webhook sample's body
	// (X-Hub-Signature-256); SampleVerifyToken answers its handshake.
	SampleAppSecret   = "sample_messenger_app_secret_for_entry_path_tests"
	SampleVerifyToken = "sample_messenger_verify_token"
	sampleSecretID    = "sec_sample"
)

// Seed writes what the samples name, where it is missing: the tenant
// SampleTenant (account secret SampleSecret), its Messenger channel
// SampleChannel (default country PK, app secret SampleAppSecret, verify
// token SampleVerifyToken), the channel token SampleToken, the contact
// SampleContact, the connector samples' connections (seed_connections.go),
// the sample WhatsApp channel with what its samples name
// (seed_whatsapp.go), the sample SMS channel (seed_twilio.go), the
// automation samples' automations (seed_automations.go) and the sender
// installations (seed_installations.go).
// It leaves existing items as they are, so running it again (every `make
// run` does) changes nothing.
func Seed(ctx context.Context, d *wiring.Env) error {
	store := d.Tenancy()
	if _, err := store.GetTenant(ctx, SampleTenant); apperr.Is(err, apperr.KindNotFound) {
		h := tenancy.Hash(SampleSecret)
		err = store.CreateTenant(ctx, tenancy.Tenant{ID: SampleTenant, Name: "Sample", SecretHash: h},
			tenancy.Credential{Hash: h, Kind: tenancy.AccountSecret, ID: sampleSecretID, TenantID: SampleTenant})
		if err != nil && !apperr.Is(err, apperr.KindExists) {
			return fmt.Errorf("seed sample tenant: %w", err)
		}
	} else if err != nil {
		return err
	}
	if _, err := store.GetChannel(ctx, SampleTenant, SampleChannel); apperr.Is(err, apperr.KindNotFound) {
		err = store.CreateChannel(ctx, tenancy.Channel{ID: SampleChannel, TenantID: SampleTenant, Kind: tenancy.Messenger, Name: "Sample page", DefaultCountry: "PK",
			AppSecret: SampleAppSecret, VerifyToken: SampleVerifyToken})
		if err != nil && !apperr.Is(err, apperr.KindExists) {
			return fmt.Errorf("seed sample channel: %w", err)
		}
	} else if err != nil {
		return err
	}
	h := tenancy.Hash(SampleToken)
	if _, err := store.LookupCredential(ctx, h); apperr.Is(err, apperr.KindNotFound) {
		err = store.CreateToken(ctx, tenancy.Token{ID: SampleTokenID, TenantID: SampleTenant, ChannelID: SampleChannel, Hash: h},
			tenancy.Credential{Hash: h, Kind: tenancy.ChannelToken, ID: SampleTokenID, TenantID: SampleTenant, ChannelID: SampleChannel, ChannelKind: tenancy.Messenger})
		if err != nil && !apperr.Is(err, apperr.KindExists) {
			return fmt.Errorf("seed sample token: %w", err)
		}
	} else if err != nil {
		return err
	}
	cs := d.Contacts()
	if _, err := cs.GetContact(ctx, SampleTenant, SampleChannel, SampleContact); apperr.Is(err, apperr.KindNotFound) {
		err = cs.CreateContact(ctx, contacts.Contact{ID: SampleContact, TenantID: SampleTenant, ChannelID: SampleChannel,
			Fields: map[string]string{"firstName": "Mahin"}, Custom: map[string]string{}, Tags: []string{}, CreatedAt: 1575618542, UpdatedAt: 1575618542, Version: 1})
		if err != nil && !apperr.Is(err, apperr.KindExists) {
			return fmt.Errorf("seed sample contact: %w", err)
		}
	} else if err != nil {
		return err
	}
	if err := seedConnections(ctx, d); err != nil {
		return err
	}
	if err := seedWhatsApp(ctx, d); err != nil {
		return err
	}
	if err := seedTwilio(ctx, d); err != nil {
		return err
	}
	if err := seedAutomations(ctx, d); err != nil {
		return err
	}
	return seedInstallations(ctx, d)
}
