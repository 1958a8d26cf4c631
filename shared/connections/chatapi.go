package connections

import (
	"encoding/json"
	"strings"
)

// The chat-api style inbound-messages webhook (seed 002): a WhatsApp
// channel's `POST /instance{id}/webhook {"webhookUrl"}` makes (or moves) one
// connection of source SourceChatAPI with the one trigger TriggerMessage.
// It is a connection like any other to the dispatcher (10 s timeout,
// retries, Standard Webhooks signing, activity log, dead deliveries); its
// payload is chat-api's, built by ChatAPIPayload, not the contact fields.
const (
	// TriggerMessage fires on each message of the channel's conversations:
	// the contacts' inbound messages, and our own outbound ones and their
	// status changes (acks). Only chat-api webhooks carry it: it is not one
	// of Triggers, which a connection's API takes.
	TriggerMessage Trigger = "message"
	// SourceChatAPI marks the connection POST /instance{id}/webhook made.
	SourceChatAPI = "chatapi"
)

// ChatAPIMessage is one message of a chat-api webhook payload.
type ChatAPIMessage struct {
	ID         string `json:"id"`
	Body       string `json:"body"`
	Type       string `json:"type"` // "chat" for text
	SenderName string `json:"senderName"`
	FromMe     bool   `json:"fromMe"`
	Author     string `json:"author"` // 79995253422@c.us
	Time       int64  `json:"time"`   // unix seconds
	ChatID     string `json:"chatId"` // 79995253422@c.us
	// MessageNumber counts the instance's messages (chat-api's order).
	MessageNumber int64 `json:"messageNumber"`
}

// ChatAPIAck is one status change of an outbound message (chat-api's
// "ack": sent, delivered, viewed).
type ChatAPIAck struct {
	ID     string `json:"id"`
	ChatID string `json:"chatId"`
	Status string `json:"status"`
}

// ChatAPIPayload is the body of one chat-api webhook call:
// {"instanceId":"777","messages":[…]} and, when there are any, "ack":[…].
func ChatAPIPayload(instanceID string, msgs []ChatAPIMessage, acks []ChatAPIAck) []byte {
	if msgs == nil {
		msgs = []ChatAPIMessage{}
	}
	body := struct {
		InstanceID string           `json:"instanceId"`
		Messages   []ChatAPIMessage `json:"messages"`
		Ack        []ChatAPIAck     `json:"ack,omitempty"`
	}{instanceID, msgs, acks}
	b, _ := json.Marshal(body)
	return b
}

// ChatID is a phone's chat-api chat ID: the number's digits and "@c.us".
func ChatID(phone string) string { return strings.TrimPrefix(phone, "+") + "@c.us" }
