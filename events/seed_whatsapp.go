package events

import (
	"context"
	"fmt"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/templates"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// The sample WhatsApp channel the messaging samples name: its channel
// token, instance id and Cloud API credentials (which the provider
// sandbox accepts: its access token is any well-formed one, and its
// webhooks are signed with SampleWAAppSecret when it is started with it),
// a contact that has written (SampleWAContact, E.164 SampleWAPhone), a
// message sent to it (SampleWAMessage) and three approved templates: the
// one the sends name (SampleWATemplate, id SampleWATemplateID), one the
// update sample edits and one the delete sample deletes.
const (
	SampleWAChannel      = "ch_samplewa"
	SampleWATokenID      = "tok_samplewa"
	SampleWAToken        = "ct_sample_whatsapp_token_for_entry_path_tests"
	SampleWAInstance     = 990042
	SampleWAAccessToken  = "EAAsample0access0token0for0entry0path0tests"
	SampleWAPhoneID      = "100000000000777"
	SampleWAWABAID       = "100000000000888"
	SampleWAAppSecret    = "sample_whatsapp_app_secret_for_entry_path_tests"
	SampleWAVerifyToken  = "sample_whatsapp_verify_token"
	SampleWAContact      = "923001234567"
	SampleWAPhone        = "+923001234567"
	SampleWAMessage      = "msg_samplesent"
	SampleWATemplate     = "sample_template"
	SampleWANamespace    = "sample_namespace"
	SampleWATemplateID   = "tpl_sample"
	SampleWATemplateText = "Hello from the sample WhatsApp number."
	sampleWAUpdateID     = "tpl_sampleupdate"
	sampleWADeleteID     = "tpl_sampledelete"
	// sampleWATime is when the sample message was sent (Unix ms).
	sampleWATime = 1795316400000
)

// seedWhatsApp writes the sample WhatsApp channel and what its samples
// name, where missing.
func seedWhatsApp(ctx context.Context, d *wiring.Env) error {
	store := d.Tenancy()
	ch, err := store.GetChannel(ctx, SampleTenant, SampleWAChannel)
	if apperr.Is(err, apperr.KindNotFound) {
		ch = tenancy.Channel{ID: SampleWAChannel, TenantID: SampleTenant, Kind: tenancy.WhatsApp, Name: "Sample WhatsApp number", DefaultCountry: "PK"}
		err = store.CreateChannel(ctx, ch)
		if err != nil && !apperr.Is(err, apperr.KindExists) {
			return fmt.Errorf("seed sample whatsapp channel: %w", err)
		}
	} else if err != nil {
		return err
	}
	// Credentials with a fixed instance id (the samples' paths name it),
	// written as the admin API writes them but for the id, which the
	// admin API takes from a counter.
	if _, err := store.WhatsAppCredentials(ctx, SampleTenant, SampleWAChannel); apperr.Is(err, apperr.KindNotFound) {
		c := tenancy.WhatsAppCredentials{TenantID: SampleTenant, ChannelID: SampleWAChannel, AccessToken: SampleWAAccessToken,
			PhoneNumberID: SampleWAPhoneID, WABAID: SampleWAWABAID, AppSecret: SampleWAAppSecret,
			VerifyHash: tenancy.Hash(SampleWAVerifyToken), UpdatedAt: sampleWATime / 1000}
		var iid int64
		if ch.InstanceID == 0 {
			iid = SampleWAInstance
		}
		if err := store.SetWhatsApp(ctx, ch, nil, c, iid); err != nil && !apperr.Is(err, apperr.KindExists) && !apperr.Is(err, apperr.KindConflict) {
			return fmt.Errorf("seed sample whatsapp credentials: %w", err)
		}
	} else if err != nil {
		return err
	}
	h := tenancy.Hash(SampleWAToken)
	if _, err := store.LookupCredential(ctx, h); apperr.Is(err, apperr.KindNotFound) {
		err = store.CreateToken(ctx, tenancy.Token{ID: SampleWATokenID, TenantID: SampleTenant, ChannelID: SampleWAChannel, Hash: h},
			tenancy.Credential{Hash: h, Kind: tenancy.ChannelToken, ID: SampleWATokenID, TenantID: SampleTenant, ChannelID: SampleWAChannel, ChannelKind: tenancy.WhatsApp})
		if err != nil && !apperr.Is(err, apperr.KindExists) {
			return fmt.Errorf("seed sample whatsapp token: %w", err)
		}
	} else if err != nil {
		return err
	}
	cs := d.Contacts()
	if _, err := cs.GetContact(ctx, SampleTenant, SampleWAChannel, SampleWAContact); apperr.Is(err, apperr.KindNotFound) {
		err = cs.CreateContact(ctx, contacts.Contact{ID: SampleWAContact, TenantID: SampleTenant, ChannelID: SampleWAChannel,
			Fields: map[string]string{"firstName": "Ayesha", "phone": SampleWAPhone}, Custom: map[string]string{}, Tags: []string{},
			CreatedAt: sampleWATime / 1000, UpdatedAt: sampleWATime / 1000, Version: 1})
		if err != nil && !apperr.Is(err, apperr.KindExists) {
			return fmt.Errorf("seed sample whatsapp contact: %w", err)
		}
	} else if err != nil {
		return err
	}
	// A message already sent (not queued: its stream record queues
	// nothing), for the message-get and contact-message-list samples.
	ms := d.MessageStore()
	if _, err := ms.GetMessage(ctx, SampleTenant, SampleWAMessage); apperr.Is(err, apperr.KindNotFound) {
		m := messages.Message{ID: SampleWAMessage, TenantID: SampleTenant, ChannelID: SampleWAChannel, ChannelKind: string(tenancy.WhatsApp),
			ContactID: SampleWAContact, Direction: messages.Outbound, Type: messages.TypeTemplate, To: SampleWAPhone,
			Template:   &messages.Template{Name: SampleWATemplate, Namespace: SampleWANamespace, Language: "en"},
			ProviderID: "wamid.HBgMOTIzMDAxMjM0NTY3FQIAERgSQzVCNzE0QTdGRjBGRTQ1NTQ5AA==", Status: messages.StatusSent, Attempts: 1,
			CreatedAt: sampleWATime, SentAt: sampleWATime + 850}
		if err := ms.CreateMessage(ctx, m); err != nil && !apperr.Is(err, apperr.KindExists) {
			return fmt.Errorf("seed sample whatsapp message: %w", err)
		}
	} else if err != nil {
		return err
	}
	for _, t := range []struct{ id, name, text string }{
		{SampleWATemplateID, SampleWATemplate, SampleWATemplateText},
		{sampleWAUpdateID, "sample_update", "Your order is on its way."},
		{sampleWADeleteID, "sample_delete", "This template is deleted by the delete sample."},
	} {
		if err := seedTemplate(ctx, d, t.id, t.name, t.text); err != nil {
			return err
		}
	}
	return nil
}

// seedTemplate makes an approved template with a fixed id, where missing;
// it is not submitted to the provider.
func seedTemplate(ctx context.Context, d *wiring.Env, id, name, text string) error {
	reg := &templates.Service{Store: d.TemplateStore(), Submitter: templates.LocalOnly{}, NewID: func() string { return id }, Now: d.Now}
	if _, err := reg.Store.FindTemplate(ctx, SampleTenant, SampleWAChannel, name, "en"); err == nil {
		return nil
	} else if !apperr.Is(err, apperr.KindNotFound) {
		return fmt.Errorf("seed sample template %s: %w", name, err)
	}
	ns, lang, cat := SampleWANamespace, "en", "UTILITY"
	comps := []templates.Component{{Type: "BODY", Text: text}}
	if _, err := reg.Create(ctx, SampleTenant, SampleWAChannel, templates.Input{Name: &name, Namespace: &ns, Language: &lang, Category: &cat, Components: &comps}); err != nil && !apperr.Is(err, apperr.KindExists) {
		return fmt.Errorf("seed sample template %s: %w", name, err)
	}
	return reg.SetStatus(ctx, SampleTenant, SampleWAChannel, name, lang, templates.StatusApproved, "")
}
