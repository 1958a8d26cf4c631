package apidoc

import (
	"net/http"
	"reflect"

	"github.com/startmsg/chatbackend/shared/chatapi"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/templateapi"
	"github.com/startmsg/chatbackend/shared/templates"
)

// The template registry's and seed 002's operations (kept beside Ops, in
// this file, so that the two lists merge apart).

const (
	templateExample = `{"id":"tpl_q3v9k2m8x1c4b7n5","channel_id":"ch_7bq2x9m4k1v8c3n6","name":"order_update","namespace":"namespace_of_template",` +
		`"language":"en","category":"UTILITY","components":[{"type":"BODY","text":"Hi {{1}}, your order {{2}} is on its way.",` +
		`"example":{"body_text":[["Ana","A-1042"]]}},{"type":"FOOTER","text":"Acme Shop"}],"status":"APPROVED","body_params":2,` +
		`"created_at":1714560000,"updated_at":1714560100}`
	templateInputExample = `{"name":"order_update","namespace":"namespace_of_template","language":"en","category":"UTILITY",` +
		`"components":[{"type":"BODY","text":"Hi {{1}}, your order {{2}} is on its way.","example":{"body_text":[["Ana","A-1042"]]}},{"type":"FOOTER","text":"Acme Shop"}]}`
	sentExample        = `{"sent":true,"id":"msg_2k4m6p8r1t3v5x7z","message":"Queued for sending to 79995253422@c.us"}`
	sendTemplateInput  = `{"phone":"79995253422","template":"template_name","namespace":"namespace_of_template","language":{"code":"en","policy":"deterministic"}}`
	chatMessageInput   = `{"phone":"79995253422","body":"Hello, Andrew!"}`
	webhookInput       = `{"webhookUrl":"https://example.com/my_webhook_url"}`
	webhookSetExample  = `{"set":true,"webhookUrl":"https://example.com/my_webhook_url","connection_id":"conn_k3v9q2m8x1c4b7n5","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`
	profileExample     = `{"about":"Open 9 to 5","address":"79995253422","description":"Best Company","email":"","vertical":"RETAIL","websites":["https://example.com"]}`
	profileInputExampl = `{"address":"79995253422","description":"Best Company","email":"","vertical":""}`
)

func init() {
	view, list := typeOf[templateapi.TemplateView](), typeOf[[]templateapi.TemplateView]()
	sendT := Op{Request: typeOf[chatapi.SendTemplateBody](), Response: typeOf[chatapi.Sent](),
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity}, RequestExample: sendTemplateInput, ResponseExample: sentExample}
	msg := Op{Request: typeOf[chatapi.MessageBody](), Response: typeOf[chatapi.Sent](),
		Errors: []int{http.StatusUnprocessableEntity}, RequestExample: chatMessageInput, ResponseExample: sentExample}
	hook := Op{Request: typeOf[chatapi.WebhookBody](), Response: typeOf[chatapi.WebhookSet](),
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity}, RequestExample: webhookInput, ResponseExample: webhookSetExample}
	for fn, op := range map[string]Op{
		"template-create": {Request: typeOf[templates.Input](), Response: view, Wrap: true, Status: http.StatusCreated,
			Errors: []int{http.StatusConflict}, RequestExample: templateInputExample, ResponseExample: `{"data":` + templateExample + `}`},
		"template-list": {Response: list, Wrap: true, Errors: []int{http.StatusBadRequest},
			Query: []Param{{Name: "status", Schema: obj{"type": "string", "enum": statusNames()},
				Description: "Only the templates of this review status (any case)."}},
			ResponseExample: `{"data":[` + templateExample + `]}`},
		"template-get": {Response: view, Wrap: true, ResponseExample: `{"data":` + templateExample + `}`},
		"template-update": {Request: typeOf[templates.Input](), Response: view, Wrap: true,
			Errors:         []int{http.StatusConflict, http.StatusUnprocessableEntity},
			RequestExample: `{"components":[{"type":"BODY","text":"Hello {{1}}, order {{2}} ships today."}]}`, ResponseExample: `{"data":` + templateExample + `}`},
		"template-delete": {Response: success, Errors: []int{http.StatusConflict},
			ResponseExample: `{"status":"success","message":"Template deleted successfully.","data":[]}`},

		"chatapi-send-template":          sendT,
		"chatapi-instance-send-template": sendT,
		"chatapi-message":                msg,
		"chatapi-instance-webhook":       hook,
		"chatapi-instance-message":       msg,
		"chatapi-webhook":                hook,
		"chatapi-instance-me-get":        {Response: typeOf[chatapi.Profile](), ResponseExample: profileExample},
		"chatapi-instance-me-set": {Request: typeOf[chatapi.ProfileBody](), Response: typeOf[chatapi.ProfileSet](),
			RequestExample: profileInputExampl, ResponseExample: `{"set":true,"profile":` + profileExample + `}`},
	} {
		Ops[fn] = op
	}
	pathParamDocs["templateId"] = "A message template's ID (tpl_…)."
	pathParamDocs["instance"] = `"instance" and the WhatsApp channel's instance id, one segment: instance777. Another instance's is a 403.`
}

