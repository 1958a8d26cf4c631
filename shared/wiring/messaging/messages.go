package messaging

import (
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/sender"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// SenderStore is the message store as the sender uses it.
func (e *Env) SenderStore() sender.Store { return e.Messages() }

// MessageTemplates checks template messages against the channel's
// template registry.
func (e *Env) MessageTemplates() messages.Templates { return registryTemplates{e} }

// MessageProviders are the providers the sender calls, by channel kind.
func (e *Env) MessageProviders() map[string]sender.Provider {
	if e.Providers == nil {
		return map[string]sender.Provider{string(tenancy.WhatsApp): waProvider{e},
			string(tenancy.SMS): twilioProvider{tenancy.SMS}, string(tenancy.Voice): twilioProvider{tenancy.Voice}}
	}
	return e.Providers
}

// ProviderCredentials reads channels' provider credentials (WhatsApp
// channels' Cloud API credentials, SMS and voice channels' Twilio ones,
// unless set).
func (e *Env) ProviderCredentials() sender.CredentialStore {
	if e.Credentials == nil {
		return channelCredentials{e}
	}
	return e.Credentials
}
