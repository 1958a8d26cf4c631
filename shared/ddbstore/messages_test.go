package ddbstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/messages"
)

// Status callbacks in any order leave a message at the furthest status
// reached; failed stays failed.
func TestMessageStatusNeverMovesBack(t *testing.T) {
	env := emulators.ForTest(t)
	s := &ddbstore.Messages{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	orders := [][]messages.Status{
		{messages.StatusSent, messages.StatusDelivered, messages.StatusRead},
		{messages.StatusRead, messages.StatusDelivered, messages.StatusSent},
		{messages.StatusDelivered, messages.StatusRead, messages.StatusSent, messages.StatusDelivered},
	}
	for i, order := range orders {
		id := "msg_order" + string(rune('a'+i))
		m := messages.Message{ID: id, TenantID: "ten_a", ChannelID: "ch_a", ChannelKind: "whatsapp", Direction: messages.Outbound,
			Type: messages.TypeText, Text: &messages.Text{Body: "hi"}, Status: messages.StatusQueued, CreatedAt: now.UnixMilli()}
		if err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		best := messages.StatusQueued
		for j, st := range order {
			got, changed, err := s.UpdateStatus(ctx, "ten_a", id, st, now.Add(time.Duration(j)*time.Second), nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := messages.Advances(best, st); changed != want {
				t.Errorf("%v: %s → %s changed = %v, want %v", order, best, st, changed, want)
			}
			if messages.Advances(best, st) {
				best = st
			}
			if got.Status != best {
				t.Errorf("%v: after %s the message is %s, want %s", order, st, got.Status, best)
			}
		}
		f := &messages.Failure{Code: "131026", Message: "Message undeliverable"}
		if got, changed, err := s.UpdateStatus(ctx, "ten_a", id, messages.StatusFailed, now, f); err != nil || !changed || got.Failure == nil || got.Failure.Code != "131026" {
			t.Fatalf("failed: %+v %v %v", got, changed, err)
		}
		if got, changed, err := s.UpdateStatus(ctx, "ten_a", id, messages.StatusRead, now, nil); err != nil || changed || got.Status != messages.StatusFailed {
			t.Fatalf("failed moved: %+v %v %v", got, changed, err)
		}
	}
	if _, _, err := s.UpdateStatus(ctx, "ten_a", "msg_none", messages.StatusSent, now, nil); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("unknown message: %v", err)
	}
	if _, _, err := s.UpdateStatusByProviderID(ctx, "whatsapp", "wamid.none", messages.StatusSent, now, nil); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("unknown provider id: %v", err)
	}
}

// A live claim keeps other senders out until its lease ends; a recorded
// outcome ends the message's claims for good.
func TestMessageClaims(t *testing.T) {
	env := emulators.ForTest(t)
	s := &ddbstore.Messages{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	m := messages.Message{ID: "msg_claim", TenantID: "ten_a", ChannelID: "ch_a", ChannelKind: "whatsapp", Direction: messages.Outbound,
		Type: messages.TypeText, Text: &messages.Text{Body: "hi"}, Status: messages.StatusQueued, CreatedAt: now.UnixMilli()}
	if err := s.CreateMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, done, err := s.ClaimMessage(ctx, "ten_a", m.ID, "one", now, time.Minute); err != nil || done {
		t.Fatalf("first claim: %v %v", done, err)
	}
	var claimed *messages.ClaimedError
	if _, _, err := s.ClaimMessage(ctx, "ten_a", m.ID, "two", now.Add(time.Second), time.Minute); !errors.As(err, &claimed) || !claimed.Until.Equal(now.Add(time.Minute)) {
		t.Fatalf("second claim: %v", err)
	}
	if err := s.RecordRetry(ctx, "ten_a", m.ID, "two", messages.Failure{Code: "x"}); err != nil {
		t.Fatal(err) // not its claim: nothing written
	}
	if got, _ := s.GetMessage(ctx, "ten_a", m.ID); got.Attempts != 0 {
		t.Fatalf("another sender's retry counted: %+v", got)
	}
	if err := s.RecordRetry(ctx, "ten_a", m.ID, "one", messages.Failure{Code: "131000", Message: "Something went wrong"}); err != nil {
		t.Fatal(err)
	}
	got, done, err := s.ClaimMessage(ctx, "ten_a", m.ID, "three", now.Add(2*time.Second), time.Minute)
	if err != nil || done || got.Attempts != 1 || got.LastError == nil || got.LastError.Code != "131000" {
		t.Fatalf("claim after retry: %+v %v %v", got, done, err)
	}
	if err := s.RecordSent(ctx, got, "wamid.ABC", now.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, done, err := s.ClaimMessage(ctx, "ten_a", m.ID, "four", now.Add(time.Hour), time.Minute); err != nil || !done || got.Status != messages.StatusSent ||
		got.ProviderID != "wamid.ABC" || got.Attempts != 2 || got.LastError != nil {
		t.Fatalf("claim after sent: %+v %v %v", got, done, err)
	}
	if tid, id, err := s.MessageByProviderID(ctx, "whatsapp", "wamid.ABC"); err != nil || tid != "ten_a" || id != m.ID {
		t.Fatalf("by provider id: %s %s %v", tid, id, err)
	}
}
