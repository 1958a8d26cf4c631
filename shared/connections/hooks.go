package connections

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/startmsg/chatbackend/shared/messages"
)

// Zapier's REST hooks (POST /v1/hooks) subscribe to one trigger each: one
// of the connector's Triggers, or one of the two message triggers below,
// which only a hook takes (a connection's API keeps to Triggers).
const (
	// TriggerMessageReceived fires on each inbound message of the channel
	// (a contact wrote to us), when it is stored.
	TriggerMessageReceived Trigger = "message_received"
	// TriggerMessageStatus fires on each status change of an outbound
	// message of the channel past queued: sent, delivered, read, failed.
	TriggerMessageStatus Trigger = "message_status"
)

// HookTriggers lists what a Zapier hook may subscribe to.
var HookTriggers = append(slices.Clone(Triggers), TriggerMessageReceived, TriggerMessageStatus)

// triggersOf is what a connection made by source may name.
func triggersOf(source string) []Trigger {
	if source == SourceZapier {
		return HookTriggers
	}
	return Triggers
}

// MessageEvent is the payload of a message trigger: one flat object, every
// value a string (as the contact payload), times in RFC 3339 UTC.
type MessageEvent struct {
	ID           string `json:"id"`
	Event        string `json:"event"`
	ChannelID    string `json:"channel_id"`
	ChannelName  string `json:"channel_name"`
	ContactID    string `json:"contact_id"`
	Direction    string `json:"direction"`
	Type         string `json:"type"`
	From         string `json:"from"`
	To           string `json:"to"`
	Text         string `json:"text"`
	TemplateName string `json:"template_name"`
	MediaURL     string `json:"media_url"`
	Status       string `json:"status"`
	ErrorCode    string `json:"error_code"`
	ErrorMessage string `json:"error_message"`
	CreatedAt    string `json:"created_at"`
	StatusAt     string `json:"status_at"`
}

// MessagePayload is the payload trigger t delivers for message m.
func MessagePayload(t Trigger, m messages.Message, ch Channel) []byte {
	rfc := func(ms int64) string {
		if ms == 0 {
			return ""
		}
		return time.UnixMilli(ms).UTC().Format(time.RFC3339)
	}
	e := MessageEvent{ID: m.ID, Event: string(t), ChannelID: m.ChannelID, ChannelName: ch.Name, ContactID: m.ContactID,
		Direction: string(m.Direction), Type: string(m.Type), From: m.From, To: m.To, Status: string(m.Status),
		CreatedAt: rfc(m.CreatedAt)}
	if m.Text != nil {
		e.Text = m.Text.Body
	}
	if m.Template != nil {
		e.TemplateName = m.Template.Name
	}
	if m.Media != nil {
		e.MediaURL, e.Text = m.Media.Link, m.Media.Caption
	}
	if m.Failure != nil {
		e.ErrorCode, e.ErrorMessage = m.Failure.Code, m.Failure.Message
	}
	at := m.CreatedAt
	for _, s := range []int64{m.SentAt, m.DeliveredAt, m.ReadAt, m.FailedAt} {
		at = max(at, s)
	}
	e.StatusAt = rfc(at)
	if t == TriggerMessageStatus {
		// Each status of a message is its own event (Zapier's id).
		e.ID = m.ID + ":" + string(m.Status)
	}
	b, _ := json.Marshal(e)
	return b
}

// Recent keeps the latest payloads of each trigger per channel, whether or
// not anything subscribes to it: what Zapier's editor shows as the
// trigger's recent items (GET /v1/hooks/sample) before a hook exists.
type Recent interface {
	PutRecent(ctx context.Context, tenantID, channelID string, t Trigger, at time.Time, payload []byte) error
	// ListRecent answers up to limit payloads, newest first.
	ListRecent(ctx context.Context, tenantID, channelID string, t Trigger, limit int) ([][]byte, error)
}

// RecentKept is how long a recent item is kept, and RecentLimit how many
// GET /v1/hooks/sample answers.
const (
	RecentKept  = 7 * 24 * time.Hour
	RecentLimit = 3
)
