package router

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/messages"
)

// recentLog records PutRecent calls.
type recentLog struct {
	connections.Recent
	got []connections.Trigger
	ps  [][]byte
}

func (l *recentLog) PutRecent(_ context.Context, _, _ string, t connections.Trigger, _ time.Time, p []byte) error {
	l.got, l.ps = append(l.got, t), append(l.ps, p)
	return nil
}

// A Zapier hook on message_received gets each inbound message of its
// channel, one on message_status each status change of an outbound
// message past queued, in the flat message payload; every such record is
// kept as a recent item of its trigger (at most once per RecentEvery per
// channel and trigger), whether or not a hook takes it.
func TestMessageHookDeliveries(t *testing.T) {
	in := messages.Message{ID: "msg_in", TenantID: "t", ChannelID: "ch", ContactID: "923001234567", Direction: messages.Inbound,
		Status: messages.StatusReceived, Type: messages.TypeText, From: "+923001234567", Text: &messages.Text{Body: "hi"}, CreatedAt: 1_700_000_000_000}
	queued := messages.Message{ID: "msg_out", TenantID: "t", ChannelID: "ch", Direction: messages.Outbound, Status: messages.StatusQueued,
		Type: messages.TypeTemplate, To: "+923001234567", Template: &messages.Template{Name: "welcome", Language: "en"}, CreatedAt: 1_700_000_000_000}
	sent := queued
	sent.Status, sent.SentAt = messages.StatusSent, 1_700_000_001_000
	failed := sent
	failed.Status, failed.FailedAt, failed.Failure = messages.StatusFailed, 1_700_000_002_000, &messages.Failure{Code: "131026", Message: "undeliverable"}
	modify := func(old, cur messages.Message, seq int) events.DynamoDBEventRecord {
		rec := messageRecord(t, "MODIFY", cur, seq)
		rec.Change.OldImage = messageRecord(t, "MODIFY", old, seq).Change.NewImage
		return rec
	}
	r := newRouter(nil, 0)
	rl := &recentLog{}
	r.Recent = rl
	r.Connections = &fakeConns{list: []connections.Connection{
		{ID: "in", TenantID: "t", ChannelID: "ch", Enabled: true, Source: connections.SourceZapier, Triggers: []connections.Trigger{connections.TriggerMessageReceived}},
		{ID: "st", TenantID: "t", ChannelID: "ch", Enabled: true, Source: connections.SourceZapier, Triggers: []connections.Trigger{connections.TriggerMessageStatus}},
		{ID: "off", TenantID: "t", ChannelID: "ch", Enabled: false, Source: connections.SourceZapier, Triggers: []connections.Trigger{connections.TriggerMessageStatus}},
		{ID: "other", TenantID: "t", ChannelID: "ch2", Enabled: true, Source: connections.SourceZapier, Triggers: []connections.Trigger{connections.TriggerMessageReceived}},
	}}
	cache := &batchCache{r: r, conns: map[string][]connections.Connection{}, channels: map[string]connections.Channel{}}
	deliver := func(rec events.DynamoDBEventRecord) map[string]connections.MessageEvent {
		t.Helper()
		ds, err := r.route(t.Context(), cache, rec)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]connections.MessageEvent{}
		for _, d := range ds {
			var e connections.MessageEvent
			if err := json.Unmarshal(d.Payload, &e); err != nil {
				t.Fatal(err)
			}
			if string(d.Trigger) != e.Event {
				t.Errorf("delivery of %s carries event %q", d.Trigger, e.Event)
			}
			out[d.ConnectionID] = e
		}
		return out
	}
	got := deliver(messageRecord(t, "INSERT", in, 1))
	if e, ok := got["in"]; len(got) != 1 || !ok || e.ID != "msg_in" || e.Text != "hi" || e.From != "+923001234567" ||
		e.ContactID != "923001234567" || e.Direction != "inbound" || e.ChannelName != "Shop" || e.CreatedAt != "2023-11-14T22:13:20Z" {
		t.Errorf("inbound: %+v", got)
	}
	if got := deliver(messageRecord(t, "INSERT", queued, 2)); len(got) != 0 {
		t.Errorf("queued insert: %+v", got)
	}
	got = deliver(modify(queued, sent, 3))
	if e, ok := got["st"]; len(got) != 1 || !ok || e.ID != "msg_out:sent" || e.Status != "sent" || e.TemplateName != "welcome" ||
		e.StatusAt != "2023-11-14T22:13:21Z" {
		t.Errorf("sent: %+v", got)
	}
	got = deliver(modify(sent, failed, 4))
	if e := got["st"]; len(got) != 1 || e.Status != "failed" || e.ErrorCode != "131026" || e.ErrorMessage != "undeliverable" {
		t.Errorf("failed: %+v", got)
	}
	if got := deliver(modify(failed, failed, 5)); len(got) != 0 {
		t.Errorf("no status change: %+v", got)
	}
	// Recorded: the inbound message and the first status change; the
	// second status change came within RecentEvery of the first.
	if len(rl.got) != 2 || rl.got[0] != connections.TriggerMessageReceived || rl.got[1] != connections.TriggerMessageStatus {
		t.Errorf("recent items recorded: %v", rl.got)
	}
}

// A contact write records every trigger it fires as a recent item (every
// field, as a hook gets it), with no connection at all.
func TestContactTriggersRecordedWithoutConnections(t *testing.T) {
	r := newRouter(nil, 0)
	rl := &recentLog{}
	r.Recent = rl
	cache := &batchCache{r: r, conns: map[string][]connections.Connection{}, fields: map[string][]contacts.Field{}, channels: map[string]connections.Channel{}}
	ds, err := r.route(t.Context(), cache, record(t, 1))
	if err != nil || len(ds) != 0 {
		t.Fatalf("deliveries %v, err %v", ds, err)
	}
	if len(rl.got) != 1 || rl.got[0] != connections.TriggerEmail {
		t.Fatalf("recorded %v", rl.got)
	}
	var p map[string]string
	if err := json.Unmarshal(rl.ps[0], &p); err != nil || p["email"] == "" || p["page_name"] != "Shop" || len(p) < 10 {
		t.Errorf("recent payload %s", rl.ps[0])
	}
}
