package apidoc

import (
	"net/http"
	"reflect"
	"strings"

	"github.com/startmsg/chatbackend/shared/actionapi"
	"github.com/startmsg/chatbackend/shared/adminapi"
	"github.com/startmsg/chatbackend/shared/connectionapi"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contactapi"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/eventsapi"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/limits"
	"github.com/startmsg/chatbackend/shared/messageapi"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/metaapi"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Op is what the document says about one route beyond the route table: the
// Go types its handler decodes and encodes, its success status, the errors
// it can answer besides the ones its auth, body and path imply, its query
// parameters and examples.
type Op struct {
	// Request is the type the handler decodes (nil: no body).
	Request reflect.Type
	// RequestOptional is true when the body may be left out.
	RequestOptional bool
	// Response is the whole success body's type; Wrap puts it in {"data":…}.
	Response reflect.Type
	Wrap     bool
	// Text is true for a text/plain answer (Messenger's handshake).
	Text bool
	// Media is the media type of an answer that is not JSON (the panel's
	// page and files): its body is described as a string.
	Media string
	// Redirect is true for a route that may answer 308 with a Location
	// and no body (the panel's page without its trailing slash).
	Redirect bool
	// Status is the success status (200 when 0).
	Status int
	// Errors are statuses the route answers besides the implied ones.
	Errors []int
	Query  []Param
	// RequestExample and ResponseExample are JSON.
	RequestExample, ResponseExample string
}

// Param is a query parameter.
type Param struct {
	Name        string
	Required    bool
	Schema      obj
	Description string
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// Shapes that are not Go types of their own.
var (
	// success is the seed's message-only success body.
	success = typeOf[httpapi.Envelope]()
	// documentType stands for the OpenAPI document itself.
	documentType = typeOf[openAPIDocument]()
	// hookSamples is GET /v1/hooks/sample's array.
	hookSamples = typeOf[[]connectionapi.SamplePayload]()
)

// openAPIDocument is what /openapi.json answers, as far as a client relies
// on it.
type openAPIDocument struct {
	OpenAPI    string         `json:"openapi"`
	Info       map[string]any `json:"info"`
	Paths      map[string]any `json:"paths"`
	Components map[string]any `json:"components"`
}

const (
	contactExample = `{"created_at":1714560000,"custom_fields":{"firstName":"Muhammad Mahin","phone":"+923244077087","Plan":"gold"},` +
		`"id":"123456789012345","opportunity":false,"tags":["VIP"],"updated_at":1714560100}`
	fieldExample      = `{"id":"12","name":"Plan","type":"list","options":["gold","silver"],"created_at":1714560000,"updated_at":1714560000}`
	connectionExample = `{"created_at":1714560000,"enabled":true,"fields":["psid","first_name","email"],"id":"conn_k3v9q2m8x1c4b7n5",` +
		`"name":"CRM","page_id":"ch_7bq2x9m4k1v8c3n6","source":"api","state":"active","triggers":["email"],"updated_at":1714560000,"url":"https://crm.example.com/hook"}`
	attemptExample = `{"time":1714560000123,"webhook_id":"msg_2k4m6p8r1t3v5x7z","attempt":1,"outcome":"success","http_code":200,"duration_ms":84,` +
		`"trigger":"email","request_body":"{\"email\":\"testuser@example.com\",\"psid\":\"12765756\"}",` +
		`"request_headers":{"Content-Length":"50","Content-Type":"application/json","User-Agent":"ChatBackend-Webhooks/1.0 (+https://github.com/startmsg/chatbackend)",` +
		`"Webhook-Id":"msg_2k4m6p8r1t3v5x7z","Webhook-Signature":"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=","Webhook-Timestamp":"1714560000"},` +
		`"response_body":"ok","final":true}`
	// statsExample is two of the 24 hours: one without attempts, the current one with some.
	statsExample = `{"hour":1714474800,"successes":0,"failures":0,"duration_sum_ms":0,"duration_max_ms":0},` +
		`{"hour":1714557600,"successes":41,"failures":2,"duration_sum_ms":3870,"duration_max_ms":412}`
	channelExample = `{"id":"ch_7bq2x9m4k1v8c3n6","tenant_id":"ten_4n8c2v6x1m9q3k7b","kind":"messenger","name":"Acme Messenger","default_country":"PK","created_at":1714560000}`
	tenantExample  = `{"id":"ten_4n8c2v6x1m9q3k7b","name":"Acme","created_at":1714560000,"secret_mask":"sk_abcd…wxyz"}`
	tokenExample   = `{"id":"tok_5m1x8c3v9b2n7q4k","channel_id":"ch_7bq2x9m4k1v8c3n6","name":"zapier","token":"ct_abcd…wxyz","created_at":1714560000}`
)

// Ops describes every route of routes.Table by function name.
var Ops = map[string]Op{
	"openapi": {Response: documentType},
	// The panel: an HTML page, and its built files (scripts, styles).
	"dashboard":       {Media: "text/html", Redirect: true},
	"dashboard-asset": {Media: "*/*"},
	"me": {Response: typeOf[metaapi.MeView](), Wrap: true,
		ResponseExample: `{"data":{"channel":` + channelExample + `,"tenant":{"id":"ten_4n8c2v6x1m9q3k7b","name":"Acme"},` +
			`"limits":{"contacts_per_tenant":1000000,"connections_per_channel":50,"deliveries_per_second":200,"automations_per_tenant":100}}}`},

	"contact-create": {Request: typeOf[contactapi.FieldsBody](), Response: typeOf[contactapi.ContactRef](), Wrap: true,
		Errors:          []int{http.StatusConflict, http.StatusUnprocessableEntity},
		RequestExample:  `{"custom_fields":[{"name":"firstName","value":"Muhammad Mahin"},{"name":"phone","value":"03244077087"}]}`,
		ResponseExample: `{"data":{"id":"123456789012345"}}`},
	"contact-search": {Response: typeOf[contactapi.SearchPage](),
		Errors: []int{http.StatusBadRequest},
		Query: []Param{
			{Name: "name", Schema: obj{"type": "string"}, Description: "The field: a standard field's name, a custom field's name (any case) or ID."},
			{Name: "value", Required: true, Schema: obj{"type": "string", "minLength": 1}, Description: "The value to match, ignoring case."},
			{Name: "page", Schema: obj{"type": "integer", "minimum": 1, "default": 1}, Description: "The page, 10 contacts each."},
		},
		ResponseExample: `{"data":[` + contactExample + `],"links":{"first":"https://api.example.com/v1/contact/by_custom_field?name=Plan&value=gold&page=1",` +
			`"last":"https://api.example.com/v1/contact/by_custom_field?name=Plan&value=gold&page=1","next":null,"prev":null},` +
			`"meta":{"current_page":1,"from":1,"last_page":1,"path":"https://api.example.com/v1/contact/by_custom_field","per_page":10,"to":1,"total":1}}`},
	"contact-get": {Response: typeOf[contactapi.ContactView](), Wrap: true, ResponseExample: `{"data":` + contactExample + `}`},
	"contact-update": {Request: typeOf[contactapi.FieldsBody](), Response: typeOf[contactapi.ContactRef](), Wrap: true,
		Errors:          []int{http.StatusConflict},
		RequestExample:  `{"custom_fields":[{"name":"Plan","value":"gold"},{"name":"email","value":"mahin@example.com"}]}`,
		ResponseExample: `{"data":{"id":"123456789012345"}}`},
	"contact-delete": {Response: success, Errors: []int{http.StatusConflict},
		ResponseExample: `{"status":"success","message":"Contact deleted successfully.","data":[]}`},
	"contact-tags-add": {Request: typeOf[contactapi.TagsBody](), Response: success, Errors: []int{http.StatusConflict},
		RequestExample:  `{"tags":["VIP","Newsletter"]}`,
		ResponseExample: `{"status":"success","message":"Contact Tags have been added successfully.","data":[]}`},
	"contact-tags-remove": {Request: typeOf[contactapi.TagsBody](), Response: success, Errors: []int{http.StatusConflict},
		RequestExample:  `{"tags":["Newsletter"]}`,
		ResponseExample: `{"status":"success","message":"Contact Tags deleted successfully.","data":[]}`},

	"contact-field-list": {Response: typeOf[[]contacts.Field](), Wrap: true, ResponseExample: `{"data":[` + fieldExample + `]}`},
	"contact-field-create": {Request: typeOf[contacts.FieldInput](), Response: typeOf[contacts.Field](), Wrap: true, Status: http.StatusCreated,
		Errors:          []int{http.StatusConflict},
		RequestExample:  `{"name":"Plan","type":"list","options":["gold","silver"]}`,
		ResponseExample: `{"data":` + fieldExample + `}`},
	"contact-field-get": {Response: typeOf[contacts.Field](), Wrap: true, ResponseExample: `{"data":` + fieldExample + `}`},
	"contact-field-update": {Request: typeOf[contacts.FieldInput](), Response: typeOf[contacts.Field](), Wrap: true,
		Errors:          []int{http.StatusConflict},
		RequestExample:  `{"options":["gold","silver","bronze"]}`,
		ResponseExample: `{"data":` + fieldExample + `}`},
	"contact-field-delete": {Response: success, Errors: []int{http.StatusConflict},
		ResponseExample: `{"status":"success","message":"Contact field deleted successfully.","data":[]}`},

	"actions": {Request: typeOf[[]actionapi.Action](), Response: typeOf[[]actionapi.ActionResult](), Wrap: true,
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity},
		RequestExample: `[{"type":"NEW","Number":"03244077087","Email":"mahin@example.com","Fname":"Muhammad","Lname":"Mahin","Custom":{"12":"gold"}},{"type":"TRASH","idContact":123456789012345},` +
			`{"number":"+526643596440","text":"Hello, your package ","type":"SMS"}]`,
		ResponseExample: `{"data":[{"type":"NEW","status":"success","idContact":123456789012346},{"type":"TRASH","status":"success","idContact":123456789012345},` +
			`{"type":"SMS","status":"success","idMessage":"msg_5q2w8e4r6t1y9u3i","messageStatus":"queued","idChannel":"ch_7m2x9c4v1b8n3k6q"}]}`},

	"connection-create": {Request: typeOf[connections.Input](), Response: typeOf[connectionapi.ConnectionView](), Wrap: true, Status: http.StatusCreated,
		Errors:          []int{http.StatusUnprocessableEntity},
		RequestExample:  `{"name":"CRM","url":"https://crm.example.com/hook","triggers":["email"],"fields":["psid","first_name","email"]}`,
		ResponseExample: `{"data":` + connectionExample[:len(connectionExample)-1] + `,"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}`},
	"connection-list": {Response: typeOf[[]connectionapi.ConnectionView](), Wrap: true, ResponseExample: `{"data":[` + connectionExample + `]}`},
	"connection-get":  {Response: typeOf[connectionapi.ConnectionView](), Wrap: true, ResponseExample: `{"data":` + connectionExample + `}`},
	"connection-update": {Request: typeOf[connections.Input](), Response: typeOf[connectionapi.ConnectionView](), Wrap: true,
		Errors:          []int{http.StatusConflict, http.StatusUnprocessableEntity},
		RequestExample:  `{"enabled":true,"triggers":["email","phone"]}`,
		ResponseExample: `{"data":` + connectionExample + `}`},
	"connection-delete": {Response: success, Errors: []int{http.StatusConflict},
		ResponseExample: `{"status":"success","message":"Connection deleted successfully.","data":[]}`},
	"connection-secret-rotate": {Response: typeOf[connectionapi.ConnectionView](), Wrap: true, Errors: []int{http.StatusConflict},
		ResponseExample: `{"data":` + connectionExample[:len(connectionExample)-1] + `,"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}`},
	"connection-activity": {Response: typeOf[connectionapi.Activity](),
		ResponseExample: `{"connection":` + connectionExample + `,"data":[` + attemptExample + `],"stats":[` + statsExample + `]}`},
	"connection-test": {Response: typeOf[connections.Attempt](), Wrap: true, ResponseExample: `{"data":` + attemptExample + `}`},
	"connection-replay": {Response: typeOf[connectionapi.Replayed](), Wrap: true, Status: http.StatusAccepted,
		ResponseExample: `{"data":{"queued":true,"webhook_id":"msg_2k4m6p8r1t3v5x7z"}}`},
	"delivery-dead-list": {Response: typeOf[connectionapi.DeadPage](),
		Errors: []int{http.StatusBadRequest},
		Query: []Param{
			{Name: "limit", Schema: obj{"type": "integer", "minimum": 1, "maximum": 100, "default": 100}, Description: "Deliveries per page."},
			{Name: "cursor", Schema: obj{"type": "string"}, Description: "Where the page starts: from the previous page's links.next."},
		},
		ResponseExample: `{"data":[{"connection_id":"conn_k3v9q2m8x1c4b7n5","died_at":1714570000,"id":"msg_2k4m6p8r1t3v5x7z","last_attempt":` +
			attemptExample + `,"payload":"{\"email\":\"testuser@example.com\",\"psid\":\"12765756\"}","trigger":"email"}],"links":{"next":null}}`},
	"delivery-dead-redrive": {Response: typeOf[connectionapi.Redriven](), Wrap: true, Status: http.StatusAccepted,
		ResponseExample: `{"data":{"id":"msg_2k4m6p8r1t3v5x7z","queued":true}}`},
	"events-collect": {Request: typeOf[eventsapi.EventBody](), Response: typeOf[eventsapi.Collected](), Wrap: true,
		Errors:          []int{http.StatusConflict, http.StatusUnprocessableEntity},
		RequestExample:  `{"psid":"12765756","field":"email","value":"testuser@example.com"}`,
		ResponseExample: `{"data":{"id":"12765756","psid":"12765756"}}`},

	"messenger-verify": {Text: true, Errors: []int{http.StatusForbidden},
		Query: []Param{
			{Name: "hub.mode", Required: true, Schema: obj{"type": "string", "enum": []string{"subscribe"}}},
			{Name: "hub.verify_token", Required: true, Schema: obj{"type": "string"}, Description: "The channel's verify token."},
			{Name: "hub.challenge", Required: true, Schema: obj{"type": "string"}, Description: "Answered as is."},
		}},
	"messenger-receive": {Request: typeOf[eventsapi.MessengerBody](), Response: typeOf[eventsapi.MessengerAck](),
		Errors:          []int{http.StatusForbidden},
		RequestExample:  `{"object":"page","entry":[{"messaging":[{"sender":{"id":"12765756"},"timestamp":1714560000000,"postback":{"payload":"GET_STARTED"}}]}]}`,
		ResponseExample: `{"status":"success"}`},

	"hook-subscribe": {Request: typeOf[connectionapi.HookBody](), Response: typeOf[connectionapi.HookCreated](), Status: http.StatusCreated,
		Errors:         []int{http.StatusUnprocessableEntity},
		RequestExample: `{"target_url":"https://hooks.zapier.com/hooks/standard/123/abc/","event":"email"}`,
		ResponseExample: `{"data":{"created_at":1714560000,"enabled":true,"fields":[],"id":"conn_k3v9q2m8x1c4b7n5","name":"Zapier: email",` +
			`"page_id":"ch_7bq2x9m4k1v8c3n6","source":"zapier","state":"active","triggers":["email"],"updated_at":1714560000,"url":"https://hooks.zapier.com/hooks/standard/123/abc/"},"id":"conn_k3v9q2m8x1c4b7n5"}`},
	"hook-unsubscribe": {Response: success, Errors: []int{http.StatusConflict},
		ResponseExample: `{"status":"success","message":"Hook deleted successfully.","data":[]}`},
	"hook-sample": {Response: hookSamples, Errors: []int{http.StatusBadRequest},
		Query: []Param{{Name: "event", Schema: obj{"type": "string", "enum": hookTriggerNames()}, Description: "The trigger the Zap listens to: its recent items, newest first (a sample when the channel has none yet)."}},
		ResponseExample: `[{"email":"testuser@example.com","first_name":"Test","labels":"Demo,Demo Label 1","last_name":"User","page_id":"ch_7bq2x9m4k1v8c3n6",` +
			`"page_name":"Acme Messenger","phone_number":"+370628282846","postbackid":"GET_STARTED","psid":"12765756","subscribed_at":"2024-05-01 10:40:00","subscriber_id":"12765756"}]`},

	"admin-tenant-create": {Request: typeOf[adminapi.TenantInput](), Response: typeOf[tenancy.NewTenant](), Wrap: true, Status: http.StatusCreated,
		Errors:          []int{http.StatusConflict},
		RequestExample:  `{"name":"Acme"}`,
		ResponseExample: `{"data":{"tenant":` + tenantExample + `,"account_secret":"sk_q2w3e4r5t6y7u2i3o4p5a6s7d2f3g4h5j6k7l2z3x4c5v6b7n2m3"}}`},
	"admin-tenant-get": {Response: typeOf[tenancy.Tenant](), Wrap: true, ResponseExample: `{"data":` + tenantExample + `}`},
	"admin-secret-rotate": {Response: typeOf[tenancy.NewTenant](), Wrap: true, Errors: []int{http.StatusConflict},
		ResponseExample: `{"data":{"tenant":` + tenantExample + `,"account_secret":"sk_q2w3e4r5t6y7u2i3o4p5a6s7d2f3g4h5j6k7l2z3x4c5v6b7n2m3"}}`},
	"admin-channel-create": {Request: typeOf[tenancy.ChannelInput](), Response: typeOf[tenancy.Channel](), Wrap: true, Status: http.StatusCreated,
		Errors:          []int{http.StatusConflict},
		RequestExample:  `{"kind":"messenger","name":"Acme Messenger","default_country":"PK","app_secret":"0123456789abcdef","verify_token":"acme-verify"}`,
		ResponseExample: `{"data":` + channelExample + `}`},
	"admin-channel-list": {Response: typeOf[[]tenancy.Channel](), Wrap: true, ResponseExample: `{"data":[` + channelExample + `]}`},
	"admin-token-create": {Request: typeOf[adminapi.TokenInput](), RequestOptional: true, Response: typeOf[tenancy.NewToken](), Wrap: true, Status: http.StatusCreated,
		Errors:         []int{http.StatusConflict},
		RequestExample: `{"name":"zapier"}`,
		ResponseExample: `{"data":{"id":"tok_5m1x8c3v9b2n7q4k","channel_id":"ch_7bq2x9m4k1v8c3n6","name":"zapier",` +
			`"token":"ct_q2w3e4r5t6y7u2i3o4p5a6s7d2f3g4h5j6k7l2z3x4c5v6b7n2m3","created_at":1714560000}}`},
	"admin-token-list": {Response: typeOf[[]tenancy.Token](), Wrap: true, ResponseExample: `{"data":[` + tokenExample + `]}`},
	"admin-dlq-stats": {Response: typeOf[adminapi.DLQStats](), Wrap: true,
		ResponseExample: `{"data":{"messages":0,"messages_in_flight":0}}`},
	"admin-dlq-redrive": {Response: typeOf[adminapi.DLQRedrive](), Wrap: true, ResponseExample: `{"data":{"moved":3}}`},
	"admin-token-revoke": {Response: success, Errors: []int{http.StatusConflict},
		ResponseExample: `{"status":"success","message":"Token revoked.","data":[]}`},
}

var stringOrNumber = obj{"type": []string{"string", "number"}}

func anyNames(vs []string) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// hookTriggerNames are the triggers a Zapier hook takes: the connector's
// and the two message triggers.
func hookTriggerNames() []string {
	out := make([]string, len(connections.HookTriggers))
	for i, t := range connections.HookTriggers {
		out[i] = string(t)
	}
	return out
}

func triggerNames() []string {
	out := make([]string, len(connections.Triggers))
	for i, t := range connections.Triggers {
		out[i] = string(t)
	}
	return out
}

func names[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// newReflector knows the project's enumerations and the component names of
// types whose Go names do not make good ones.
func newReflector() *reflector {
	return &reflector{
		names: map[reflect.Type]string{
			typeOf[httpapi.Envelope]():             "Message",
			typeOf[contactapi.FieldsBody]():        "ContactFieldsInput",
			typeOf[eventsapi.EventBody]():          "EventInput",
			typeOf[actionapi.Action]():             "Action",
			typeOf[actionapi.ActionResult]():       "ActionResult",
			typeOf[eventsapi.MessengerBody]():      "MessengerWebhook",
			typeOf[eventsapi.MessagingEvent]():     "MessengerEvent",
			typeOf[contactapi.SearchPage]():        "ContactSearchPage",
			typeOf[contactapi.TagsBody]():          "TagsInput",
			typeOf[contactapi.ContactView]():       "Contact",
			typeOf[connectionapi.HookBody]():       "HookInput",
			typeOf[connectionapi.ConnectionView](): "Connection",
			typeOf[connectionapi.DeadPage]():       "DeadDeliveryPage",
			typeOf[connectionapi.DeadView]():       "DeadDelivery",
			typeOf[connectionapi.DeadLinks]():      "DeadDeliveryLinks",
			typeOf[connectionapi.Activity]():       "ConnectionActivity",
			typeOf[connections.Input]():            "ConnectionInput",
			typeOf[contacts.Input]():               "FieldValueInput",
			typeOf[openAPIDocument]():              "OpenAPIDocument",
			typeOf[messages.Message]():             "ChatMessage",
			typeOf[messages.SendRequest]():         "MessageInput",
			typeOf[messages.Failure]():             "MessageError",
			typeOf[messages.TextInput]():           "TextInput",
			typeOf[messages.TemplateInput]():       "MessageTemplateInput",
			typeOf[messages.Template]():            "MessageTemplate",
			typeOf[messages.SendComponent]():       "MessageTemplateComponent",
			typeOf[messages.SendParameter]():       "MessageTemplateParameter",
			typeOf[messages.SendMedia]():           "MessageTemplateMedia",
			typeOf[messages.ComponentInput]():      "MessageTemplateComponentInput",
			typeOf[messages.ParameterInput]():      "MessageTemplateParameterInput",
			typeOf[messages.MediaLinkInput]():      "MessageTemplateMediaInput",
			typeOf[messages.MediaInput]():          "MediaInput",
			typeOf[messageapi.Queued]():            "MessageQueued",
			typeOf[messageapi.Page]():              "MessagePage",
			typeOf[messageapi.Links]():             "MessageLinks",
		},
		enums: map[reflect.Type][]string{
			typeOf[tenancy.ChannelKind](): names(tenancy.ChannelKinds),
			typeOf[contacts.FieldType]():  names(contacts.FieldTypes),
			typeOf[connections.Trigger](): triggerNames(),
			typeOf[messages.Type]():       names(messages.Types),
			typeOf[messages.MediaKind]():  names(messages.MediaKinds),
			typeOf[messages.Direction]():  {string(messages.Outbound), string(messages.Inbound)},
			typeOf[messages.Status](): {string(messages.StatusHeld), string(messages.StatusQueued), string(messages.StatusSent), string(messages.StatusDelivered),
				string(messages.StatusRead), string(messages.StatusCompleted), string(messages.StatusFailed), string(messages.StatusReceived)},
			typeOf[connections.Outcome](): {
				string(connections.OutcomeSuccess), string(connections.OutcomeTimeout), string(connections.OutcomeDNS),
				string(connections.OutcomeConnect), string(connections.OutcomeTLS), string(connections.OutcomeHTTP),
				string(connections.OutcomeBlocked), string(connections.OutcomeDisabled),
			},
		},
		open: map[reflect.Type]bool{
			typeOf[openAPIDocument]():          true,
			typeOf[eventsapi.MessengerBody]():  true,
			typeOf[eventsapi.MessagingEvent](): true,
		},
		properties: map[string]obj{
			// A test send (POST /v1/connections/{connectionId}/test) has no trigger.
			"Attempt.trigger": {"type": "string", "enum": append(triggerNames(), ""), "description": "The trigger that made the delivery; empty for a test send."},
			"HourStat.hour":   {"type": "integer", "description": "The hour's start, unix seconds (UTC). The activity answer's stats are the last 24 hours, oldest first, the last one the current hour; an hour without attempts has zeros. Attempts that sent nothing (connection switched off) are not counted; mean latency is duration_sum_ms / (successes + failures)."},
			"Attempt.request_headers": {"type": "object", "additionalProperties": obj{"type": "string"},
				"description": "The request's headers exactly as sent, by name (Go's canonical form, as on the wire): Webhook-Id, Webhook-Timestamp, Webhook-Signature (one v1,<base64> per signing secret, space-separated), Content-Type, Content-Length, User-Agent. Absent when nothing was sent (signing failed, connection switched off) and on attempts logged before headers were recorded."},
			"ChannelInput.kind": {"type": "string", "enum": names(tenancy.ChannelKinds)},
			"ChannelInput.default_country": {"type": "string", "pattern": "^[A-Z]{2}$",
				"description": "ISO 3166-1 alpha-2: how phone numbers written without a country code are read."},
			"ChannelInput.app_secret":   {"type": "string", "description": "Messenger channels: the app secret that signs Messenger's webhook calls."},
			"ChannelInput.verify_token": {"type": "string", "description": "Messenger channels: the token of Messenger's subscription handshake."},
			"FieldInput.type":           {"type": []string{"string", "null"}, "enum": append(anyNames(names(contacts.FieldTypes)), nil), "description": "Fixed once the field exists."},
			"FieldInput.options":        {"type": []string{"array", "null"}, "items": obj{"type": "string"}, "description": "The values of a list field."},
			"ConnectionInput.triggers":  {"type": []string{"array", "null"}, "items": obj{"type": "string", "enum": triggerNames()}},
			"Connection.state": {"type": "string", "enum": []string{"active", "paused", "disabled"},
				"description": "paused: the endpoint kept failing and the circuit breaker is open (the connection's own, or, when the endpoint's host stopped answering any of the account's connections to it, the host's: then every connection to that host is paused); deliveries wait in the queue (no attempt spent) and one is sent as a probe at next_probe_at; the first success resumes it (the host's: every connection to it)."},
			"Connection.next_probe_at": {"type": "string", "format": "date-time", "description": "paused only: when the next probe is due."},
			"Connection.paused_reason": {"type": "string", "description": "paused only: endpoint failing since <RFC 3339 time>, followed by (host-wide: <host:port> does not answer; every connection to it is paused) when the host's breaker pauses it.", "examples": []string{"endpoint failing since 2024-05-01T10:00:00Z"}},
			"ConnectionInput.fields": {"type": []string{"array", "null"}, "items": obj{"type": "string"},
				"description": "The payload's fields: " + strings.Join(connections.PayloadFields, ", ") + ", or a custom field's name."},
			"FieldValueInput.name":  {"type": "string", "description": "A standard field's name, a custom field's name (any case) or its ID."},
			"FieldValueInput.value": {"type": []string{"string", "number", "boolean"}},
			"Action.type": {"type": "string", "description": "NEW, EDIT, TRASH, SEARCH, CALL or SMS (any case).",
				"examples": []string{"NEW", "EDIT", "TRASH", "SEARCH"}},
			"Action.Number":          stringOrNumber,
			"Action.Email":           stringOrNumber,
			"Action.Fname":           stringOrNumber,
			"Action.Lname":           stringOrNumber,
			"Action.idContact":       stringOrNumber,
			"Action.Custom":          {"type": "object", "additionalProperties": obj{"type": []string{"string", "number", "boolean"}}, "description": "Custom field values by field ID."},
			"ActionResult.status":    {"type": "string", "enum": []string{"success", "error"}},
			"ActionResult.idContact": {"type": "integer"},
			"ActionResult.data":      {"type": "array", "items": obj{"type": "object"}, "description": "SEARCH: the matching contacts."},
			"EventInput.value":       {"description": "The collected value (any JSON value)."},
			"EventInput.location": {"anyOf": []obj{{"type": "string", "description": "lat,long"},
				{"type": "object", "properties": obj{"lat": obj{"type": "number", "minimum": -90, "maximum": 90}, "long": obj{"type": "number", "minimum": -180, "maximum": 180}}, "required": []string{"lat", "long"}}}},
		},
		required: map[reflect.Type][]string{
			typeOf[contactapi.FieldsBody]():  {"custom_fields"},
			typeOf[contacts.Input]():         {"name", "value"},
			typeOf[contactapi.TagsBody]():    {"tags"},
			typeOf[connectionapi.HookBody](): {"target_url", "event"},
			typeOf[adminapi.TenantInput]():   {"name"},
			typeOf[tenancy.ChannelInput]():   {"kind", "name"},
			typeOf[actionapi.Action]():       {"type"},
			typeOf[contacts.FieldInput]():    {},
			typeOf[connections.Input]():      {},
			typeOf[messages.SendRequest]():   {"type"},
		},
		descriptions: map[reflect.Type]string{
			typeOf[contactapi.ContactView]():       "A contact: standard and custom fields (by name) together in custom_fields.",
			typeOf[connectionapi.ConnectionView](): "A connection. secret (whsec_…) is shown only when it is made: on create and rotate.",
			typeOf[tenancy.NewTenant]():            "A tenant and its account secret key, shown once.",
			typeOf[tenancy.NewToken]():             "A channel API token: token is the secret itself, shown once.",
			typeOf[tenancy.Token]():                "A channel API token as listed: token is masked.",
			typeOf[actionapi.ActionResult]():       "One action's result, in the order of the actions. idContact is a number; data holds SEARCH's matches; SMS and CALL answer the message queued (idMessage, read with GET /v1/messages/{messageId} and the account secret), its status and the channel it goes out on (idChannel).",
			typeOf[actionapi.Action]():             "One action: a contact action (NEW, EDIT, TRASH, SEARCH; Number, Email, Fname, Lname and idContact take a string or a number), or an SMS or a call (SMS, CALL: number with its country code, text).",
			typeOf[limits.Limits]():                "The deployment's per-tenant limits: contacts a tenant may keep, connections a channel may have (either refused with a 422 beyond), webhook deliveries sent per second for the tenant (the rest wait in the queue).",
		},
		comps: map[string]obj{},
		owner: map[string]reflect.Type{},
		mode:  map[string]bool{},
		used:  map[string]bool{},
	}
}
