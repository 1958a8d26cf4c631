// Package routes is the single route table of the HTTP API. It is pure data:
// the CDK app builds API Gateway resources from it, the local gateway serves
// it, and the OpenAPI document is generated from it. It imports no handler
// code, so a function binary that reads its own route stays small.
package routes

import (
	"sort"
	"strings"
)

// MinCompressionSize is the API's minimumCompressionSize (bytes): API
// Gateway compresses a response body at least this long for a client that
// accepts gzip or deflate, and decompresses request bodies sent with
// either. The CDK app sets it; the local gateway does the same.
const MinCompressionSize = 1024

// Auth names how a route authenticates its caller.
type Auth string

const (
	// AuthNone routes are public.
	AuthNone Auth = "none"
	// AuthChannel routes take a channel API token as
	// "Authorization: Bearer <token>" (seed 001 style).
	AuthChannel Auth = "channel"
	// AuthChannelQuery routes take a channel API token in "?token=" (seed 002
	// style): the query string is the identity source API Gateway caches the
	// authorizer's answer under, so the token must be there.
	AuthChannelQuery Auth = "channel-query"
	// AuthAccount routes take the tenant's account secret key as
	// "Authorization: <secret>" or "Authorization: Bearer <secret>" (seed 003).
	AuthAccount Auth = "account"
	// AuthChannelOrAccount routes take either, in the Authorization header
	// (one identity source: the same authorizer and cache): a channel
	// token sees its channel's items, the account secret the whole
	// tenant's (GET /v1/messages/{messageId}: the SMS and calls the action
	// API queues are read with the secret that queued them).
	AuthChannelOrAccount Auth = "channel-or-account"
	// AuthAdmin routes are the operator's admin API: IAM (SigV4) in AWS, the
	// ADMIN_KEY bearer locally. Channel tokens and account secrets never pass.
	AuthAdmin Auth = "admin"
)

// Access is what a function may do with the project's resources. The CDK app
// grants exactly these permissions and nothing more.
type Access uint

const (
	TableRead    Access = 1 << iota // data table
	TableWrite                      // data table
	QueueSend                       // deliveries queue: SendMessage
	QueueConsume                    // deliveries queue: Receive/Delete/ChangeMessageVisibility
	DLQRead                         // DLQ: Receive/Delete (listing and redrive)
	StreamRead                      // data table stream (event source)
	// RateCount allows UpdateItem on the operations table's rate-limit
	// counters only (keys RL#…): what every rate-limited route needs to
	// count its calls.
	RateCount
	// Ops reads and writes the operations table: the contacts' search
	// index (every contact write moves its entries), delivery attempts and
	// idempotency records.
	Ops
	// OpsRead reads the operations table: contact searches.
	OpsRead
	// OutboxSend sends to the outbox queue (the trigger router queues
	// new outbound messages there).
	OutboxSend
	// OutboxConsume receives, deletes and hides the outbox queue's
	// messages (the sender).
	OutboxConsume
)

// Has reports whether a contains every bit of b.
func (a Access) Has(b Access) bool { return a&b == b }

// Route is one method on one path, served by one function.
type Route struct {
	Method   string
	Path     string // API Gateway template: /v1/contact/{contactId}
	Function string // directory under functions/ and the Lambda's logical name
	Auth     Auth
	Access   Access
	Summary  string
	Tag      string
	// Query lists the query parameters the route reads (for the OpenAPI
	// document); "token" is implied by AuthChannelQuery.
	Query []string
	// Body is true when the route reads a JSON request body.
	Body bool
	// Created is true when success is 201 rather than 200.
	Created bool
}

// PathParams returns the names of the {parameters} in the route's path, in order.
func (r Route) PathParams() []string {
	var out []string
	for _, seg := range strings.Split(r.Path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.Trim(seg, "{}+"))
		}
	}
	return out
}

