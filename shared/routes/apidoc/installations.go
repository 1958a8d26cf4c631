package apidoc

import (
	"net/http"

	"github.com/startmsg/chatbackend/shared/flowapi"
	"github.com/startmsg/chatbackend/shared/hours"
	"github.com/startmsg/chatbackend/shared/installapi"
	"github.com/startmsg/chatbackend/shared/installations"
)

// moreReflectors extend the reflector after extendReflector (one per
// area, each in its own file).
var moreReflectors []func(*reflector)

const (
	installationExample = `{"uuid":"0b7c1c8e-3f5e-4f0e-9a55-0d1f6a7b2c3d","channel_id":"ch_3k8v1m5x9c2b7n4q","name":"Front desk PC",` +
		`"numbers":["+972501234567"],"use_api":true,"hours":{"time_zone":"Asia/Jerusalem","week":{"sun":[{"from":"09:00","to":"18:00"}]},"holidays":["2026-09-21"]},` +
		`"default_country":"IL","created_at":1714560000123,"updated_at":1714560000123,"last_seen_at":1714560100456,"online":true}`
	installationInput = `{"name":"Front desk PC","numbers":["+972501234567"],"use_api":true,` +
		`"hours":{"time_zone":"Asia/Jerusalem","week":{"sun":[{"from":"09:00","to":"18:00"}]},"holidays":["2026-09-21"]}}`
	hoursExample  = `{"hours":{"time_zone":"Asia/Jerusalem","week":{"sun":[{"from":"09:00","to":"18:00"}],"mon":[{"from":"09:00","to":"18:00"}]},"holidays":["2026-09-21"]}}`
	pulledExample = `{"id":"msg_q2w3e4r5t6y7u2i3","seq":42,"lease":"42.9f1c2a7b4d3e8f60a1b2c3d4","lease_until":"2026-05-01T10:02:00Z",` +
		`"to":"+972501234567","message":"Your order shipped.\nThanks!","download_link":"C:/Users/dana/Pictures/logo.png","created_at":"2026-05-01T10:00:00.123Z"}`
)

// hoursInput is an hours.Schedule in a request.
var hoursInput = obj{"type": []string{"object", "null"}, "description": "Allowed hours: a weekly schedule in an IANA time zone; holidays are closed all day. No week: always open.",
	"properties": obj{
		"time_zone": obj{"type": "string", "examples": []string{"Asia/Jerusalem"}},
		"week": obj{"type": "object", "description": "Keys mon … sun; a day absent from a non-empty week is closed.",
			"additionalProperties": obj{"type": "array", "items": obj{"type": "object", "additionalProperties": false,
				"properties": obj{"from": obj{"type": "string", "examples": []string{"09:00"}}, "to": obj{"type": "string", "examples": []string{"18:00", "24:00"}}},
				"required":   []string{"from", "to"}}}},
		"holidays": obj{"type": "array", "items": obj{"type": "string", "examples": []string{"2026-09-21"}}},
	}, "additionalProperties": false}

