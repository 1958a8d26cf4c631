package ddbstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// TestHostBreaker: one connection's failures alone do not open its host's
// breaker; five over two connections do, once however many dispatchers
// count at once; the connections parked on it read paused (one and all),
// another tenant's breaker of the host is its own; an owner's change
// (CloseBreaker) and the host's closing let them go.
func TestHostBreaker(t *testing.T) {
	env := emulators.ForTest(t)
	s := &ddbstore.Connections{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	const host = "hooks.example.com:443"
	at := time.UnixMilli(1_800_000_000_000)
	for range connections.BreakerThreshold + 2 {
		if h, opened, err := s.HostFailed(ctx, "ta", host, "conn_1", at); err != nil || opened || h.Open() {
			t.Fatalf("one connection's failures: %+v opened %v %v", h, opened, err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	opens := 0
	for range 6 {
		wg.Go(func() {
			_, opened, err := s.HostFailed(ctx, "ta", host, "conn_2", at)
			if err != nil {
				t.Error(err)
			}
			if opened {
				mu.Lock()
				opens++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	h, err := s.HostBreaker(ctx, "ta", host)
	if err != nil || !h.Open() || opens != 1 || h.OpenSince != at.UnixMilli() || h.NextProbe != at.Add(connections.ProbeFirst).UnixMilli() {
		t.Fatalf("opened %d times: %+v %v", opens, h, err)
	}
	if hb, _ := s.HostBreaker(ctx, "tb", host); hb.Failures != 0 || hb.Open() {
		t.Fatalf("another tenant's breaker of the host: %+v", hb)
	}
	if err := s.ParkOnHost(ctx, "ta", host, []string{"conn_1", "conn_2", "conn_3"}, at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BreakerFailed(ctx, "ta", "conn_4", at); err != nil { // not on the host
		t.Fatal(err)
	}
	all, err := s.Breakers(ctx, "ta")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("breakers %v, want the 4 connections' (the host's item is not a connection)", all)
	}
	for _, id := range []string{"conn_1", "conn_2", "conn_3"} {
		one, err := s.Breaker(ctx, "ta", id)
		if err != nil || !one.HostOpen() || !all[id].HostOpen() || one.PausedSince() != h.OpenSince || one.NextProbeAt() != h.NextProbe {
			t.Errorf("%s: %+v / %+v %v, want paused by the host", id, one, all[id], err)
		}
	}
	if all["conn_4"].Paused() {
		t.Errorf("conn_4: %+v", all["conn_4"])
	}
	// An owner's change lets its connection go.
	if err := s.CloseBreaker(ctx, "ta", "conn_3"); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Breaker(ctx, "ta", "conn_3"); b.Paused() || b.Host != "" {
		t.Errorf("conn_3 after its owner's change: %+v", b)
	}
	if err := s.CloseHost(ctx, "ta", host); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"conn_1", "conn_2"} {
		if b, _ := s.Breaker(ctx, "ta", id); b.Paused() || b.Host != "" {
			t.Errorf("%s after the host's breaker closed: %+v", id, b)
		}
	}
	if h, _ := s.HostBreaker(ctx, "ta", host); h.Failures != 0 || h.Open() {
		t.Errorf("host breaker after closing: %+v", h)
	}
}

// TestHostFailureWindow: a closed host breaker's failures count as one run
// only while each comes within connections.HostFailureWindow of the one
// before; four failures, then a fifth a window later, start a new run (an
// answer another process saw may lie between them), which opens at its own
// fifth. Failures counted while it is open keep counting on it.
func TestHostFailureWindow(t *testing.T) {
	env := emulators.ForTest(t)
	s := &ddbstore.Connections{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	const host = "slow.example.com:443"
	at := time.UnixMilli(1_800_000_000_000)
	fail := func(conn string, at time.Time) (connections.HostBreaker, bool) {
		t.Helper()
		h, opened, err := s.HostFailed(ctx, "ta", host, conn, at)
		if err != nil {
			t.Fatal(err)
		}
		return h, opened
	}
	for i := range connections.BreakerThreshold - 1 {
		// Each within the window of the one before, together over it.
		at = at.Add(connections.HostFailureWindow / 2)
		if h, opened := fail([]string{"conn_1", "conn_2"}[i%2], at); opened || h.Failures != i+1 {
			t.Fatalf("failure %d: %+v opened %v", i+1, h, opened)
		}
	}
	at = at.Add(connections.HostFailureWindow + time.Millisecond)
	h, opened := fail("conn_1", at)
	if opened || h.Open() || h.Failures != 1 || len(h.Conns) != 1 || h.LastFailure != at.UnixMilli() {
		t.Fatalf("a failure a window after the run's last: %+v opened %v, want a new run of 1", h, opened)
	}
	for i := range connections.BreakerThreshold - 1 {
		h, opened = fail([]string{"conn_2", "conn_1"}[i%2], at.Add(time.Duration(i+1)*time.Second))
	}
	if !opened || !h.Open() || h.Failures != connections.BreakerThreshold {
		t.Fatalf("the new run's fifth failure: %+v opened %v, want opened", h, opened)
	}
	// Open: a late failure, a window on, counts on the open breaker.
	if h, opened = fail("conn_2", at.Add(2*connections.HostFailureWindow)); opened || !h.Open() || h.Failures != connections.BreakerThreshold+1 {
		t.Errorf("a failure on the open breaker: %+v opened %v", h, opened)
	}
}