// Table is the API. Order is the order of the OpenAPI document.
var Table = []Route{
	{Method: "GET", Path: "/openapi.json", Function: "openapi", Auth: AuthNone, Tag: "meta",
		Summary: "The OpenAPI 3.1 document of this API"},
	{Method: "GET", Path: "/v1/me", Function: "me", Auth: AuthChannel, Access: TableRead | RateCount, Tag: "meta",
		Summary: "The tenant and channel behind the calling token (Zapier auth test)"},
	// The panel (web/, embedded by shared/dashboard): its page and its
	// files, same-origin with the API; it signs in with a channel token.
	{Method: "GET", Path: "/dashboard", Function: "dashboard", Auth: AuthNone, Tag: "panel",
		Summary: "The panel (HTML): connections, activity, contacts, messages; /dashboard redirects to /dashboard/"},
	{Method: "GET", Path: "/dashboard/{asset}", Function: "dashboard-asset", Auth: AuthNone, Tag: "panel",
		Summary: "One of the panel's built files (hashed names, cached for a year)"},

	// Contacts API (seed 001): per channel token.
	{Method: "POST", Path: "/v1/contact", Function: "contact-create", Auth: AuthChannel, Access: TableRead | TableWrite | Ops | RateCount, Tag: "contacts", Body: true,
		Summary: "Create a contact with field values (max 30); honours Idempotency-Key"},
	{Method: "GET", Path: "/v1/contact/by_custom_field", Function: "contact-search", Auth: AuthChannel, Access: TableRead | OpsRead | RateCount, Tag: "contacts", Query: []string{"name", "value", "page"},
		Summary: "Contacts whose field equals a value, 10 per page"},
	{Method: "GET", Path: "/v1/contact/{contactId}", Function: "contact-get", Auth: AuthChannel, Access: TableRead | RateCount, Tag: "contacts",
		Summary: "One contact (Base64-encoded ID on Viber channels)"},
	{Method: "PUT", Path: "/v1/contact/{contactId}", Function: "contact-update", Auth: AuthChannel, Access: TableRead | TableWrite | Ops | RateCount, Tag: "contacts", Body: true,
		Summary: "Set field values of a contact (max 30)"},
	{Method: "DELETE", Path: "/v1/contact/{contactId}", Function: "contact-delete", Auth: AuthChannel, Access: TableRead | TableWrite | Ops | RateCount, Tag: "contacts",
		Summary: "Delete a contact"},
	{Method: "POST", Path: "/v1/contact/{contactId}/tags", Function: "contact-tags-add", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount, Tag: "contacts", Body: true,
		Summary: "Add tags to a contact (max 10)"},
	{Method: "DELETE", Path: "/v1/contact/{contactId}/tags", Function: "contact-tags-remove", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount, Tag: "contacts", Body: true,
		Summary: "Remove tags from a contact (max 10)"},

	// Contact fields module: the tenant's custom field definitions.
	{Method: "GET", Path: "/v1/contact_fields", Function: "contact-field-list", Auth: AuthChannel, Access: TableRead | RateCount, Tag: "contact fields",
		Summary: "The tenant's custom fields with their IDs and types"},
	{Method: "POST", Path: "/v1/contact_fields", Function: "contact-field-create", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount, Tag: "contact fields", Body: true, Created: true,
		Summary: "Define a custom field: name, type (text, number, boolean, date, datetime, email, phone, list), options"},
	{Method: "GET", Path: "/v1/contact_fields/{fieldId}", Function: "contact-field-get", Auth: AuthChannel, Access: TableRead | RateCount, Tag: "contact fields",
		Summary: "One custom field"},
	{Method: "PUT", Path: "/v1/contact_fields/{fieldId}", Function: "contact-field-update", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount, Tag: "contact fields", Body: true,
		Summary: "Rename a custom field or change a list field's options"},
	{Method: "DELETE", Path: "/v1/contact_fields/{fieldId}", Function: "contact-field-delete", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount, Tag: "contact fields",
		Summary: "Delete a custom field definition"},

	// Action API (seed 003): the account secret key.
	{Method: "POST", Path: "/v1/actions", Function: "actions", Auth: AuthAccount, Access: TableRead | TableWrite | Ops | RateCount, Tag: "actions", Body: true,
		Summary: "A JSON array of actions (contacts: NEW, EDIT, TRASH, SEARCH; SMS and CALL through the account's sms and voice channels), one result each; honours Idempotency-Key"},

	// Automation runs (seed 003): the account secret key.
	{Method: "GET", Path: "/v1/automations/{automationId}/runs", Function: "automation-run-list", Auth: AuthAccount, Access: TableRead | OpsRead | RateCount, Tag: "automations", Query: []string{"limit", "cursor"},
		Summary: "An automation's runs, newest first, each with its steps"},
	{Method: "GET", Path: "/v1/contact/{contactId}/runs", Function: "contact-run-list", Auth: AuthAccount, Access: TableRead | OpsRead | RateCount, Tag: "automations", Query: []string{"limit", "cursor"},
		Summary: "A contact's runs (every automation), newest first, each with its steps"},

	// Automations (seed 003): the account's automations, per account
	// secret key.
	{Method: "POST", Path: "/v1/automations", Function: "automation-create", Auth: AuthAccount, Access: TableRead | TableWrite | Ops | RateCount, Tag: "automations", Body: true, Created: true,
		Summary: "Create an automation: name, ordered nodes, triggers, on (default off; switched on, what its nodes name is checked); honours Idempotency-Key"},
	{Method: "GET", Path: "/v1/automations", Function: "automation-list", Auth: AuthAccount, Access: TableRead | RateCount, Tag: "automations",
		Summary: "The account's automations, oldest first"},
	{Method: "GET", Path: "/v1/automations/{automationId}", Function: "automation-get", Auth: AuthAccount, Access: TableRead | RateCount, Tag: "automations",
		Summary: "One automation"},
	{Method: "PUT", Path: "/v1/automations/{automationId}", Function: "automation-update", Auth: AuthAccount, Access: TableRead | TableWrite | RateCount, Tag: "automations", Body: true,
		Summary: "Replace an automation's name, nodes and triggers (and on, when given); a version other than the stored one is a 409"},
	{Method: "PATCH", Path: "/v1/automations/{automationId}", Function: "automation-switch", Auth: AuthAccount, Access: TableRead | TableWrite | RateCount, Tag: "automations", Body: true,
		Summary: "Switch an automation on or off: {\"on\": true|false}; switching on checks what its nodes name again"},
	{Method: "DELETE", Path: "/v1/automations/{automationId}", Function: "automation-delete", Auth: AuthAccount, Access: TableRead | TableWrite | RateCount, Tag: "automations",
		Summary: "Delete an automation"},

	// JSON API connector (seed 000): per channel token.
	{Method: "POST", Path: "/v1/connections", Function: "connection-create", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount, Tag: "connections", Body: true, Created: true,
		Summary: "Create a connection: name, url, triggers, fields; answers its signing secret once"},
	{Method: "GET", Path: "/v1/connections", Function: "connection-list", Auth: AuthChannel, Access: TableRead | RateCount, Tag: "connections",
		Summary: "The channel's connections"},
	{Method: "GET", Path: "/v1/connections/{connectionId}", Function: "connection-get", Auth: AuthChannel, Access: TableRead | RateCount, Tag: "connections",
		Summary: "One connection"},
	{Method: "PUT", Path: "/v1/connections/{connectionId}", Function: "connection-update", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount, Tag: "connections", Body: true,
		Summary: "Change a connection (name, url, triggers, fields, enabled)"},
	{Method: "DELETE", Path: "/v1/connections/{connectionId}", Function: "connection-delete", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount, Tag: "connections",
		Summary: "Delete a connection"},
	{Method: "POST", Path: "/v1/connections/{connectionId}/secret", Function: "connection-secret-rotate", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount, Tag: "connections",
		Summary: "Rotate the signing secret; the old one keeps signing for 24 h"},
	{Method: "GET", Path: "/v1/connections/{connectionId}/activity", Function: "connection-activity", Auth: AuthChannel, Access: TableRead | OpsRead | RateCount, Tag: "connections",
		Summary: "The last 10 attempts, newest first (each with the request's body and headers as sent), the connection's settings, and its last 24 h by hour (stats)"},
	{Method: "POST", Path: "/v1/connections/{connectionId}/test", Function: "connection-test", Auth: AuthChannel, Access: TableRead | TableWrite | Ops | RateCount, Tag: "connections",
		Summary: "Send a sample payload now and answer the attempt"},
	{Method: "POST", Path: "/v1/connections/{connectionId}/activity/{webhookId}/replay", Function: "connection-replay", Auth: AuthChannel, Access: TableRead | TableWrite | OpsRead | RateCount | QueueSend, Tag: "connections",
		Summary: "Queue a logged delivery again (same webhook-id, fresh signature)"},
	{Method: "GET", Path: "/v1/deliveries/dead", Function: "delivery-dead-list", Auth: AuthChannel, Access: TableRead | RateCount, Tag: "connections", Query: []string{"limit", "cursor"},
		Summary: "Deliveries that ran out of attempts or were refused for good, newest first; ?limit= (≤ 100) and ?cursor= (links.next)"},
	{Method: "POST", Path: "/v1/deliveries/dead/{deliveryId}/redrive", Function: "delivery-dead-redrive", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount | QueueSend, Tag: "connections",
		Summary: "Queue a dead delivery again"},
	{Method: "POST", Path: "/v1/events", Function: "events-collect", Auth: AuthChannel, Access: TableRead | TableWrite | Ops | RateCount, Tag: "connections", Body: true,
		Summary: "What the bot collected from a subscriber: a field value or an event; fires the same triggers"},

	// Messenger Platform webhooks for a Messenger channel (public: the
	// channel's verify token and app secret authenticate them).
	{Method: "GET", Path: "/v1/webhooks/messenger/{tenantId}/{channelId}", Function: "messenger-verify", Auth: AuthNone, Access: TableRead, Tag: "connections", Query: []string{"hub.mode", "hub.verify_token", "hub.challenge"},
		Summary: "Messenger's subscription handshake: answers hub.challenge"},
	{Method: "POST", Path: "/v1/webhooks/messenger/{tenantId}/{channelId}", Function: "messenger-receive", Auth: AuthNone, Access: TableRead | TableWrite, Tag: "connections", Body: true,
		Summary: "Messenger webhook calls (X-Hub-Signature-256): postbacks, email and phone quick replies, locations"},

	// Zapier REST hooks.
	{Method: "POST", Path: "/v1/hooks", Function: "hook-subscribe", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount, Tag: "zapier", Body: true, Created: true,
		Summary: "Subscribe a Zapier hook: target_url and event (a connector trigger, message_received or message_status)"},
	{Method: "DELETE", Path: "/v1/hooks/{hookId}", Function: "hook-unsubscribe", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount, Tag: "zapier",
		Summary: "Unsubscribe a Zapier hook"},
	{Method: "GET", Path: "/v1/hooks/sample", Function: "hook-sample", Auth: AuthChannel, Access: TableRead | OpsRead | RateCount, Tag: "zapier", Query: []string{"event"},
		Summary: "A trigger's recent items on the channel, newest first (Zapier's perform list); a sample in the live shape when there are none yet"},

	{Method: "POST", Path: "/admin/tenants", Function: "admin-tenant-create", Auth: AuthAdmin, Access: TableRead | TableWrite, Tag: "admin", Body: true, Created: true,
		Summary: "Create a tenant; its account secret key is shown once"},
	{Method: "GET", Path: "/admin/tenants/{tenantId}", Function: "admin-tenant-get", Auth: AuthAdmin, Access: TableRead, Tag: "admin",
		Summary: "View a tenant"},
	{Method: "POST", Path: "/admin/tenants/{tenantId}/secret", Function: "admin-secret-rotate", Auth: AuthAdmin, Access: TableRead | TableWrite, Tag: "admin",
		Summary: "Issue a new account secret key (shown once); the old one stops working"},
	{Method: "POST", Path: "/admin/tenants/{tenantId}/channels", Function: "admin-channel-create", Auth: AuthAdmin, Access: TableRead | TableWrite, Tag: "admin", Body: true, Created: true,
		Summary: "Create a channel (messenger, whatsapp, viber, sms, voice)"},
	{Method: "GET", Path: "/admin/tenants/{tenantId}/channels", Function: "admin-channel-list", Auth: AuthAdmin, Access: TableRead, Tag: "admin",
		Summary: "List a tenant's channels"},
	{Method: "POST", Path: "/admin/tenants/{tenantId}/channels/{channelId}/tokens", Function: "admin-token-create", Auth: AuthAdmin, Access: TableRead | TableWrite, Tag: "admin", Body: true, Created: true,
		Summary: "Generate a channel API token; the token is shown once"},
	{Method: "GET", Path: "/admin/tenants/{tenantId}/channels/{channelId}/tokens", Function: "admin-token-list", Auth: AuthAdmin, Access: TableRead, Tag: "admin",
		Summary: "List a channel's API tokens, masked"},
	{Method: "GET", Path: "/admin/dlq", Function: "admin-dlq-stats", Auth: AuthAdmin, Access: DLQRead, Tag: "admin",
		Summary: "How many messages the deliveries DLQ holds (the dispatcher kept failing on them)"},
	{Method: "POST", Path: "/admin/dlq/redrive", Function: "admin-dlq-redrive", Auth: AuthAdmin, Access: QueueSend | DLQRead, Tag: "admin",
		Summary: "Move up to 500 messages from the DLQ back to the deliveries queue"},
	{Method: "DELETE", Path: "/admin/tenants/{tenantId}/channels/{channelId}/tokens/{tokenId}", Function: "admin-token-revoke", Auth: AuthAdmin, Access: TableRead | TableWrite, Tag: "admin",
		Summary: "Revoke a channel API token"},

	// templates and seed 002: a WhatsApp channel's message templates (per
	// channel token), and the chat-api style routes of seed 002 (the
	// channel token in ?token=). {instance} is one path segment,
	// "instance" and the channel's instance id (instance777): API Gateway
	// cannot split a segment, so the function parses it.
	{Method: "POST", Path: "/v1/templates", Function: "template-create", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount | Provider, Tag: "templates", Body: true, Created: true,
		Summary: "Create a WhatsApp message template (name, namespace, language, category, components) and submit it for review: it starts PENDING"},
	{Method: "GET", Path: "/v1/templates", Function: "template-list", Auth: AuthChannel, Access: TableRead | RateCount, Tag: "templates", Query: []string{"status"},
		Summary: "The channel's message templates; ?status= PENDING, APPROVED, REJECTED, PAUSED or DISABLED"},
	{Method: "GET", Path: "/v1/templates/{templateId}", Function: "template-get", Auth: AuthChannel, Access: TableRead | RateCount, Tag: "templates",
		Summary: "One message template with its review status"},
	{Method: "PUT", Path: "/v1/templates/{templateId}", Function: "template-update", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount | Provider, Tag: "templates", Body: true,
		Summary: "Edit a template as Meta allows (not while PENDING; an APPROVED one keeps its category, once per 24 h); it is submitted again and goes back to PENDING"},
	{Method: "DELETE", Path: "/v1/templates/{templateId}", Function: "template-delete", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount | Provider, Tag: "templates",
		Summary: "Delete a message template"},
	{Method: "POST", Path: "/{instance}/sendTemplate", Function: "chatapi-instance-send-template", Auth: AuthChannelQuery, Access: TableRead | TableWrite | Ops | RateCount, Tag: "whatsapp", Body: true,
		Summary: "Send an approved template (starts a conversation): {phone, template, namespace, language{code, policy}}"},
	{Method: "POST", Path: "/sendTemplate", Function: "chatapi-send-template", Auth: AuthChannelQuery, Access: TableRead | TableWrite | Ops | RateCount, Tag: "whatsapp", Body: true,
		Summary: "Send an approved template (starts a conversation): {phone, template, namespace, language{code, policy}}"},
	{Method: "POST", Path: "/message", Function: "chatapi-message", Auth: AuthChannelQuery, Access: TableRead | TableWrite | Ops | RateCount, Tag: "whatsapp", Body: true,
		Summary: "Send a text {phone or chatId, body}: only within 24 hours of the contact's last message"},
	{Method: "POST", Path: "/{instance}/webhook", Function: "chatapi-instance-webhook", Auth: AuthChannelQuery, Access: TableRead | TableWrite | RateCount, Tag: "whatsapp", Body: true,
		Summary: "Set the URL inbound messages are posted to {webhookUrl} (\"\" removes it): a connection delivered by the dispatcher"},
	{Method: "GET", Path: "/{instance}/me", Function: "chatapi-instance-me-get", Auth: AuthChannelQuery, Access: TableRead | RateCount | Provider, Tag: "whatsapp",
		Summary: "The WhatsApp business profile (about, address, description, email, vertical, websites)"},
	{Method: "POST", Path: "/{instance}/me", Function: "chatapi-instance-me-set", Auth: AuthChannelQuery, Access: TableRead | RateCount | Provider, Tag: "whatsapp", Body: true,
		Summary: "Change the WhatsApp business profile; an empty string leaves a field as it is"},
	{Method: "POST", Path: "/{instance}/message", Function: "chatapi-instance-message", Auth: AuthChannelQuery, Access: TableRead | TableWrite | Ops | RateCount, Tag: "whatsapp", Body: true,
		Summary: "Send a text {phone or chatId, body}: only within 24 hours of the contact's last message"},
	{Method: "POST", Path: "/webhook", Function: "chatapi-webhook", Auth: AuthChannelQuery, Access: TableRead | TableWrite | RateCount, Tag: "whatsapp", Body: true,
		Summary: "Set the URL inbound messages are posted to {webhookUrl} (\"\" removes it): a connection delivered by the dispatcher"},
	// whatsapp: the Cloud API webhook (public: the verify token and the
	// channel's app secret authenticate it) and a channel's credentials.
	{Method: "GET", Path: "/v1/webhooks/whatsapp", Function: "whatsapp-verify", Auth: AuthNone, Access: TableRead, Tag: "whatsapp", Query: []string{"hub.mode", "hub.verify_token", "hub.challenge"},
		Summary: "WhatsApp's subscription handshake: answers hub.challenge to a channel's verify token"},
	{Method: "POST", Path: "/v1/webhooks/whatsapp", Function: "whatsapp-receive", Auth: AuthNone, Access: TableRead | TableWrite, Tag: "whatsapp", Body: true,
		Summary: "WhatsApp Cloud API webhook calls (X-Hub-Signature-256): inbound messages, statuses, template status updates"},
	{Method: "PUT", Path: "/admin/tenants/{tenantId}/channels/{channelId}/whatsapp", Function: "admin-whatsapp-set", Auth: AuthAdmin, Access: TableRead | TableWrite, Tag: "admin", Body: true,
		Summary: "Set a WhatsApp channel's Cloud API credentials (never shown again); the channel gets its instance id"},
	{Method: "PUT", Path: "/admin/tenants/{tenantId}/channels/{channelId}/twilio", Function: "admin-twilio-set", Auth: AuthAdmin, Access: TableRead | TableWrite, Tag: "admin", Body: true,
		Summary: "Set an SMS or voice channel's Twilio credentials: account SID, auth token (never shown again), from number or messaging service SID"},
	// Twilio's status callbacks of an sms or voice channel's messages
	// (public: X-Twilio-Signature with the channel's auth token
	// authenticates them; the sender gives Twilio this URL).
	{Method: "POST", Path: "/v1/webhooks/twilio/{tenantId}/{channelId}", Function: "twilio-status", Auth: AuthNone, Access: TableRead | TableWrite | Ops, Tag: "twilio",
		Summary: "Twilio status callbacks (form-encoded, X-Twilio-Signature): an SMS's or a call's status, moved forward only"},
	// Messages: outbound messages through the channel's provider
	// (WhatsApp), per channel token.
	{Method: "POST", Path: "/v1/messages", Function: "message-send", Auth: AuthChannel, Access: TableRead | TableWrite | Ops | RateCount, Tag: "messages", Body: true,
		Summary: "Queue a message (text, template or media) to a phone number or contact; honours Idempotency-Key"},
	{Method: "GET", Path: "/v1/messages", Function: "message-list", Auth: AuthChannel, Access: TableRead | RateCount, Tag: "messages", Query: []string{"limit", "cursor"},
		Summary: "The channel's messages (both directions, with their status), newest first; ?limit= (≤ 100) and ?cursor= (links.next)"},
	{Method: "GET", Path: "/v1/messages/{messageId}", Function: "message-get", Auth: AuthChannelOrAccount, Access: TableRead | RateCount, Tag: "messages",
		Summary: "One message, with its status and the provider's id and error: the channel's (channel token) or any of the tenant's (account secret)"},
	{Method: "GET", Path: "/v1/contact/{contactId}/messages", Function: "contact-message-list", Auth: AuthChannel, Access: TableRead | RateCount, Tag: "messages", Query: []string{"limit", "cursor"},
		Summary: "A contact's messages on the channel, newest first; ?limit= (≤ 100) and ?cursor= (links.next)"},

	// Sender installations (seed 004): managed per channel token; the
	// installed sender pulls with its installation secret (Bearer), and
	// add_message's two forms are authenticated by the installation's UUID
	// (the handlers check both: public routes here).
	{Method: "POST", Path: "/v1/installations", Function: "installation-create", Auth: AuthChannel, Access: TableWrite | RateCount, Tag: "installations", Body: true, Created: true,
		Summary: "Create a sender installation (name, numbers, use_api, hours, default_country); its secret is shown once"},
	{Method: "GET", Path: "/v1/installations", Function: "installation-list", Auth: AuthChannel, Access: TableRead | OpsRead | RateCount, Tag: "installations",
		Summary: "The channel's sender installations, with their last pull (online)"},
	{Method: "GET", Path: "/v1/installations/{installationId}", Function: "installation-get", Auth: AuthChannel, Access: TableRead | OpsRead | RateCount, Tag: "installations",
		Summary: "One sender installation, with its last pull (online)"},
	{Method: "PUT", Path: "/v1/installations/{installationId}", Function: "installation-update", Auth: AuthChannel, Access: TableRead | TableWrite | OpsRead | RateCount, Tag: "installations", Body: true,
		Summary: "Change an installation: name, numbers, use_api (the seed's \"Use API\"), hours, default_country"},
	{Method: "GET", Path: "/v1/installation_hours", Function: "installation-hours-get", Auth: AuthChannel, Access: TableRead | RateCount, Tag: "installations",
		Summary: "The channel's allowed hours: the default of its installations"},
	{Method: "PUT", Path: "/v1/installation_hours", Function: "installation-hours-set", Auth: AuthChannel, Access: TableRead | TableWrite | RateCount, Tag: "installations", Body: true,
		Summary: "Set the channel's allowed hours (a weekly schedule in an IANA time zone, holidays)"},
	{Method: "GET", Path: "/v1/installations/{installationId}/messages", Function: "installation-pull", Auth: AuthNone, Access: TableRead | TableWrite | Ops, Tag: "installations", Query: []string{"wait", "max", "lease"},
		Summary: "The installed sender's pull (Authorization: Bearer <installation secret>): pending messages in order, leased; ?wait= long-polls up to 20 s"},
	{Method: "POST", Path: "/v1/installations/{installationId}/messages/{messageId}/ack", Function: "installation-ack", Auth: AuthNone, Access: TableRead | TableWrite | Ops, Tag: "installations", Body: true,
		Summary: "The installed sender ends a leased message: {lease, status: sent|failed, error} (Authorization: Bearer <installation secret>)"},
	{Method: "POST", Path: "/v1/installations/{installationId}/acks", Function: "installation-ack-batch", Auth: AuthNone, Access: TableRead | TableWrite | Ops, Tag: "installations", Body: true,
		Summary: "The installed sender ends up to 50 leased messages at once: {acks: [{id, lease, status, error}]}, one result each (Authorization: Bearer <installation secret>)"},
	{Method: "POST", Path: "/add_message", Function: "add-message", Auth: AuthNone, Access: TableRead | TableWrite | Ops, Tag: "installations", Body: true,
		Summary: "Seed 004: queue a WhatsApp message for a sender installation {UUID, ToMobileNumber, ToCountryCode, FromMobileNumber, Message (URL-encoded), DownloadLink}"},
	{Method: "GET", Path: "/webhook/add_message", Function: "webhook-add-message", Auth: AuthNone, Access: TableRead | TableWrite | Ops, Tag: "installations",
		Query:   []string{"UUID", "ToMobileNumber", "ToCountryCode", "FromMobileNumber", "wapMessage", "DownloadLink"},
		Summary: "Seed 004's link form of add_message: the same parameters in the query string (names in any case), wapMessage for the text"},
}

