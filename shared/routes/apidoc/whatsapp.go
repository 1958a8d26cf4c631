package apidoc

import (
	"net/http"

	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wahook"
)

// whatsappChannelExample is a WhatsApp channel with its credentials set.
const whatsappChannelExample = `{"id":"ch_3k8v1m5x9c2b7n4q","tenant_id":"ten_4n8c2v6x1m9q3k7b","kind":"whatsapp","name":"Acme WhatsApp","default_country":"PK",` +
	`"created_at":1714560000,"instance_id":7,"whatsapp":{"phone_number_id":"106540352242922","waba_id":"102290129340398","configured":true,"updated_at":1714560000}}`

// whatsapp: the Cloud API webhook and a channel's credentials.
func init() {
	Ops["whatsapp-verify"] = Op{Text: true, Errors: []int{http.StatusForbidden},
		Query: []Param{
			{Name: "hub.mode", Required: true, Schema: obj{"type": "string", "enum": []string{"subscribe"}}},
			{Name: "hub.verify_token", Required: true, Schema: obj{"type": "string"}, Description: "A WhatsApp channel's verify token."},
			{Name: "hub.challenge", Required: true, Schema: obj{"type": "string"}, Description: "Answered as is."},
		}}
	Ops["whatsapp-receive"] = Op{Request: typeOf[wahook.WhatsAppWebhook](), Response: typeOf[wahook.Ack](),
		Errors: []int{http.StatusForbidden},
		RequestExample: `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",` +
			`"metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],` +
			`"messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}]}}]}]}`,
		ResponseExample: `{"status":"success"}`}
	Ops["admin-whatsapp-set"] = Op{Request: typeOf[tenancy.WhatsAppInput](), Response: typeOf[tenancy.Channel](), Wrap: true,
		Errors: []int{http.StatusConflict},
		RequestExample: `{"access_token":"EAAG…","phone_number_id":"106540352242922","waba_id":"102290129340398",` +
			`"app_secret":"0123456789abcdef0123456789abcdef","verify_token":"acme-verify"}`,
		ResponseExample: `{"data":` + whatsappChannelExample + `}`}
	Ops["admin-twilio-set"] = Op{Request: typeOf[tenancy.TwilioInput](), Response: typeOf[tenancy.Channel](), Wrap: true,
		RequestExample: `{"account_sid":"AC0123456789abcdef0123456789abcdef","auth_token":"0123456789abcdef0123456789abcdef","from":"+15005550006"}`,
		ResponseExample: `{"data":{"id":"ch_7m2x9c4v1b8n3k6q","tenant_id":"ten_4n8c2v6x1m9q3k7b","kind":"sms","name":"Acme SMS","default_country":"US",` +
			`"created_at":1714560000,"twilio":{"account_sid":"AC0123456789abcdef0123456789abcdef","from":"+15005550006","configured":true,"updated_at":1714560000}}}`}
}