func statusNames() []string { return names(templates.Statuses) }

// extendReflector adds the component names, enumerations and required
// properties of the template registry's and seed 002's types.
func extendReflector(g *reflector) {
	for t, n := range map[reflect.Type]string{
		typeOf[templates.Input]():           "TemplateInput",
		typeOf[templates.Component]():       "TemplateComponentInput",
		typeOf[templates.Button]():          "TemplateButtonInput",
		typeOf[templates.Example]():         "TemplateExampleInput",
		typeOf[templateapi.TemplateView]():  "Template",
		typeOf[templateapi.ComponentView](): "TemplateComponent",
		typeOf[templateapi.ButtonView]():    "TemplateButton",
		typeOf[templateapi.ExampleView]():   "TemplateExample",
		typeOf[chatapi.SendTemplateBody]():  "SendTemplateInput",
		typeOf[chatapi.TemplateLanguage]():  "TemplateLanguageInput",
		typeOf[chatapi.MessageBody]():       "ChatMessageInput",
		typeOf[chatapi.Sent]():              "ChatSent",
		typeOf[chatapi.WebhookBody]():       "ChatWebhookInput",
		typeOf[chatapi.WebhookSet]():        "ChatWebhookSet",
		typeOf[chatapi.Profile]():           "BusinessProfile",
		typeOf[chatapi.ProfileBody]():       "BusinessProfileInput",
		typeOf[chatapi.ProfileSet]():        "BusinessProfileSet",
	} {
		g.names[t] = n
	}
	g.enums[typeOf[templates.Status]()] = statusNames()
	// A chat-api webhook is a connection with the trigger message
	// (connections.TriggerMessage), listed with the others; the API's own
	// connections cannot take it (ConnectionInput.triggers).
	// So is a Zapier hook, which may take a message trigger too.
	g.enums[typeOf[connections.Trigger]()] = append(hookTriggerNames(), string(connections.TriggerMessage))
	g.properties["Attempt.trigger"] = obj{"type": "string", "enum": append(hookTriggerNames(), string(connections.TriggerMessage), ""),
		"description": "The trigger that made the delivery; empty for a test send."}
	g.required[typeOf[templates.Input]()] = []string{}
	g.required[typeOf[templates.Component]()] = []string{"type"}
	g.required[typeOf[templates.Button]()] = []string{"type"}
	g.required[typeOf[chatapi.SendTemplateBody]()] = []string{"template", "language"}
	g.required[typeOf[chatapi.TemplateLanguage]()] = []string{"code"}
	g.required[typeOf[chatapi.MessageBody]()] = []string{"body"}
	g.required[typeOf[chatapi.WebhookBody]()] = []string{"webhookUrl"}
	g.properties["BusinessProfileInput.vertical"] = obj{"type": "string", "enum": append(append([]string{}, chatapi.Verticals...), ""),
		"description": "Meta's business vertical; \"\" leaves it as it is."}
	g.descriptions[typeOf[templateapi.TemplateView]()] = "A WhatsApp message template: PENDING until review, APPROVED (may be sent), REJECTED (reason says why), PAUSED or DISABLED by Meta."
	g.descriptions[typeOf[chatapi.Sent]()] = "chat-api's answer to a send: the message is queued (sent: true) under id."
}