func init() {
	inst, uuid := typeOf[installations.Installation](), "A sender installation's UUID (8-4-4-4-12 hexadecimal digits)."
	add := Op{Response: typeOf[installations.Added](), Wrap: true, Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
		ResponseExample: `{"data":{"id":"msg_q2w3e4r5t6y7u2i3","status":"held","held":true,"held_until":"2026-05-03T09:00:00+03:00"}}`}
	link := add
	link.Errors = append([]int{http.StatusBadRequest}, add.Errors...)
	link.Query = []Param{
		{Name: "UUID", Required: true, Schema: obj{"type": "string"}, Description: "The sender installation (names of every parameter in any case)."},
		{Name: "ToMobileNumber", Required: true, Schema: obj{"type": "string"}, Description: "Full international number, or local with ToCountryCode."},
		{Name: "ToCountryCode", Schema: obj{"type": "string"}, Description: "Country calling code of a local ToMobileNumber (972)."},
		{Name: "FromMobileNumber", Schema: obj{"type": "string"}, Description: "One of the installation's numbers."},
		{Name: "wapMessage", Required: true, Schema: obj{"type": "string"}, Description: "The message (URL-encoded in the link; MessageFlowLineBreak is a new line)."},
		{Name: "DownloadLink", Schema: obj{"type": "string"}, Description: "An http(s) URL, or a path on the sender's disk (C:/Users/…)."},
	}
	add.Request = typeOf[flowapi.AddBody]()
	add.RequestExample = `{"UUID":"0b7c1c8e-3f5e-4f0e-9a55-0d1f6a7b2c3d","ToMobileNumber":"0501234567","ToCountryCode":"972","Message":"Your%20order%20shipped.MessageFlowLineBreakThanks!"}`
	for fn, op := range map[string]Op{
		"installation-create": {Request: typeOf[installapi.InstallationBody](), Response: typeOf[installapi.InstallationCreated](), Wrap: true, Status: http.StatusCreated,
			Errors: []int{http.StatusUnprocessableEntity}, RequestExample: installationInput,
			ResponseExample: `{"data":` + installationExample[:len(installationExample)-1] + `,"secret":"is_abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrs"}}`},
		"installation-list":      {Response: typeOf[[]installations.Installation](), Wrap: true, ResponseExample: `{"data":[` + installationExample + `]}`},
		"installation-get":       {Response: inst, Wrap: true, ResponseExample: `{"data":` + installationExample + `}`},
		"installation-update":    {Request: typeOf[installapi.InstallationBody](), Response: inst, Wrap: true, RequestExample: `{"use_api":false}`, ResponseExample: `{"data":` + installationExample + `}`},
		"installation-hours-get": {Response: typeOf[installapi.HoursBody](), Wrap: true, ResponseExample: `{"data":` + hoursExample + `}`},
		"installation-hours-set": {Request: typeOf[installapi.HoursInput](), Response: typeOf[installapi.HoursBody](), Wrap: true,
			Errors: []int{http.StatusUnprocessableEntity}, RequestExample: hoursExample, ResponseExample: `{"data":` + hoursExample + `}`},
		"installation-pull": {Response: typeOf[installapi.PullPage](), Errors: []int{http.StatusBadRequest, http.StatusUnauthorized},
			Query: []Param{
				{Name: "wait", Schema: obj{"type": "integer", "minimum": 0, "maximum": 20, "default": 0}, Description: "Seconds to wait for a first message (long poll)."},
				{Name: "max", Schema: obj{"type": "integer", "minimum": 1, "maximum": installations.MaxPull, "default": installations.DefaultPull}, Description: "Messages at most."},
				{Name: "lease", Schema: obj{"type": "integer", "minimum": 10, "maximum": 900, "default": 120}, Description: "Seconds the messages are leased for: unacked, they come back after it."},
			},
			ResponseExample: `{"data":[` + pulledExample + `]}`},
		"installation-ack": {Request: typeOf[installapi.AckBody](), Response: typeOf[installations.Acked](), Wrap: true,
			Errors:         []int{http.StatusUnauthorized, http.StatusConflict},
			RequestExample: `{"lease":"42.9f1c2a7b4d3e8f60a1b2c3d4","status":"sent"}`, ResponseExample: `{"data":{"id":"msg_q2w3e4r5t6y7u2i3","status":"sent"}}`},
		"installation-ack-batch": {Request: typeOf[installapi.AcksBody](), Response: typeOf[installapi.AckResults](),
			Errors:          []int{http.StatusUnauthorized, http.StatusConflict},
			RequestExample:  `{"acks":[{"id":"msg_q2w3e4r5t6y7u2i3","lease":"42.9f1c2a7b4d3e8f60a1b2c3d4","status":"sent"},{"id":"msg_r5t6y7u2i3q2w3e4","lease":"43.9f1c2a7b4d3e8f60a1b2c3d4","status":"failed","error":"not on WhatsApp"}]}`,
			ResponseExample: `{"data":[{"id":"msg_q2w3e4r5t6y7u2i3","status":"sent","code":200},{"id":"msg_r5t6y7u2i3q2w3e4","status":"failed","code":200}]}`},
		"add-message":         add,
		"webhook-add-message": link,
	} {
		Ops[fn] = op
	}
	pathParamDocs["installationId"] = uuid
	moreReflectors = append(moreReflectors, func(g *reflector) {
		g.names[typeOf[installations.Input]()] = "InstallationInput"
		g.names[typeOf[installations.Pulled]()] = "PulledMessage"
		g.names[typeOf[installations.Acked]()] = "InstallationAck"
		g.names[typeOf[installations.Added]()] = "InstallationMessageAdded"
		g.names[typeOf[installapi.AckBody]()] = "InstallationAckInput"
		g.names[typeOf[installapi.AcksBody]()] = "InstallationAcksInput"
		g.names[typeOf[installapi.AckResults]()] = "InstallationAckResults"
		g.names[typeOf[installations.AckInput]()] = "InstallationBatchAck"
		g.names[typeOf[installations.AckResult]()] = "InstallationAckResult"
		g.required[typeOf[installapi.AcksBody]()] = []string{"acks"}
		g.required[typeOf[installations.AckInput]()] = []string{"id", "lease", "status"}
		g.properties["InstallationBatchAck.status"] = obj{"type": "string", "enum": []string{"sent", "failed"}}
		g.names[typeOf[installapi.HoursBody]()] = "InstallationHours"
		g.names[typeOf[flowapi.AddBody]()] = "AddMessageInput"
		g.names[typeOf[hours.Schedule]()] = "HoursSchedule"
		g.names[typeOf[hours.Span]()] = "HoursSpan"
		g.required[typeOf[installations.Input]()] = []string{}
		g.required[typeOf[installapi.AckBody]()] = []string{"lease", "status"}
		g.required[typeOf[flowapi.AddBody]()] = []string{"UUID", "ToMobileNumber"}
		g.open[typeOf[flowapi.AddBody]()] = true
		g.names[typeOf[installapi.HoursInput]()] = "InstallationHoursInput"
		g.required[typeOf[installapi.HoursInput]()] = []string{"hours"}
		own := obj{}
		for k, v := range hoursInput {
			own[k] = v
		}
		own["description"] = hoursInput["description"].(string) + " Not set: the channel's (/v1/installation_hours); null on an update removes the installation's own hours, so that the channel's apply again."
		g.properties["InstallationInput.hours"] = own
		g.properties["InstallationHoursInput.hours"] = hoursInput
		g.properties["InstallationAckInput.status"] = obj{"type": "string", "enum": []string{"sent", "failed"}}
		g.properties["AddMessageInput.ToMobileNumber"] = stringOrNumber
		g.properties["AddMessageInput.ToCountryCode"] = stringOrNumber
		g.properties["AddMessageInput.FromMobileNumber"] = stringOrNumber
		g.descriptions[typeOf[installapi.InstallationCreated]()] = "A sender installation as created: secret (is_…) authenticates its pulls and acks, shown once."
		g.descriptions[typeOf[flowapi.AddBody]()] = "Seed 004's add_message. Names are matched in any case (toMobileNumber); Message (or wapMessage) is URL-encoded, MessageFlowLineBreak a new line."
	})
}
