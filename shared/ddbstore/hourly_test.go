package ddbstore_test

import (
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// TestHourlyStats: batches add to their hour's counters (the largest
// duration only rises), attempts that sent nothing are not counted, and a
// connection's stats are its own 24 hours, oldest first.
func TestHourlyStats(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	now := time.Date(2026, 5, 1, 10, 30, 0, 0, time.UTC)
	at := func(d time.Duration, w string, ok bool, ms int64) connections.ConnAttempt {
		a := mkAttempt(now.Add(d).UnixMilli(), w, 1)
		a.DurationMS = ms
		if ok {
			a.Outcome = connections.OutcomeSuccess
		}
		return connections.ConnAttempt{TenantID: "t", ConnectionID: "k", Attempt: a}
	}
	off := at(0, "msg_off", false, 0)
	off.Outcome = connections.OutcomeDisabled
	for _, batch := range [][]connections.ConnAttempt{
		{at(0, "msg_1", true, 5), at(time.Second, "msg_2", false, 9), off},
		{at(2*time.Second, "msg_3", true, 3)},                                     // max stays 9
		{at(3*time.Second, "msg_4", true, 20), at(-time.Hour, "msg_0", false, 7)}, // max rises; the hour before
		{{TenantID: "u", ConnectionID: "k", Attempt: at(0, "msg_u", true, 1).Attempt}},
	} {
		if err := s.AddAttempts(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.HourlyStats(ctx, "t", "k", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 24 {
		t.Fatalf("%d buckets, want 24", len(st))
	}
	hour := now.Truncate(time.Hour).Unix()
	want := connections.HourStat{Hour: hour, Successes: 3, Failures: 1, DurationSumMS: 37, DurationMaxMS: 20}
	if st[23] != want {
		t.Errorf("this hour: %+v, want %+v", st[23], want)
	}
	if prev := (connections.HourStat{Hour: hour - 3600, Failures: 1, DurationSumMS: 7, DurationMaxMS: 7}); st[22] != prev {
		t.Errorf("the hour before: %+v, want %+v", st[22], prev)
	}
	if st[0].Hour != hour-23*3600 || st[0].Successes != 0 {
		t.Errorf("the first bucket: %+v", st[0])
	}
	// Another tenant's connection of the same ID counts its own.
	if u, err := s.HourlyStats(ctx, "u", "k", now); err != nil || u[23].Successes != 1 || u[23].Failures != 0 || u[22].Failures != 0 {
		t.Errorf("tenant u: %+v, %v", u[22:], err)
	}
	// A day later they are out of the window.
	if later, err := s.HourlyStats(ctx, "t", "k", now.Add(24*time.Hour)); err != nil || later[0].Hour != hour+3600 || later[0].Successes != 0 {
		t.Errorf("a day later: %+v, %v", later[0], err)
	}
}

// TestHourlyBuffered: a process writes its counts at once for its first
// batch, buffers the batches that follow within HourlyFlushEvery (no write
// each), and its timer writes them once the interval has passed.
func TestHourlyBuffered(t *testing.T) {
	defer func(d time.Duration) { ddbstore.HourlyFlushEvery = d }(ddbstore.HourlyFlushEvery)
	ddbstore.HourlyFlushEvery = 5 * time.Second
	s, _ := newConnections(t)
	ctx := t.Context()
	now := time.Now()
	batch := func(w string) []connections.ConnAttempt {
		a := mkAttempt(now.UnixMilli(), w, 1)
		a.Outcome, a.DurationMS = connections.OutcomeSuccess, 4
		return []connections.ConnAttempt{{TenantID: "t", ConnectionID: "k", Attempt: a}}
	}
	successes := func() int {
		st, err := s.HourlyStats(ctx, "t", "k", now)
		if err != nil {
			t.Fatal(err)
		}
		return st[23].Successes
	}
	for _, w := range []string{"msg_1", "msg_2", "msg_3"} {
		if err := s.AddAttempts(ctx, batch(w)); err != nil {
			t.Fatal(err)
		}
	}
	if got := successes(); got != 1 {
		t.Fatalf("right after three batches: %d successes written, want the first batch's 1 (the others buffered)", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for successes() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the buffered batches were never written: %d successes", successes())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
