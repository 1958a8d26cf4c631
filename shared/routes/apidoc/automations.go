package apidoc

import (
	"net/http"

	"github.com/startmsg/chatbackend/shared/automationapi"
	"github.com/startmsg/chatbackend/shared/automations"
)

// The automations' operations (seed 003), in a file of their own so that
// the lists merge apart.

const (
	automationInput = `{"name":"Welcome","on":true,"nodes":[` +
		`{"type":"send_message","channel_id":"ch_7bq2x9m4k1v8c3n6","template":{"name":"order_update","language":"en","params":["Ana","A-1042"]}},` +
		`{"type":"wait","seconds":60},{"type":"add_tag","tag":"welcomed"}],"triggers":[{"field":"email"}]}`
	automationExample = `{"id":"aut_q3v9k2m8x1c4b7n5","name":"Welcome","on":true,"nodes":[` +
		`{"id":"n1","type":"send_message","channel_id":"ch_7bq2x9m4k1v8c3n6","template":{"name":"order_update","language":"en","params":["Ana","A-1042"]}},` +
		`{"id":"n2","type":"wait","seconds":60},{"id":"n3","type":"add_tag","tag":"welcomed"}],"triggers":[{"field":"email"}],` +
		`"created_at":1714560000,"updated_at":1714560000,"version":1}`
)

func init() {
	one := typeOf[automationapi.Automation]()
	for fn, op := range map[string]Op{
		"automation-create": {Request: typeOf[automationapi.AutomationBody](), Response: one, Wrap: true, Status: http.StatusCreated,
			Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity}, RequestExample: automationInput, ResponseExample: `{"data":` + automationExample + `}`},
		"automation-list": {Response: typeOf[[]automationapi.Automation](), Wrap: true, ResponseExample: `{"data":[` + automationExample + `]}`},
		"automation-get":  {Response: one, Wrap: true, ResponseExample: `{"data":` + automationExample + `}`},
		"automation-update": {Request: typeOf[automationapi.AutomationBody](), Response: one, Wrap: true,
			Errors:          []int{http.StatusConflict, http.StatusUnprocessableEntity},
			RequestExample:  `{"name":"Welcome","version":1,"nodes":[{"type":"wait","seconds":60},{"type":"add_tag","tag":"welcomed"}]}`,
			ResponseExample: `{"data":` + automationExample + `}`},
		"automation-switch": {Request: typeOf[automationapi.SwitchBody](), Response: one, Wrap: true,
			Errors:         []int{http.StatusConflict, http.StatusUnprocessableEntity},
			RequestExample: `{"on":false}`, ResponseExample: `{"data":` + automationExample + `}`},
		"automation-delete": {Response: success, Errors: []int{http.StatusConflict},
			ResponseExample: `{"status":"success","message":"Automation deleted successfully.","data":[]}`},
	} {
		Ops[fn] = op
	}
	idempotent["automation-create"] = true
	pathParamDocs["automationId"] = "An automation's ID (aut_…)."
	moreReflectors = append(moreReflectors, func(g *reflector) {
		g.names[typeOf[automations.Automation]()] = "Automation"
		g.names[typeOf[automations.Node]()] = "AutomationNode"
		g.names[typeOf[automations.TemplateRef]()] = "AutomationTemplate"
		g.names[typeOf[automations.Trigger]()] = "AutomationTrigger"
		g.names[typeOf[automations.Input]()] = "AutomationInput"
		g.names[typeOf[automationapi.SwitchBody]()] = "AutomationSwitchInput"
		g.names[typeOf[automations.NodeInput]()] = "AutomationNodeInput"
		g.names[typeOf[automations.TemplateInput]()] = "AutomationTemplateInput"
		g.names[typeOf[automations.TriggerInput]()] = "AutomationTriggerInput"
		g.enums[typeOf[automations.NodeType]()] = names(automations.NodeTypes)
		op := obj{"type": "string", "enum": automations.Ops,
			"description": "condition: how the field is compared with value (is_set and is_not_set take no value)."}
		trig := obj{"type": "string", "enum": triggerNames(),
			"description": "The collected field that enrolls the contact (the connector's triggers)."}
		g.properties["AutomationNode.op"], g.properties["AutomationNodeInput.op"] = op, op
		g.properties["AutomationTrigger.field"], g.properties["AutomationTriggerInput.field"] = trig, trig
		g.required[typeOf[automations.Input]()] = []string{"name"}
		g.required[typeOf[automations.NodeInput]()] = []string{"type"}
		g.required[typeOf[automations.TemplateInput]()] = []string{"name", "language"}
		g.required[typeOf[automations.TriggerInput]()] = []string{"field"}
		g.required[typeOf[automationapi.SwitchBody]()] = []string{"on"}
		g.descriptions[typeOf[automations.Automation]()] = "An automation: ordered nodes a contact's run goes through (send_message, wait, add_tag, remove_tag, set_field, call_connection, condition), triggers that enroll contacts, and the on switch. version counts its writes (a replace may name it)."
		g.descriptions[typeOf[automations.NodeInput]()] = "One step: its type's fields only. send_message: channel_id and text or template; wait: seconds (1 to 2,592,000) or until (HH:MM in the contact's time zone); add_tag, remove_tag: tag; set_field: field (a standard field's name or a custom field's ID) and value (\"\" clears it); call_connection: connection_id; condition: field, op, value, then and else (node IDs; empty ends the run). id defaults to n<position>."
	})
}
