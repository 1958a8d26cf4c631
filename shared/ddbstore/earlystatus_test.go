package ddbstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/messages"
)

// A provider's status callback that comes before the sender recorded the
// message sent is kept, and the sent write applies it: the message ends
// at the callback's status. Early statuses out of order never move back,
// nor does the sent write move a message back from an early status; one
// reported by another channel is not applied. The sender's batched write
// applies them as its single write does.
func TestEarlyStatus(t *testing.T) {
	env := emulators.ForTest(t)
	s := &ddbstore.Messages{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	at := func(sec int) time.Time { return now.Add(time.Duration(sec) * time.Second) }
	undeliverable := &messages.Failure{Code: "131026", Message: "Message undeliverable"}

	type early struct {
		st      messages.Status
		channel string
		f       *messages.Failure
	}
	cases := []struct {
		name    string
		early   []early
		batched bool
		want    messages.Status
		check   func(messages.Message) error
	}{
		{name: "delivered first", early: []early{{st: messages.StatusDelivered}}, want: messages.StatusDelivered,
			check: func(m messages.Message) error {
				if m.DeliveredAt != at(1).UnixMilli() || m.SentAt != at(10).UnixMilli() || m.ProviderID == "" {
					return fmt.Errorf("times: delivered %d sent %d, provider id %q", m.DeliveredAt, m.SentAt, m.ProviderID)
				}
				return nil
			}},
		{name: "read then delivered", early: []early{{st: messages.StatusRead}, {st: messages.StatusDelivered}}, want: messages.StatusRead},
		{name: "delivered then read", early: []early{{st: messages.StatusDelivered}, {st: messages.StatusRead}}, want: messages.StatusRead,
			check: func(m messages.Message) error {
				if m.DeliveredAt != at(1).UnixMilli() || m.ReadAt != at(2).UnixMilli() {
					return fmt.Errorf("times: delivered %d read %d", m.DeliveredAt, m.ReadAt)
				}
				return nil
			}},
		{name: "sent first", early: []early{{st: messages.StatusSent}}, want: messages.StatusSent},
		{name: "failed first", early: []early{{st: messages.StatusFailed, f: undeliverable}, {st: messages.StatusRead}}, want: messages.StatusFailed,
			check: func(m messages.Message) error {
				if m.Failure == nil || m.Failure.Code != "131026" || m.FailedAt != at(1).UnixMilli() {
					return fmt.Errorf("failure %+v at %d", m.Failure, m.FailedAt)
				}
				return nil
			}},
		{name: "another channel's", early: []early{{st: messages.StatusRead, channel: "ch_other"}}, want: messages.StatusSent},
		{name: "batched, read first", early: []early{{st: messages.StatusRead}}, batched: true, want: messages.StatusRead},
	}
	for i, c := range cases {
		m := queuedMessage(fmt.Sprintf("msg_early%d", i), now)
		if err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		wamid := fmt.Sprintf("wamid.EARLY%d", i)
		for j, e := range c.early {
			ch := "ch_a"
			if e.channel != "" {
				ch = e.channel
			}
			kept, _, _, err := s.RecordEarlyStatus(ctx, "whatsapp", wamid, "ten_a", ch, e.st, at(j+1), e.f)
			if err != nil || !kept {
				t.Fatalf("%s: early %s: kept %v, %v", c.name, e.st, kept, err)
			}
			// No message is found by the wamid yet.
			if _, _, err := s.MessageByProviderID(ctx, "whatsapp", wamid); !apperr.Is(err, apperr.KindNotFound) {
				t.Fatalf("%s: an early status found as a message: %v", c.name, err)
			}
		}
		claimed, done, err := s.ClaimMessage(ctx, "ten_a", m.ID, "tok", now, time.Minute)
		if err != nil || done {
			t.Fatalf("%s: claim: %v %v", c.name, done, err)
		}
		if c.batched {
			errs := s.RecordOutcomes(ctx, []messages.Outcome{
				{Kind: messages.OutcomeSent, Message: claimed, ProviderID: wamid, At: at(10)},
			})
			if errs[0] != nil {
				t.Fatalf("%s: %v", c.name, errs[0])
			}
		} else if err := s.RecordSent(ctx, claimed, wamid, at(10)); err != nil {
			t.Fatalf("%s: sent: %v", c.name, err)
		}
		got, err := s.GetMessage(ctx, "ten_a", m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != c.want {
			t.Errorf("%s: status %s, want %s", c.name, got.Status, c.want)
		}
		if c.check != nil {
			if err := c.check(got); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		}
		// The pointer is in place: later callbacks apply to the message
		// at once, and still never move it back.
		if tenant, id, err := s.MessageByProviderID(ctx, "whatsapp", wamid); err != nil || tenant != "ten_a" || id != m.ID {
			t.Errorf("%s: pointer: %s %s %v", c.name, tenant, id, err)
		}
		if kept, owner, id, err := s.RecordEarlyStatus(ctx, "whatsapp", wamid, "ten_a", "ch_a", messages.StatusDelivered, at(20), nil); err != nil || kept || owner != "ten_a" || id != m.ID {
			t.Errorf("%s: a status after the sent write: kept %v, pointer %s %s, %v", c.name, kept, owner, id, err)
		}
		after, _, err := s.UpdateStatusByProviderID(ctx, "whatsapp", wamid, messages.StatusDelivered, at(20), nil)
		if err != nil {
			t.Fatal(err)
		}
		if messages.Advances(after.Status, c.want) {
			t.Errorf("%s: a late delivered moved the message back to %s", c.name, after.Status)
		}
	}
}

// An early status waits EarlyStatusTTL from its time (the item's TTL
// attribute), minutes, not days: a sent write within that bound applies
// it, as one right after it does.
func TestEarlyStatusTTL(t *testing.T) {
	env := emulators.ForTest(t)
	s := &ddbstore.Messages{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	if ddbstore.EarlyStatusTTL > time.Hour || ddbstore.EarlyStatusTTL < 10*time.Minute {
		t.Fatalf("EarlyStatusTTL %s: want minutes (a send of ours records its sent within them), not days", ddbstore.EarlyStatusTTL)
	}
	m := queuedMessage("msg_earlyttl", now)
	if err := s.CreateMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if kept, _, _, err := s.RecordEarlyStatus(ctx, "whatsapp", "wamid.TTL", "ten_a", "ch_a", messages.StatusDelivered, now, nil); err != nil || !kept {
		t.Fatalf("early status: kept %v, %v", kept, err)
	}
	res, err := env.DDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(env.OpsTable), Key: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "PMSG#whatsapp#wamid.TTL"}, "SK": &types.AttributeValueMemberS{Value: "PMSG"}}})
	if err != nil {
		t.Fatal(err)
	}
	ttl, ok := res.Item[ddbstore.TTLAttribute].(*types.AttributeValueMemberN)
	if want := fmt.Sprint(now.Add(ddbstore.EarlyStatusTTL).Unix()); !ok || ttl.Value != want {
		t.Fatalf("early status TTL %v, want %s (its time + %s)", res.Item[ddbstore.TTLAttribute], want, ddbstore.EarlyStatusTTL)
	}
	// The sender records the message sent just within the bound.
	claimed, _, err := s.ClaimMessage(ctx, "ten_a", m.ID, "tok", now.Add(ddbstore.EarlyStatusTTL-time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if errs := s.RecordOutcomes(ctx, []messages.Outcome{{Kind: messages.OutcomeSent, Message: claimed, ProviderID: "wamid.TTL",
		At: now.Add(ddbstore.EarlyStatusTTL - time.Second)}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if got, err := s.GetMessage(ctx, "ten_a", m.ID); err != nil || got.Status != messages.StatusDelivered || got.DeliveredAt != now.UnixMilli() {
		t.Fatalf("sent within the bound: %+v %v", got, err)
	}
}
