package router

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/messages"
)

// A chat-api connection gets the channel's inbound messages, our own
// message when the provider accepted it (fromMe) and its status acks; a
// connection of another trigger or channel gets none, nor does a queued
// outbound message's insert.
func TestChatAPIWebhookDeliveries(t *testing.T) {
	in := messages.Message{ID: "msg_in", TenantID: "t", ChannelID: "ch", Direction: messages.Inbound, Status: messages.StatusReceived,
		Type: messages.TypeText, From: "+79995253422", Text: &messages.Text{Body: "hi"}, CreatedAt: 1_700_000_000_000}
	queued := messages.Message{ID: "msg_out", TenantID: "t", ChannelID: "ch", Direction: messages.Outbound, Status: messages.StatusQueued,
		Type: messages.TypeText, To: "+79995253422", Text: &messages.Text{Body: "hello"}}
	sent := queued
	sent.Status = messages.StatusSent
	read := sent
	read.Status = messages.StatusRead
	modify := func(old, cur messages.Message, seq int) events.DynamoDBEventRecord {
		rec := messageRecord(t, "MODIFY", cur, seq)
		rec.Change.OldImage = messageRecord(t, "MODIFY", old, seq).Change.NewImage
		return rec
	}
	r := newRouter(nil, 0)
	r.Connections = &fakeConns{list: []connections.Connection{
		{ID: "chat", TenantID: "t", ChannelID: "ch", Enabled: true, Triggers: []connections.Trigger{connections.TriggerMessage}},
		{ID: "email", TenantID: "t", ChannelID: "ch", Enabled: true, Triggers: []connections.Trigger{connections.TriggerEmail}},
		{ID: "other", TenantID: "t", ChannelID: "ch2", Enabled: true, Triggers: []connections.Trigger{connections.TriggerMessage}},
	}}
	r.Channels = func(_ context.Context, _, _ string) (connections.Channel, error) {
		return connections.Channel{ID: "ch", InstanceID: 777}, nil
	}
	cache := &batchCache{r: r, conns: map[string][]connections.Connection{}, channels: map[string]connections.Channel{}}
	type body struct {
		InstanceID string                       `json:"instanceId"`
		Messages   []connections.ChatAPIMessage `json:"messages"`
		Ack        []connections.ChatAPIAck     `json:"ack"`
	}
	deliver := func(rec events.DynamoDBEventRecord) []body {
		t.Helper()
		ds, err := r.route(t.Context(), cache, rec)
		if err != nil {
			t.Fatal(err)
		}
		var out []body
		for _, d := range ds {
			if d.ConnectionID != "chat" || d.Trigger != connections.TriggerMessage {
				t.Errorf("delivery to %s (%s)", d.ConnectionID, d.Trigger)
			}
			var b body
			if err := json.Unmarshal(d.Payload, &b); err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	got := deliver(messageRecord(t, "INSERT", in, 1))
	if len(got) != 1 || got[0].InstanceID != "777" || len(got[0].Messages) != 1 || got[0].Messages[0].FromMe ||
		got[0].Messages[0].Body != "hi" || got[0].Messages[0].ChatID != "79995253422@c.us" || got[0].Messages[0].Time != 1_700_000_000 {
		t.Errorf("inbound: %+v", got)
	}
	if got := deliver(messageRecord(t, "INSERT", queued, 2)); len(got) != 0 {
		t.Errorf("queued insert: %+v", got)
	}
	got = deliver(modify(queued, sent, 3))
	if len(got) != 1 || len(got[0].Messages) != 1 || !got[0].Messages[0].FromMe || len(got[0].Ack) != 1 || got[0].Ack[0].Status != "sent" {
		t.Errorf("sent: %+v", got)
	}
	got = deliver(modify(sent, read, 4))
	if len(got) != 1 || len(got[0].Messages) != 0 || len(got[0].Ack) != 1 || got[0].Ack[0].Status != "viewed" || got[0].Ack[0].ID != "msg_out" {
		t.Errorf("read: %+v", got)
	}
	if got := deliver(modify(read, read, 5)); len(got) != 0 {
		t.Errorf("no status change: %+v", got)
	}
}
