package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSoakScaledDown is make soak at a small scale: 500 updates over 10
// connections (one answers 410, one refuses every attempt, the others fail
// 30 % and hang 5 % of their attempts) while the SQS emulator and then the
// DynamoDB emulator are killed and restarted: no accepted update loses a
// delivery, and the dead ones are found on every channel.
func TestSoakScaledDown(t *testing.T) {
	c := defaults()
	c.updates, c.connections, c.contacts, c.concurrency = 500, 10, 10, 8
	c.down, c.settle = 2*time.Second, 45*time.Second
	var out strings.Builder
	c.out = &out
	r, err := run(t.Context(), c)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if r.Accepted != c.updates {
		t.Errorf("%d updates accepted, want %d", r.Accepted, c.updates)
	}
	// 9 of the 10 connections stay on: one delivery each per update on
	// their channel.
	if want := c.updates * 9 / 10; r.Expected != want {
		t.Errorf("%d deliveries expected, want %d", r.Expected, want)
	}
	if r.Lost != 0 || r.NewIDs != 0 {
		t.Errorf("%d deliveries lost, %d under a new webhook-id; want none", r.Lost, r.NewIDs)
	}
	if r.Succeeded+r.Dead != r.Expected || r.Succeeded == 0 {
		t.Errorf("succeeded %d + dead %d != expected %d", r.Succeeded, r.Dead, r.Expected)
	}
	// 30 % fail and 5 % hang: retries happen.
	if r.Attempted <= r.Expected {
		t.Errorf("%d attempts for %d deliveries: the targets' failures were not retried", r.Attempted, r.Expected)
	}
	if len(r.Restarts) != 2 {
		t.Errorf("restarts %v, want sqs then dynamodb", r.Restarts)
	}
	// Every delivery to the connection whose target refuses every attempt
	// dies, on a channel of its own (not the token's that made the run).
	if want := c.updates / c.connections; r.Dead < want {
		t.Errorf("%d deliveries kept dead, want at least the %d of the always-failing connection", r.Dead, want)
	}
	if r.GoneTried == 0 || r.GoneDead == 0 {
		t.Errorf("410 connection: %d attempts, %d dead; want it tried and its delivery kept dead", r.GoneTried, r.GoneDead)
	}
}

func TestParseSchedule(t *testing.T) {
	if _, err := parseSchedule(durations(defaults().schedule)); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"2s,2s", "1s,2s,3s,4s,5s,6s,7s", "x,2s,3s,4s,5s,6s,7s"} {
		if _, err := parseSchedule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestVerdict: the run ends with PASS, or FAIL and why; a lost delivery,
// a second webhook-id, an update not accepted or a missing restart fail it.
func TestVerdict(t *testing.T) {
	c := defaults()
	ok := report{Accepted: c.updates, Expected: 9900, Succeeded: 9890, Dead: 10, Repeated: 3, Restarts: []string{"sqs", "dynamodb"}}
	if v := ok.verdict(c); !strings.HasPrefix(v, "soak: PASS") {
		t.Errorf("verdict %q, want PASS", v)
	}
	for _, tc := range []struct {
		change func(*report)
		want   string
	}{
		{func(r *report) { r.Lost, r.Succeeded = 2, r.Succeeded-2 }, "2 deliveries lost"},
		{func(r *report) { r.NewIDs = 1 }, "1 deliveries under a new webhook-id"},
		{func(r *report) { r.Accepted-- }, "9999 of 10000 updates accepted"},
		{func(r *report) { r.Restarts = r.Restarts[:1] }, "1 of 2 emulator restarts"},
	} {
		r := ok
		r.Restarts = slices.Clone(ok.Restarts)
		tc.change(&r)
		if v := r.verdict(c); !strings.HasPrefix(v, "soak: FAIL (") || !strings.Contains(v, tc.want) {
			t.Errorf("verdict %q, want FAIL with %q", v, tc.want)
		}
	}
}
