package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// The webhook calls Meta makes to an app's callback URL
// (object "whatsapp_business_account"), signed with the app's secret in
// X-Hub-Signature-256.

// SignatureHeader carries "sha256=" + hex(HMAC-SHA256(app secret, raw body)).
const SignatureHeader = "X-Hub-Signature-256"

// Sign returns the X-Hub-Signature-256 value of a body.
func Sign(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks an X-Hub-Signature-256 value against the raw
// body, in constant time.
func VerifySignature(appSecret, header string, body []byte) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok || appSecret == "" {
		return false
	}
	sig, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return hmac.Equal(sig, mac.Sum(nil))
}

// WebhookPayload is one webhook call (Meta's WebhookPayload).
type WebhookPayload struct {
	Object string         `json:"object"` // "whatsapp_business_account"
	Entry  []WebhookEntry `json:"entry"`
}

// WebhookEntry is one WhatsApp Business Account's changes.
type WebhookEntry struct {
	ID      string          `json:"id"` // the WhatsApp Business Account id
	Time    int64           `json:"time,omitempty"`
	Changes []WebhookChange `json:"changes"`
}

// WebhookChange is one change: Field "messages" (Value a MessagesValue:
// inbound messages or statuses) or "message_template_status_update"
// (Value a TemplateStatusValue).
type WebhookChange struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// MessagesValue is the value of a "messages" change.
type MessagesValue struct {
	MessagingProduct string           `json:"messaging_product"`
	Metadata         Metadata         `json:"metadata"`
	Contacts         []WebhookContact `json:"contacts,omitempty"`
	Messages         []InboundMessage `json:"messages,omitempty"`
	Statuses         []Status         `json:"statuses,omitempty"`
}

// Metadata names the business phone number a change concerns.
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// WebhookContact is the profile of a contact who wrote.
type WebhookContact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID string `json:"wa_id"`
}

// InboundMessage is a message a contact sent (text only is read here;
// other kinds keep their type).
type InboundMessage struct {
	From      string      `json:"from"`
	ID        string      `json:"id"`
	Timestamp string      `json:"timestamp"` // Unix seconds
	Type      string      `json:"type"`
	Text      *TextObject `json:"text,omitempty"`
}

// Status is a status change of a message the business sent.
type Status struct {
	ID                    string        `json:"id"` // the wamid
	Status                string        `json:"status"`
	Timestamp             string        `json:"timestamp"` // Unix seconds
	RecipientID           string        `json:"recipient_id"`
	BizOpaqueCallbackData string        `json:"biz_opaque_callback_data,omitempty"`
	Conversation          *Conversation `json:"conversation,omitempty"`
	Pricing               *Pricing      `json:"pricing,omitempty"`
	Errors                []StatusError `json:"errors,omitempty"`
}

// Conversation is the conversation a sent message opened or belongs to.
type Conversation struct {
	ID                  string `json:"id"`
	ExpirationTimestamp string `json:"expiration_timestamp,omitempty"`
	Origin              struct {
		Type string `json:"type"`
	} `json:"origin"`
}

// Pricing is how a message is billed.
type Pricing struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Category     string `json:"category"`
}

// StatusError is why a message failed.
type StatusError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message,omitempty"`
	ErrorData *struct {
		Details string `json:"details"`
	} `json:"error_data,omitempty"`
	Href string `json:"href,omitempty"`
}

// TemplateStatusValue is the value of a "message_template_status_update"
// change.
type TemplateStatusValue struct {
	Event                   string `json:"event"` // APPROVED, REJECTED, PENDING, DISABLED, ...
	MessageTemplateID       int64  `json:"message_template_id"`
	MessageTemplateName     string `json:"message_template_name"`
	MessageTemplateLanguage string `json:"message_template_language"`
	Reason                  string `json:"reason"`
	MessageTemplateCategory string `json:"message_template_category,omitempty"`
}
