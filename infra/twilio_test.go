package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/appenv"
)

// The sender asks Twilio for status callbacks at the stage's public URL of
// the twilio-status route (…/<stage>/v1/webhooks/twilio, tenant and
// channel added per message): the API's own endpoint, built from its ID,
// the region and the URL suffix. No other function has it.
func TestTwilioStatusCallbackURL(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		api := f.ofType("AWS::ApiGateway::RestApi")[0]
		for _, name := range f.functionNames() {
			v, ok := f.envOf(t, name)[appenv.TwilioStatusCallbackURL]
			if name != "sender" {
				if ok {
					t.Errorf("%s: %s set", name, appenv.TwilioStatusCallbackURL)
				}
				continue
			}
			raw, _ := json.Marshal(v)
			s := string(raw)
			for _, part := range []string{`"https://"`, `".execute-api."`, `{"Ref":"AWS::Region"}`, `{"Ref":"AWS::URLSuffix"}`, `"/` + f.stage + `/v1/webhooks/twilio"`} {
				if !strings.Contains(s, part) {
					t.Errorf("sender: %s = %s, lacks %s", appenv.TwilioStatusCallbackURL, s, part)
				}
			}
			if !refersTo(v, api) {
				t.Errorf("sender: %s = %s, want the RestApi's ID (%s)", appenv.TwilioStatusCallbackURL, s, api)
			}
		}
		// The route is served by twilio-status, in the messaging stack.
		found := false
		for _, m := range f.methods() {
			if m.path == "/v1/webhooks/twilio/{tenantId}/{channelId}" && m.verb == "POST" {
				found = true
			}
		}
		if !found {
			t.Error("no POST /v1/webhooks/twilio/{tenantId}/{channelId} method")
		}
		// Its grants: the channel's settings (credentials) and the
		// messages and their pointers, nothing else.
		table := f.idOf(t, "AWS::DynamoDB::Table", "Table")
		ops := f.idOf(t, "AWS::DynamoDB::Table", "OpsTable")
		for _, c := range []struct {
			action, target, key string
			allowed             bool
		}{
			{"dynamodb:GetItem", table, "TENANT#ten_1", true},
			{"dynamodb:GetItem", table, "MSG#ten_1#msg_1", true},
			{"dynamodb:UpdateItem", table, "MSG#ten_1#msg_1", true},
			{"dynamodb:GetItem", ops, "PMSG#sms#SM1", true},
			{"dynamodb:UpdateItem", ops, "PMSG#sms#SM1", true},
			{"dynamodb:UpdateItem", table, "TENANT#ten_1", false},
			{"dynamodb:PutItem", table, "CONTACT#ten_1#42", false},
			{"dynamodb:GetItem", table, "CRED#0123abcd", false},
			{"dynamodb:UpdateItem", ops, "RL#x#1", false},
		} {
			allowed := false
			for _, g := range f.grantsOf(t, "twilio-status") {
				if g.action != c.action || !refersTo(g.resource, c.target) {
					continue
				}
				keys, ok := leadingKeysOf(g.condition)
				if !ok {
					t.Errorf("twilio-status: %s without LeadingKeys", c.action)
				}
				for _, p := range keys {
					if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(c.key, prefix) || p == c.key {
						allowed = true
					}
				}
			}
			if allowed != c.allowed {
				t.Errorf("twilio-status: %s on %s: allowed %v, want %v", c.action, c.key, allowed, c.allowed)
			}
		}
	})
}