// EventFunction is a Lambda that is not behind the API: the authorizer and
// the event-source consumers.
type EventFunction struct {
	Function string
	Access   Access
	// Source is "" (invoked by API Gateway), "stream" (the table's stream),
	// "queue" (the deliveries queue), "outbox" (the outbox queue) or
	// "schedule" (every minute: an EventBridge rule).
	Source    string
	BatchSize int
	// KeyPrefix limits a stream consumer to items whose partition key
	// starts with it (a Lambda event filter in AWS; the consumer checks
	// again, so the local poller needs none).
	KeyPrefix string
	Summary   string
}

// Authorizer is the REQUEST authorizer's function name.
const Authorizer = "authorizer"

// EventFunctions lists every function that has no route of its own.
var EventFunctions = []EventFunction{
	{Function: Authorizer, Access: TableRead, Summary: "REQUEST authorizer: channel tokens and account secrets"},
	{Function: "trigger-router", Access: TableRead | Ops | QueueSend | OutboxSend | StreamRead, Source: "stream", BatchSize: 100, KeyPrefix: "CONTACT#",
		Summary: "Table stream → the triggers a contact write fired → one delivery per matching connection"},
	{Function: "dispatcher", Access: TableRead | TableWrite | Ops | QueueConsume | QueueSend, Source: "queue", BatchSize: 10,
		Summary: "Deliveries queue → POST to the target (10 s), retries queued with their attempt count, dead deliveries"},
	{Function: "messenger-intake", Access: TableRead | TableWrite | Ops | StreamRead, Source: "stream", BatchSize: 10, KeyPrefix: "INBOX#",
		Summary: "Table stream → the events of each stored Messenger webhook call, recorded once each (contact writes)"},
	// whatsapp
	{Function: "whatsapp-intake", Access: TableRead | TableWrite | Ops | StreamRead, Source: "stream", BatchSize: 10, KeyPrefix: "WAINBOX#",
		Summary: "Table stream → each stored WhatsApp webhook call: inbound messages (once each, by wamid), statuses, template status updates"},
	{Function: "sender", Access: TableRead | TableWrite | Ops | OutboxConsume, Source: "outbox", BatchSize: 10,
		Summary: "Outbox queue → the provider's send API (claimed once, retried with backoff), status sent with the provider's id or failed with its error"},
	// scheduler: invoked every minute (an EventBridge rule; make run's
	// poller), releases the due items to their kinds' handlers.
	{Function: "scheduler-tick", Access: TableRead | TableWrite | Ops, Source: "schedule",
		Summary: "Every minute → the due items (allowed hours' releases, waits) handed to their kinds' handlers, from a durable cursor"},
}

// Functions returns the sorted, de-duplicated names of every function.
func Functions() []string {
	seen := map[string]bool{}
	for _, r := range Table {
		seen[r.Function] = true
	}
	for _, f := range EventFunctions {
		seen[f.Function] = true
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// ByFunction returns the route served by the named function.
func ByFunction(name string) (Route, bool) {
	for _, r := range Table {
		if r.Function == name {
			return r, true
		}
	}
	return Route{}, false
}

// Lookup returns the route with this method and path template.
func Lookup(method, path string) (Route, bool) {
	for _, r := range Table {
		if r.Method == method && r.Path == path {
			return r, true
		}
	}
	return Route{}, false
}
