// Package registry gathers every handler package's functions for the places
// that serve all routes in one process: the local gateway, make invoke and
// the tests. Function binaries never import it; each main imports only its
// own handler package and shared/wiring.
package registry

import (
	"net/http"
	"strings"

	"github.com/startmsg/chatbackend/shared/actionapi"
	"github.com/startmsg/chatbackend/shared/adminapi"
	"github.com/startmsg/chatbackend/shared/automationapi"
	"github.com/startmsg/chatbackend/shared/chatapi"
	"github.com/startmsg/chatbackend/shared/connectionapi"
	"github.com/startmsg/chatbackend/shared/contactapi"
	"github.com/startmsg/chatbackend/shared/dashboard"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/eventsapi"
	"github.com/startmsg/chatbackend/shared/flowapi"
	"github.com/startmsg/chatbackend/shared/installapi"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/messageapi"
	"github.com/startmsg/chatbackend/shared/messenger"
	"github.com/startmsg/chatbackend/shared/metaapi"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/router"
	"github.com/startmsg/chatbackend/shared/runapi"
	"github.com/startmsg/chatbackend/shared/sender"
	"github.com/startmsg/chatbackend/shared/templateapi"
	"github.com/startmsg/chatbackend/shared/twhook"
	"github.com/startmsg/chatbackend/shared/wahook"
	"github.com/startmsg/chatbackend/shared/wiring"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

// Packages are the handler packages' builders by import path, then by
// function name.
var Packages = map[string]wiring.Builders{
	"github.com/startmsg/chatbackend/shared/actionapi": {
		"actions": wiring.Route(actionapi.Actions),
	},
	"github.com/startmsg/chatbackend/shared/automationapi": {
		"automation-create": wiring.Route(automationapi.AutomationCreate),
		"automation-list":   wiring.Route(automationapi.AutomationList),
		"automation-get":    wiring.Route(automationapi.AutomationGet),
		"automation-update": wiring.Route(automationapi.AutomationUpdate),
		"automation-switch": wiring.Route(automationapi.AutomationSwitch),
		"automation-delete": wiring.Route(automationapi.AutomationDelete),
	},
	"github.com/startmsg/chatbackend/shared/runapi": {
		"automation-run-list": wiring.Route(runapi.AutomationRunList),
		"contact-run-list":    wiring.Route(runapi.ContactRunList),
	},
	"github.com/startmsg/chatbackend/shared/adminapi": {
		"admin-tenant-create":  wiring.Route(adminapi.AdminTenantCreate),
		"admin-tenant-get":     wiring.Route(adminapi.AdminTenantGet),
		"admin-secret-rotate":  wiring.Route(adminapi.AdminSecretRotate),
		"admin-channel-create": wiring.Route(adminapi.AdminChannelCreate),
		"admin-channel-list":   wiring.Route(adminapi.AdminChannelList),
		"admin-token-create":   wiring.Route(adminapi.AdminTokenCreate),
		"admin-token-list":     wiring.Route(adminapi.AdminTokenList),
		"admin-token-revoke":   wiring.Route(adminapi.AdminTokenRevoke),
		"admin-dlq-stats":      wiring.Route(adminapi.AdminDlqStats),
		"admin-dlq-redrive":    wiring.Route(adminapi.AdminDlqRedrive),
		"admin-whatsapp-set":   wiring.Route(adminapi.AdminWhatsappSet),
		"admin-twilio-set":     wiring.Route(adminapi.AdminTwilioSet),
	},
	"github.com/startmsg/chatbackend/shared/connectionapi": {
		"connection-create":        wiring.Route(connectionapi.ConnectionCreate),
		"connection-list":          wiring.Route(connectionapi.ConnectionList),
		"connection-get":           wiring.Route(connectionapi.ConnectionGet),
		"connection-update":        wiring.Route(connectionapi.ConnectionUpdate),
		"connection-delete":        wiring.Route(connectionapi.ConnectionDelete),
		"connection-secret-rotate": wiring.Route(connectionapi.ConnectionSecretRotate),
		"connection-activity":      wiring.Route(connectionapi.ConnectionActivity),
		"connection-test":          wiring.Route(connectionapi.ConnectionTest),
		"connection-replay":        wiring.Route(connectionapi.ConnectionReplay),
		"delivery-dead-list":       wiring.Route(connectionapi.DeliveryDeadList),
		"delivery-dead-redrive":    wiring.Route(connectionapi.DeliveryDeadRedrive),
		"hook-subscribe":           wiring.Route(connectionapi.HookSubscribe),
		"hook-unsubscribe":         wiring.Route(connectionapi.HookUnsubscribe),
		"hook-sample":              wiring.Route(connectionapi.HookSample),
	},
	"github.com/startmsg/chatbackend/shared/contactapi": {
		"contact-get":          wiring.Route(contactapi.ContactGet),
		"contact-delete":       wiring.Route(contactapi.ContactDelete),
		"contact-tags-add":     wiring.Route(contactapi.ContactTagsAdd),
		"contact-tags-remove":  wiring.Route(contactapi.ContactTagsRemove),
		"contact-field-list":   wiring.Route(contactapi.ContactFieldList),
		"contact-field-create": wiring.Route(contactapi.ContactFieldCreate),
		"contact-field-get":    wiring.Route(contactapi.ContactFieldGet),
		"contact-field-update": wiring.Route(contactapi.ContactFieldUpdate),
		"contact-field-delete": wiring.Route(contactapi.ContactFieldDelete),
		"contact-create":       wiring.Route(contactapi.ContactCreate),
		"contact-update":       wiring.Route(contactapi.ContactUpdate),
		"contact-search":       wiring.Route(contactapi.ContactSearch),
	},
	"github.com/startmsg/chatbackend/shared/eventsapi": {
		"events-collect":    wiring.Route(eventsapi.EventsCollect),
		"messenger-verify":  wiring.Route(eventsapi.MessengerVerify),
		"messenger-receive": wiring.Route(eventsapi.MessengerReceive),
	},
	// whatsapp
	"github.com/startmsg/chatbackend/shared/wahook": {
		"whatsapp-verify":  wiring.Route(wahook.WhatsappVerify),
		"whatsapp-receive": wiring.Route(wahook.WhatsappReceive),
	},
	// Twilio's status callbacks (sms and voice channels)
	"github.com/startmsg/chatbackend/shared/twhook": {
		"twilio-status": wiring.Route(twhook.TwilioStatus),
	},
	"github.com/startmsg/chatbackend/shared/dashboard": {
		"dashboard":       wiring.Route(dashboard.Dashboard),
		"dashboard-asset": wiring.Route(dashboard.DashboardAsset),
	},
	"github.com/startmsg/chatbackend/shared/metaapi": {
		"openapi": wiring.Route(metaapi.Openapi),
		"me":      wiring.Route(metaapi.Me),
	},
	// templates and seed 002
	"github.com/startmsg/chatbackend/shared/templateapi": {
		"template-create": messaging.Route(templateapi.TemplateCreate),
		"template-list":   messaging.Route(templateapi.TemplateList),
		"template-get":    messaging.Route(templateapi.TemplateGet),
		"template-update": messaging.Route(templateapi.TemplateUpdate),
		"template-delete": messaging.Route(templateapi.TemplateDelete),
	},
	"github.com/startmsg/chatbackend/shared/chatapi": {
		"chatapi-send-template":          messaging.Route(chatapi.ChatapiSendTemplate),
		"chatapi-instance-send-template": messaging.Route(chatapi.ChatapiInstanceSendTemplate),
		"chatapi-message":                messaging.Route(chatapi.ChatapiMessage),
		"chatapi-instance-webhook":       messaging.Route(chatapi.ChatapiInstanceWebhook),
		"chatapi-instance-me-get":        messaging.Route(chatapi.ChatapiInstanceMeGet),
		"chatapi-instance-me-set":        messaging.Route(chatapi.ChatapiInstanceMeSet),
		"chatapi-instance-message":       messaging.Route(chatapi.ChatapiInstanceMessage),
		"chatapi-webhook":                messaging.Route(chatapi.ChatapiWebhook),
	},
	"github.com/startmsg/chatbackend/shared/messageapi": {
		"message-send":         messaging.Route(messageapi.MessageSend),
		"message-get":          messaging.Route(messageapi.MessageGet),
		"contact-message-list": messaging.Route(messageapi.ContactMessageList),
		"message-list":         messaging.Route(messageapi.MessageList),
	},
	// sender installations (seed 004)
	"github.com/startmsg/chatbackend/shared/installapi": {
		"installation-create":    wiring.Route(installapi.InstallationCreate),
		"installation-list":      wiring.Route(installapi.InstallationList),
		"installation-get":       wiring.Route(installapi.InstallationGet),
		"installation-update":    wiring.Route(installapi.InstallationUpdate),
		"installation-hours-get": wiring.Route(installapi.InstallationHoursGet),
		"installation-hours-set": wiring.Route(installapi.InstallationHoursSet),
		"installation-pull":      wiring.Route(installapi.InstallationPull),
		"installation-ack":       wiring.Route(installapi.InstallationAck),
		"installation-ack-batch": wiring.Route(installapi.InstallationAckBatch),
	},
	"github.com/startmsg/chatbackend/shared/flowapi": {
		"add-message":         wiring.Route(flowapi.AddMessage),
		"webhook-add-message": wiring.Route(flowapi.WebhookAddMessage),
	},
}

// All returns every builder by function name. One process serves them all,
// so every function gets the phone normaliser (wiring.WithPhone); in Lambda
// only the functions whose main passes it link the phone library.
func All() wiring.Builders {
	out := wiring.Builders{}
	for _, p := range Packages {
		for name, b := range p {
			out[name] = WithPhone(b)
		}
	}
	return out
}

// WithPhone is b built on an Env with the phone normaliser.
func WithPhone(b wiring.Builder) wiring.Builder {
	return func(e *wiring.Env) http.Handler {
		c := *e
		wiring.WithPhone(phone.Normalize)(&c)
		wiring.WithFixedLine(phone.FixedLine)(&c)
		return b(&c)
	}
}

// BuilderName is the name of function fn's builder in its handler package:
// the function name in CamelCase (contact-get: ContactGet).
func BuilderName(fn string) string {
	var b strings.Builder
	for _, w := range strings.Split(fn, "-") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// Streams are the table-stream consumers by function name
// (routes.EventFunctions with Source "stream").
var Streams = map[string]func(*wiring.Env) lambdaapp.StreamHandler{
	"trigger-router":   wiring.Stream(router.Build),
	"messenger-intake": streamWithPhone(wiring.Stream(messenger.Build)),
	"whatsapp-intake":  streamWithPhone(messaging.Stream(wahook.Build)),
}

// streamWithPhone is a stream consumer built on an Env with the phone
// normaliser (its main passes wiring.WithPhone).
func streamWithPhone(b func(*wiring.Env) lambdaapp.StreamHandler) func(*wiring.Env) lambdaapp.StreamHandler {
	return func(e *wiring.Env) lambdaapp.StreamHandler {
		c := *e
		wiring.WithPhone(phone.Normalize)(&c)
		wiring.WithFixedLine(phone.FixedLine)(&c)
		return b(&c)
	}
}

// Queues are the deliveries-queue consumers by function name
// (routes.EventFunctions with Source "queue").
var Queues = map[string]func(*wiring.Env) lambdaapp.QueueHandler{
	"dispatcher": wiring.Queue(dispatch.Build),
	// The outbox queue's consumer (routes.EventFunctions with Source
	// "outbox").
	"sender": messaging.Queue(sender.Build),
}
