package messaging

import (
	"github.com/startmsg/chatbackend/shared/chatapi/chatports"
	"github.com/startmsg/chatbackend/shared/templates"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// The ports of the template registry (shared/templateapi) and of seed
// 002's chat-api routes (shared/chatapi).

// TemplateSubmitter submits templates to the channel's WhatsApp Business
// Account for review (the Cloud API); the status webhook
// (TemplateRegistry().SetStatus) moves them from PENDING.
func (e *Env) TemplateSubmitter() templates.Submitter { return waSubmitter{e} }

// sendTemplates is the process's cache of the approved templates sends
// read (templates.SendCacheTTL).
var sendTemplates = templates.NewCache(templates.SendCacheTTL)

// TemplateRegistry is the registry's rules on its store: Lookup for the
// senders, SetStatus for the provider's template status webhook
// (message_template_status_update). A send's lookup of an approved
// template is answered from the process's cache for up to
// templates.SendCacheTTL; the registry's own writes forget what they
// change.
func (e *Env) TemplateRegistry() *templates.Service {
	return &templates.Service{Store: sendTemplates.On(e.TemplateStore()), Submitter: e.TemplateSubmitter(),
		NewID: func() string { return tenancy.NewID("tpl") }, Now: e.Now}
}

// ChatTemplates is the template lookup of seed 002's sends.
func (e *Env) ChatTemplates() chatports.TemplateLookup { return e.TemplateRegistry() }

// ChatSender queues seed 002's outbound messages: the message core's
// outbox once it is wired; until then a send is answered 503.
func (e *Env) ChatSender() chatports.Sender { return chatSender{e} }

// ChatWindow is when each contact last wrote: the message core's record of
// inbound messages once it is wired; until then no contact ever wrote, so
// every free-form message is outside its 24-hour window (templates go).
func (e *Env) ChatWindow() chatports.Window { return chatWindow{e} }

// ChatInstances are the WhatsApp channels' instance ids: until they are
// wired no channel has one, and every /instance{id}/… call is a 403.
func (e *Env) ChatInstances() chatports.Instances { return channelInstances{e} }

// ChatProfiles is the provider's business profile: until the provider
// client is wired, answered 503.
func (e *Env) ChatProfiles() chatports.Profiles { return waProfiles{e} }
