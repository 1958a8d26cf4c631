package router

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/routes"
)

// passes reports whether the trigger router's event filter
// (routes.StreamFilters: the CDK event source mapping's FilterCriteria and
// the local stream poller's filter) lets rec through.
func passes(t *testing.T, rec events.DynamoDBEventRecord) bool {
	t.Helper()
	var fs []routes.StreamFilter
	for _, e := range routes.EventFunctions {
		if e.Function == "trigger-router" {
			fs = e.StreamFilters()
		}
	}
	if len(fs) == 0 {
		t.Fatal("the trigger router has no stream filter")
	}
	return routes.MatchAny(fs, rec.EventName, rec.Change.Keys["PK"].String(), func(attr string) (string, bool) {
		v, ok := rec.Change.NewImage[attr]
		if !ok || v.DataType() != events.DataTypeString {
			return "", false
		}
		return v.String(), true
	})
}

// The router's filter lets through every message record the router acts on
// (a new outbound message for the outbox; an inbound message and every
// status change of an outbound one for the chat-api webhooks, "ack"
// entries) and none of the sender's own writes on a queued message (claim,
// retry, released claim), nor a message's removal.
func TestStreamFilterPassesWhatTheRouterActsOn(t *testing.T) {
	queued := messages.Message{ID: "msg_a", TenantID: "t", ChannelID: "ch", Direction: messages.Outbound, Status: messages.StatusQueued,
		Type: messages.TypeText, To: "+79995253422", Text: &messages.Text{Body: "hello"}}
	claimed := queued
	claimed.Attempts = 1
	claimed.LastError = &messages.Failure{Code: "130429", Message: "rate"}
	in := messages.Message{ID: "msg_in", TenantID: "t", ChannelID: "ch", Direction: messages.Inbound, Status: messages.StatusReceived,
		Type: messages.TypeText, From: "+79995253422", Text: &messages.Text{Body: "hi"}}
	at := func(m messages.Message, s messages.Status) messages.Message { m.Status = s; return m }
	modify := func(old, cur messages.Message, seq int) events.DynamoDBEventRecord {
		rec := messageRecord(t, "MODIFY", cur, seq)
		rec.Change.OldImage = messageRecord(t, "MODIFY", old, seq).Change.NewImage
		return rec
	}
	acts := []struct {
		name string
		rec  events.DynamoDBEventRecord
	}{
		{"new outbound message", messageRecord(t, "INSERT", queued, 1)},
		{"new inbound message", messageRecord(t, "INSERT", in, 2)},
		{"sent", modify(claimed, at(queued, messages.StatusSent), 3)},
		{"delivered", modify(at(queued, messages.StatusSent), at(queued, messages.StatusDelivered), 4)},
		{"read", modify(at(queued, messages.StatusDelivered), at(queued, messages.StatusRead), 5)},
		{"read before delivered", modify(at(queued, messages.StatusSent), at(queued, messages.StatusRead), 6)},
		{"failed", modify(queued, at(queued, messages.StatusFailed), 7)},
	}
	for _, c := range acts {
		task, queues, err := outboxTaskOf(c.rec)
		_, msgs, acks, err2 := chatEvent(c.rec)
		if err != nil || err2 != nil {
			t.Fatalf("%s: %v %v", c.name, err, err2)
		}
		if !queues && len(msgs) == 0 && len(acks) == 0 {
			t.Errorf("%s: the router does nothing with it (task %+v): the case is wrong", c.name, task)
		}
		if !passes(t, c.rec) {
			t.Errorf("%s: the router acts on it but its filter keeps it out", c.name)
		}
	}
	removed := messageRecord(t, "REMOVE", queued, 13)
	removed.Change.OldImage, removed.Change.NewImage = removed.Change.NewImage, nil
	noise := []struct {
		name string
		rec  events.DynamoDBEventRecord
	}{
		{"claim", modify(queued, queued, 10)},
		{"retry counted", modify(queued, claimed, 11)},
		{"claim released", modify(claimed, claimed, 12)},
		{"removed", removed},
	}
	for _, c := range noise {
		_, queues, _ := outboxTaskOf(c.rec)
		_, msgs, acks, _ := chatEvent(c.rec)
		if queues || len(msgs) > 0 || len(acks) > 0 {
			t.Errorf("%s: the router acts on it: the case is wrong", c.name)
		}
		if passes(t, c.rec) {
			t.Errorf("%s: passes the router's filter, which should keep it out", c.name)
		}
	}
	// A contact's records all pass (the triggers compare old and new).
	contact := events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{
		Keys: map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute("CONTACT#t#1")}}}
	if !passes(t, contact) {
		t.Error("a contact's change is filtered out")
	}
	other := events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{
		Keys: map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute("PMSG#whatsapp#wamid.x")}}}
	if passes(t, other) {
		t.Error("a provider id pointer passes")
	}
}
