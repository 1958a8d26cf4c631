package events_test

import (
	"fmt"
	"strings"

	appevents "github.com/startmsg/chatbackend/events"
)

// at is the value at a dotted path of a decoded JSON answer ("data.id";
// a number indexes an array: "data.0.id").
func at(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// want checks the values at paths.
func want(pairs ...any) func(any) error {
	return func(body any) error {
		for i := 0; i+1 < len(pairs); i += 2 {
			p := pairs[i].(string)
			if got := at(body, p); fmt.Sprint(got) != fmt.Sprint(pairs[i+1]) {
				return fmt.Errorf("%s = %v, want %v", p, got, pairs[i+1])
			}
		}
		return nil
	}
}

// listed checks that the array at path holds an item whose key is value.
func listed(path, key string, value any) func(any) error {
	return func(body any) error {
		items, _ := at(body, path).([]any)
		for _, it := range items {
			if fmt.Sprint(at(it, key)) == fmt.Sprint(value) {
				return nil
			}
		}
		return fmt.Errorf("no item of %s has %s = %v", path, key, value)
	}
}

// contains checks that the string at path holds every part.
func contains(path string, parts ...string) func(any) error {
	return func(body any) error {
		s, _ := at(body, path).(string)
		for _, p := range parts {
			if !strings.Contains(s, p) {
				return fmt.Errorf("%s = %q, want it to name %q", path, s, p)
			}
		}
		return nil
	}
}

// has checks that the answer is an object with these keys.
func has(keys ...string) func(any) error {
	return func(body any) error {
		m, _ := body.(map[string]any)
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				return fmt.Errorf("no %q in the answer", k)
			}
		}
		return nil
	}
}

// all runs every check.
func all(checks ...func(any) error) func(any) error {
	return func(body any) error {
		for _, c := range checks {
			if err := c(body); err != nil {
				return err
			}
		}
		return nil
	}
}

