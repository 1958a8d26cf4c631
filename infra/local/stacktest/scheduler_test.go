package stacktest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/scheduler"
)

// TestSchedulerTicksInTheStack: the ticker runs as make run runs it (the
// poller invoking scheduler-tick's handler, IAM-audited): an item due
// later is released once the clock passes its time, exactly once while
// its handler succeeds; a failing one is retried after its backoff.
func TestSchedulerTicksInTheStack(t *testing.T) {
	var mu sync.Mutex
	runs := map[string]int{}
	failOnce := true
	s := NewWith(t, Options{DueHandlers: map[string]scheduler.Handler{"scheduler.test": func(_ context.Context, d scheduler.Due) error {
		mu.Lock()
		defer mu.Unlock()
		runs[d.Ref]++
		if d.Ref == "flaky" && failOnce {
			failOnce = false
			return errors.New("not yet")
		}
		return nil
	}}})
	s.Pipeline()
	count := func(ref string) int { mu.Lock(); defer mu.Unlock(); return runs[ref] }
	wait := func(what string, ok func() bool) {
		t.Helper()
		for end := time.Now().Add(15 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("timed out waiting for %s (runs %v)", what, runs)
			}
		}
	}
	ctx := t.Context()
	now := s.Clock.Now()
	store := s.Deps.DueStore()
	for _, d := range []scheduler.Due{
		{Kind: "scheduler.test", TenantID: "ten_a", Ref: "held", At: now.Add(3 * time.Minute)},
		{Kind: "scheduler.test", TenantID: "ten_a", Ref: "flaky", At: now.Add(-time.Second)},
	} {
		if err := store.Put(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	wait("the due item's first run", func() bool { return count("flaky") == 1 })
	time.Sleep(600 * time.Millisecond) // two more ticks
	if count("held") != 0 || count("flaky") != 1 {
		t.Fatalf("runs before their time: %v", runs)
	}
	s.Clock.Add(3*time.Minute + time.Second)
	wait("the held item's release and the retry", func() bool { return count("held") == 1 && count("flaky") == 2 })
	time.Sleep(600 * time.Millisecond)
	if count("held") != 1 || count("flaky") != 2 {
		t.Errorf("ran again after success: %v", runs)
	}
}
