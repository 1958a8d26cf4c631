package ddbstore_test

import (
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/messages"
)

// Twilio's statuses by SID, on a voice channel's call and an SMS channel's
// message: a call's "completed" that comes before the sender's sent write
// is kept and applied by it (status and time, single and batched writes);
// after it, statuses apply at once and never move back; another channel's
// callback finds no message; an SMS fails with Twilio's code.
func TestApplyProviderStatus(t *testing.T) {
	env := emulators.ForTest(t)
	s := &ddbstore.Messages{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	at := func(sec int) time.Time { return now.Add(time.Duration(sec) * time.Second) }

	for i, batched := range []bool{false, true} {
		call := queuedMessage([]string{"msg_call1", "msg_call2"}[i], now)
		call.ChannelKind = "voice"
		callSID := []string{"CA01", "CA02"}[i]
		if err := s.CreateMessage(ctx, call); err != nil {
			t.Fatal(err)
		}
		for j, st := range []messages.Status{messages.StatusSent, messages.StatusCompleted, messages.StatusSent} {
			if err := s.ApplyProviderStatus(ctx, "voice", "ten_a", "ch_a", callSID, st, at(j+1), nil); err != nil {
				t.Fatalf("early %s: %v", st, err)
			}
		}
		claimed, done, err := s.ClaimMessage(ctx, "ten_a", call.ID, "tok", now, time.Minute)
		if err != nil || done {
			t.Fatalf("claim: %v %v", done, err)
		}
		if batched {
			if errs := s.RecordOutcomes(ctx, []messages.Outcome{{Kind: messages.OutcomeSent, Message: claimed, ProviderID: callSID, At: at(10)}}); errs[0] != nil {
				t.Fatal(errs[0])
			}
		} else if err := s.RecordSent(ctx, claimed, callSID, at(10)); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetMessage(ctx, "ten_a", call.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != messages.StatusCompleted || got.CompletedAt != at(2).UnixMilli() || got.ProviderID != callSID {
			t.Fatalf("batched %v: call %+v, want completed at %d", batched, got, at(2).UnixMilli())
		}
		// Late ringing (sent) after the pointer is in place: no change.
		if err := s.ApplyProviderStatus(ctx, "voice", "ten_a", "ch_a", callSID, messages.StatusSent, at(20), nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetMessage(ctx, "ten_a", call.ID); got.Status != messages.StatusCompleted {
			t.Fatalf("a late sent moved the call to %s", got.Status)
		}
		// Another channel, another tenant, another kind: no such message.
		for _, c := range [][3]string{{"voice", "ten_a", "ch_b"}, {"voice", "ten_b", "ch_a"}} {
			if err := s.ApplyProviderStatus(ctx, c[0], c[1], c[2], callSID, messages.StatusFailed, at(30), &messages.Failure{Code: "busy"}); !apperr.Is(err, apperr.KindNotFound) {
				t.Errorf("%v: %v, want not found", c, err)
			}
		}
		if got, _ := s.GetMessage(ctx, "ten_a", call.ID); got.Status != messages.StatusCompleted || got.Failure != nil {
			t.Fatalf("another channel's callback moved the call: %+v", got)
		}
	}

	sms := queuedMessage("msg_sms1", now)
	sms.ChannelKind = "sms"
	if err := s.CreateMessage(ctx, sms); err != nil {
		t.Fatal(err)
	}
	claimed, _, err := s.ClaimMessage(ctx, "ten_a", sms.ID, "tok", now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSent(ctx, claimed, "SM01", at(1)); err != nil {
		t.Fatal(err)
	}
	f := &messages.Failure{Code: "30003", Message: "Unreachable destination handset."}
	if err := s.ApplyProviderStatus(ctx, "sms", "ten_a", "ch_a", "SM01", messages.StatusFailed, at(2), f); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetMessage(ctx, "ten_a", sms.ID)
	if got.Status != messages.StatusFailed || got.Failure == nil || got.Failure.Code != "30003" || got.FailedAt != at(2).UnixMilli() {
		t.Fatalf("sms %+v, want failed with 30003", got)
	}
	// The same SID under the voice kind is another provider id.
	if err := s.ApplyProviderStatus(ctx, "voice", "ten_a", "ch_a", "SM01", messages.StatusCompleted, at(3), nil); err != nil {
		t.Fatal(err) // kept as an early status of a call that never comes
	}
	if got, _ := s.GetMessage(ctx, "ten_a", sms.ID); got.Status != messages.StatusFailed {
		t.Fatalf("sms moved by a voice callback: %+v", got)
	}
}
