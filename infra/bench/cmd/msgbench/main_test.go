package main

import (
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/messages"
)

// TestChaosScaledDown is the chaos scenario (target 3 and 4) at a small
// scale, on the real stack (emulators, the trigger router on the stream,
// the sender on the outbox, the provider sandbox failing 15 % of sends
// with 429, 15 % with 500 and leaving 5 % unanswered): every message ends
// sent or failed in the store, and the sandbox accepted each message at
// most once. The sender's provider timeout is 2 s here (15 s in make
// bench: a shorter one would time out sends the sandbox took, on a busy
// machine, and send them again) and its retries wait at most 2 s, so that
// the run stays well under a minute.
func TestChaosScaledDown(t *testing.T) {
	sb, err := startSandbox()
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	c := chaosConfig{N: 300, Concurrency: 32, Fail429: 15, Fail500: 15, Hang: 5, Retry: "1s,2s", Timeout: 2 * time.Second, Settle: 50 * time.Second}
	if err := c.parse(); err != nil {
		t.Fatal(err)
	}
	r, err := runChaos(t.Context(), c, sb, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range chaosNotes(r, c) {
		t.Log(n)
	}
	if r.TimedOut {
		t.Errorf("the outbox did not empty in %s: %s visible, %s in flight", c.Settle, r.LeftVisible, r.LeftInFlight)
	}
	if r.Lost != 0 || r.SentTwice != 0 || r.Mismatched != 0 {
		t.Errorf("lost %d %v, sent twice %d %v, store and sandbox disagree %d %v; want none",
			r.Lost, r.LostIDs, r.SentTwice, r.SentTwiceIDs, r.Mismatched, r.MismatchedIDs)
	}
	if r.ByStatus["sent"]+r.ByStatus["failed"] != c.N {
		t.Errorf("final statuses %v, want %d sent or failed", r.ByStatus, c.N)
	}
	// The faults happened and were retried.
	st := r.Sandbox
	if st.Faults429 == 0 || st.Faults500 == 0 || st.Hangs == 0 || st.Requests <= c.N {
		t.Errorf("sandbox %+v: want 429s, 500s and timeouts, and retries", st)
	}
}

// TestTally: lost, stuck, sent twice and disagreeing messages are each
// found.
func TestTally(t *testing.T) {
	ids := []string{"msg_ok", "msg_failed", "msg_stuck", "msg_missing", "msg_twice", "msg_nosend", "msg_failedsent"}
	sent := func(pid string) messages.Message {
		return messages.Message{Status: messages.StatusSent, ProviderID: pid, Attempts: 1}
	}
	final := []messages.Message{
		sent("wamid.1"),
		{Status: messages.StatusFailed, Failure: &messages.Failure{Code: "attempts_exhausted"}, Attempts: 10},
		{Status: messages.StatusQueued, Attempts: 3},
		{},
		sent("wamid.5b"),
		sent("wamid.6"),
		{Status: messages.StatusFailed, Failure: &messages.Failure{Code: "timeout"}, Attempts: 10},
	}
	missing := []bool{false, false, false, true, false, false, false}
	wamids := map[string][]string{"msg_ok": {"wamid.1"}, "msg_twice": {"wamid.5a", "wamid.5b"}, "msg_failedsent": {"wamid.7"}}
	r := &chaosResult{ByStatus: map[string]int{}, FailedCodes: map[string]int{}, Attempts: map[int]int{}}
	r.tally(ids, final, missing, wamids)
	if r.Lost != 2 || strings.Join(r.LostIDs, ",") != "msg_stuck,msg_missing" {
		t.Errorf("lost %d %v", r.Lost, r.LostIDs)
	}
	if r.SentTwice != 1 || r.SentTwiceIDs[0] != "msg_twice" {
		t.Errorf("sent twice %d %v", r.SentTwice, r.SentTwiceIDs)
	}
	if r.Mismatched != 2 || strings.Join(r.MismatchedIDs, ",") != "msg_nosend,msg_failedsent" {
		t.Errorf("mismatched %d %v", r.Mismatched, r.MismatchedIDs)
	}
	if r.ByStatus["sent"] != 3 || r.ByStatus["failed"] != 2 || r.ByStatus["missing"] != 1 || r.FailedCodes["timeout"] != 1 {
		t.Errorf("by status %v, failed codes %v", r.ByStatus, r.FailedCodes)
	}
}

func TestChaosConfig(t *testing.T) {
	c := chaosConfig{Retry: "1s,4s"}
	if err := c.parse(); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 4 * time.Second} {
		if got := c.schedule(n, 0); got != want {
			t.Errorf("schedule(%d) = %s, want %s", n, got, want)
		}
	}
	if got := c.schedule(5, 3*time.Second); got != 3*time.Second {
		t.Errorf("Retry-After not taken: %s", got)
	}
	for _, bad := range []string{"1s", "0s,4s", "4s,1s", "x,y"} {
		if err := (&chaosConfig{Retry: bad}).parse(); err == nil {
			t.Errorf("-chaos-retry %q accepted", bad)
		}
	}
	if err := (&chaosConfig{Retry: "1s,4s", Fail429: 60, Fail500: 30, Hang: 20}).parse(); err == nil {
		t.Error("fault shares over 100 % accepted")
	}
}