// sampleAnswers check what the messaging samples' answers say, beyond
// their status (expected-status.json) and envelope. The samples run in
// any order on one seeded table, so a check holds whichever ran before.
var sampleAnswers = map[string]func(any) error{
	"message-send": all(want("data.status", "queued"), contains("data.id", "msg_")),
	"message-get": want("data.id", appevents.SampleWAMessage, "data.status", "sent", "data.channel_id", appevents.SampleWAChannel,
		"data.contact_id", appevents.SampleWAContact, "data.template.name", appevents.SampleWATemplate, "data.direction", "outbound"),
	// The account secret reads any of the tenant's messages; another
	// channel's token gets the answer of an unknown message.
	"message-get-with-account-secret": want("data.id", appevents.SampleWAMessage, "data.status", "sent", "data.channel_id", appevents.SampleWAChannel),
	"message-get-other-channel":       contains("message", appevents.SampleWAMessage),
	"contact-message-list":            listed("data", "id", appevents.SampleWAMessage),
	"message-list":                    listed("data", "id", appevents.SampleWAMessage),
	"template-list":                   listed("data", "id", appevents.SampleWATemplateID),
	"template-get": want("data.id", appevents.SampleWATemplateID, "data.name", appevents.SampleWATemplate, "data.status", "APPROVED",
		"data.namespace", appevents.SampleWANamespace, "data.language", "en"),
	// Submitted to the provider sandbox: pending until its status webhook.
	"template-create": want("data.name", "order_confirmation", "data.status", "PENDING", "data.body_params", 2),
	"template-update": want("data.id", "tpl_sampleupdate", "data.status", "PENDING", "data.body_params", 1),
	"template-delete": want("status", "success"),
	// Seed 002's answers: chat-api's own shape, outside the envelope.
	"chatapi-instance-send-template": want("sent", true),
	"chatapi-send-template":          want("sent", true),
	"chatapi-message":                contains("message", "24-hour"),
	"chatapi-instance-message":       contains("message", "24-hour"),
	"chatapi-instance-webhook":       want("set", true),
	"chatapi-webhook":                want("set", true),
	"chatapi-instance-me-get":        has("about", "address", "description", "email", "vertical", "websites"),
	"chatapi-instance-me-set":        want("set", true, "profile.address", "Shahrah-e-Faisal, Karachi", "profile.description", "Sample shop"),
	"whatsapp-receive":               want("status", "success"),
	"admin-whatsapp-set": want("data.id", appevents.SampleWAChannel, "data.instance_id", appevents.SampleWAInstance,
		"data.whatsapp.phone_number_id", appevents.SampleWAPhoneID, "data.whatsapp.configured", true),
	// The answer shows the account SID and from number, never the token.
	"admin-twilio-set": all(want("data.id", appevents.SampleSMSChannel, "data.kind", "sms", "data.twilio.account_sid", appevents.SampleTwilioSID,
		"data.twilio.from", "+15005550006", "data.twilio.configured", true, "data.twilio.auth_token", nil)),
	// The connector (seed 000) on the seeded connections (seed_connections.go).
	"connection-create": all(want("data.name", "Order CRM", "data.url", "https://93.184.215.14/hooks/orders", "data.page_id", appevents.SampleChannel,
		"data.source", "api", "data.enabled", true), contains("data.id", "conn_"), contains("data.secret", "whsec_")),
	"connection-list": listed("data", "id", appevents.SampleConnection),
	"connection-get": want("data.id", appevents.SampleConnection, "data.url", appevents.SampleConnectionURL, "data.triggers.0", "birthday",
		"data.secret", nil),
	"connection-update":        want("data.id", appevents.SampleConnection, "data.name", "Sample CRM", "data.fields.1", "email", "data.secret", nil),
	"connection-delete":        want("status", "success"),
	"connection-secret-rotate": all(want("data.id", appevents.SampleConnection), contains("data.secret", "whsec_")),
	"connection-activity": all(want("connection.id", appevents.SampleConnection, "connection.secret", nil),
		listed("data", "webhook_id", appevents.SampleAttempt)),
	"connection-test-missing": contains("message", "conn_samplemissing"),
	"connection-replay":       want("data.queued", true, "data.webhook_id", appevents.SampleAttempt),
	"delivery-dead-list":      all(listed("data", "id", appevents.SampleDead), want("links.next", nil)),
	"delivery-dead-redrive":   want("data.id", "msg_sampleredrive", "data.queued", true),
	"hook-subscribe":          all(want("data.source", "zapier", "data.triggers.0", "email", "data.secret", nil), contains("id", "conn_")),
	"hook-unsubscribe":        want("status", "success"),
	"hook-sample":             want("0.psid", "12765756", "0.email", "testuser@example.com"),
	"events-collect":          want("data.id", appevents.SampleContact, "data.psid", appevents.SampleContact),
	// Automations (seed 003) on the seeded ones (seed_automations.go).
	"automation-create": all(want("data.name", "Welcome", "data.on", false, "data.version", 1, "data.nodes.0.id", "n1", "data.nodes.1.seconds", 60),
		contains("data.id", "aut_")),
	"automation-list":   listed("data", "id", appevents.SampleAutomation),
	"automation-get":    want("data.id", appevents.SampleAutomation, "data.nodes.0.type", "add_tag"),
	"automation-update": want("data.id", appevents.SampleAutomation, "data.name", "Sample automation", "data.nodes.1.until", "09:30"),
	"automation-switch": want("data.id", appevents.SampleAutomation, "data.on", true),
	"automation-delete": want("status", "success"),
	// Sender installations (seed 004) on the seeded ones (seed_installations.go).
	"installation-create": all(want("data.name", "Shop sender", "data.channel_id", appevents.SampleWAChannel, "data.use_api", true,
		"data.numbers.0", "+923004445566", "data.default_country", "PK"), contains("data.secret", "is_")),
	"installation-list":   listed("data", "uuid", appevents.SampleInstallation),
	"installation-get":    want("data.uuid", appevents.SampleInstallation, "data.numbers.0", appevents.SampleInstallNumber, "data.secret", nil),
	"installation-update": want("data.uuid", appevents.SampleInstallation, "data.name", "Sample sender", "data.use_api", true),
	// All-day, or no schedule (always open) before installation-hours-set.
	"installation-hours-get": func(body any) error {
		if h, ok := at(body, "data.hours").(map[string]any); !ok || (len(h) > 0 && fmt.Sprint(at(h, "week.mon.0.to")) != "24:00") {
			return fmt.Errorf("data.hours = %v, want {} or the all-day schedule", at(body, "data.hours"))
		}
		return nil
	},
	"installation-hours-set": want("data.hours.time_zone", "Asia/Karachi", "data.hours.week.sun.0.to", "24:00"),
	"installation-pull":      listed("data", "id", appevents.SampleInstallMessage),
	"installation-ack":       want("data.id", appevents.SampleAckMessage, "data.status", "sent"),
	"installation-ack-batch": want("data.0.id", appevents.SampleAckBatchMessage, "data.0.status", "failed", "data.0.code", 200),
	// The channel's hours are all-day (installation-hours-set), so these
	// are never held, whichever sample ran first.
	"add-message":         all(want("data.status", "queued", "data.held", false), contains("data.id", "msg_")),
	"webhook-add-message": all(want("data.status", "queued", "data.held", false), contains("data.id", "msg_")),
	// Messenger's webhook call, signed with the sample channel's app secret.
	"messenger-receive": want("status", "success"),
	// Twilio's status callback of an SMS, signed with the sample SMS
	// channel's auth token (seed_twilio.go).
	"twilio-status": want("status", "success"),
	// Nothing seeds the deliveries DLQ: it is empty.
	"admin-dlq-stats":   want("data.messages", 0, "data.messages_in_flight", 0),
	"admin-dlq-redrive": want("data.moved", 0),
}
