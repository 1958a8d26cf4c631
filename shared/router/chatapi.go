package router

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/messages"
)

// Seed 002's inbound-messages webhook: a WhatsApp channel's chat-api
// connection (trigger "message") gets each of the channel's messages in
// chat-api's shape: a contact's inbound message when it is stored, our
// own outbound message (fromMe:true) when the provider accepted it, and
// each later status change of it as an "ack" (delivered, viewed, failed).
// The deliveries go through the dispatcher like every other (10 s,
// retries, signing, activity log), with IDs derived from the stream record
// so a retried record queues the same ones again.

// messageOf converts a stream image to a message (nil for no image).
func messageOf(img map[string]events.DynamoDBAttributeValue) (*messages.Message, error) {
	return imageOf[messages.Message](img)
}

// isMessage reports whether a record is a message item's.
func isMessage(keys map[string]events.DynamoDBAttributeValue) bool {
	pk, ok := keys["PK"]
	return ok && pk.DataType() == events.DataTypeString && strings.HasPrefix(pk.String(), MessageKeyPrefix)
}

// chatAck is chat-api's name of a status.
var chatAck = map[messages.Status]string{messages.StatusSent: "sent", messages.StatusDelivered: "delivered",
	messages.StatusRead: "viewed", messages.StatusFailed: "failed"}

// chatEvent is what a message record says in chat-api's terms: the
// messages and acks of one webhook call (none: nothing to say).
func chatEvent(rec events.DynamoDBEventRecord) (*messages.Message, []connections.ChatAPIMessage, []connections.ChatAPIAck, error) {
	if rec.EventName == "REMOVE" || !isMessage(rec.Change.Keys) {
		return nil, nil, nil, nil
	}
	cur, err := messageOf(rec.Change.NewImage)
	if err != nil || cur == nil {
		return nil, nil, nil, err
	}
	old, err := messageOf(rec.Change.OldImage)
	if err != nil {
		return nil, nil, nil, err
	}
	chat := func(m *messages.Message, fromMe bool) connections.ChatAPIMessage {
		peer := m.From
		if fromMe {
			peer = m.To
		}
		body, typ := "", "chat"
		switch {
		case m.Text != nil:
			body = m.Text.Body
		case m.Template != nil:
			body = m.Template.Name
		case m.Media != nil:
			body, typ = m.Media.Link, string(m.Media.Kind)
		}
		if m.Type != messages.TypeText && m.Type != messages.TypeTemplate && m.Type != messages.TypeMedia && m.Type != "" {
			typ = string(m.Type)
		}
		return connections.ChatAPIMessage{ID: m.ID, Body: body, Type: typ, FromMe: fromMe, Author: connections.ChatID(peer),
			Time: m.CreatedAt / 1000, ChatID: connections.ChatID(peer)}
	}
	switch {
	case cur.Direction == messages.Inbound && old == nil:
		return cur, []connections.ChatAPIMessage{chat(cur, false)}, nil, nil
	case cur.Direction == messages.Outbound && old != nil && old.Status != cur.Status:
		ack, ok := chatAck[cur.Status]
		if !ok {
			return nil, nil, nil, nil
		}
		var msgs []connections.ChatAPIMessage
		if cur.Status == messages.StatusSent {
			msgs = append(msgs, chat(cur, true))
		}
		return cur, msgs, []connections.ChatAPIAck{{ID: cur.ID, ChatID: connections.ChatID(cur.To), Status: ack}}, nil
	}
	return nil, nil, nil, nil
}

// chatDeliveries returns the deliveries a message record makes: one per
// enabled chat-api connection of the message's channel.
func (r *Router) chatDeliveries(ctx context.Context, cache *batchCache, rec events.DynamoDBEventRecord) ([]connections.Delivery, error) {
	m, msgs, acks, err := chatEvent(rec)
	if err != nil || m == nil {
		return nil, err
	}
	conns, err := cache.connections(ctx, m.TenantID)
	if err != nil {
		return nil, err
	}
	var out []connections.Delivery
	for _, c := range conns {
		if !c.Enabled || c.ChannelID != m.ChannelID || !c.Has(connections.TriggerMessage) {
			continue
		}
		key := m.TenantID + "#" + m.ChannelID
		ch, ok := cache.channels[key]
		if !ok {
			if ch, err = r.Channels(ctx, m.TenantID, m.ChannelID); err != nil {
				return nil, err
			}
			cache.channels[key] = ch
		}
		out = append(out, connections.Delivery{
			ID: DeliveryID(rec.Change.SequenceNumber, c.ID, connections.TriggerMessage), TenantID: c.TenantID, ConnectionID: c.ID,
			Trigger: connections.TriggerMessage, Payload: connections.ChatAPIPayload(strconv.FormatInt(ch.InstanceID, 10), msgs, acks),
			CreatedAt: m.CreatedAt / 1000, ConnVersion: c.Version,
		})
	}
	return out, nil
}
