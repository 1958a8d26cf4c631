package dispatch

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/delivery"
)

// gcraStore is a tenant's delivery rate as the store keeps it (the next
// free send time, in µs), its reservations counted.
type gcraStore struct {
	mu    sync.Mutex
	tat   map[string]int64
	calls int
}

func (g *gcraStore) ReserveDeliveries(_ context.Context, tenant string, n int, every time.Duration, now time.Time) (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if g.tat == nil {
		g.tat = map[string]int64{}
	}
	first := max(g.tat[tenant], now.UnixMicro())
	g.tat[tenant] = first + int64(n)*every.Microseconds()
	return first / 1000, nil
}

// TestRateReservedAhead: after a first reservation found the tenant under
// its rate, its batches take their send times from one reservation made
// ahead (one store call for 1 + rateAheadBatches batches), none shared,
// each batch's one after another; the send times kept ahead are not used
// after RateAhead, and a tenant whose reservations start later than asked
// (busy) reserves nothing ahead.
func TestRateReservedAhead(t *testing.T) {
	store := &gcraStore{}
	l := &Limits{Rates: store, Rate: 1000} // 1 ms apart
	every := time.Millisecond
	now := time.UnixMilli(1_800_000_000_000)
	ctx := context.Background()
	if f, err := l.takeSlots(ctx, "t", 10, every, now); err != nil || f != now.UnixMilli() || store.calls != 1 {
		t.Fatalf("first batch: +%d ms, %v, %d calls", f-now.UnixMilli(), err, store.calls)
	}
	store.calls = 0
	now = now.Add(10 * time.Millisecond)
	var firsts []int64
	for range 1 + rateAheadBatches {
		f, err := l.takeSlots(ctx, "t", 10, every, now)
		if err != nil {
			t.Fatal(err)
		}
		firsts = append(firsts, f)
	}
	if store.calls != 1 {
		t.Errorf("%d reservations for %d batches, want 1", store.calls, 1+rateAheadBatches)
	}
	for i, f := range firsts {
		if want := now.UnixMilli() + int64(i)*10; f != want {
			t.Fatalf("batch %d starts at +%d ms, want +%d: %v", i, f-now.UnixMilli(), want-now.UnixMilli(), firsts)
		}
	}
	// Used up: the next batch reserves again (after them in the store).
	if f, _ := l.takeSlots(ctx, "t", 10, every, now); store.calls != 2 || f != now.UnixMilli()+90 {
		t.Errorf("after the stock: %d calls, first +%d ms; want 2, +90", store.calls, f-now.UnixMilli())
	}
	// Kept for RateAhead only.
	later := now.Add(l.rateAhead())
	if _, err := l.takeSlots(ctx, "t", 10, every, later); err != nil || store.calls != 3 {
		t.Errorf("after RateAhead: %d calls, want 3 (%v)", store.calls, err)
	}

	// A busy tenant: its slots start later than now; nothing is reserved
	// ahead after that, each batch reserves its own.
	busy := &gcraStore{tat: map[string]int64{"b": now.Add(500 * time.Millisecond).UnixMicro()}}
	lb := &Limits{Rates: busy, Rate: 1000}
	for i := range 4 {
		f, err := lb.takeSlots(ctx, "b", 10, every, now)
		if err != nil {
			t.Fatal(err)
		}
		if want := now.Add(500*time.Millisecond).UnixMilli() + int64(i)*10; f != want {
			t.Fatalf("busy batch %d starts at %d, want %d", i, f, want)
		}
	}
	if busy.calls != 4 {
		t.Errorf("busy tenant: %d reservations for 4 batches, want 4", busy.calls)
	}
	if got := busy.tat["b"]; got != now.Add(540*time.Millisecond).UnixMicro() {
		t.Errorf("busy tenant's next send time +%d µs, want +540 ms (nothing held ahead)", got-now.UnixMicro())
	}
}

// TestRateAheadEarlierClock: a batch that read the clock before the batch
// that made the stock (concurrent batches queue for the stock after they
// read it) takes its send times from the stock, not from a reservation of
// its own; one whose clock is RateAhead before the stock reserves.
func TestRateAheadEarlierClock(t *testing.T) {
	store := &gcraStore{}
	l := &Limits{Rates: store, Rate: 1000}
	every := time.Millisecond
	now := time.UnixMilli(1_800_000_000_000)
	ctx := context.Background()
	if _, err := l.takeSlots(ctx, "t", 10, every, now); err != nil { // finds the tenant idle
		t.Fatal(err)
	}
	if _, err := l.takeSlots(ctx, "t", 10, every, now.Add(20*time.Millisecond)); err != nil || store.calls != 2 { // makes the stock
		t.Fatalf("stock: %d calls, %v", store.calls, err)
	}
	f, err := l.takeSlots(ctx, "t", 10, every, now.Add(15*time.Millisecond))
	if err != nil || store.calls != 2 {
		t.Errorf("earlier clock: %d calls (want 2, from the stock), %v", store.calls, err)
	}
	if want := now.Add(30 * time.Millisecond).UnixMilli(); f != want {
		t.Errorf("earlier clock's batch starts at +%d ms, want +30 (after the stock maker's)", f-now.UnixMilli())
	}
	if _, err := l.takeSlots(ctx, "t", 10, every, now.Add(20*time.Millisecond-l.rateAhead())); err != nil || store.calls != 3 {
		t.Errorf("clock RateAhead before the stock: %d calls, want 3 (%v)", store.calls, err)
	}
}

// TestRateAheadHandle: the dispatcher's batches for one tenant under its
// rate, nine at once, reserve their send times once (twice on a machine so
// slow that RateAhead passed), and every delivery is sent.
func TestRateAheadHandle(t *testing.T) {
	conn := connections.Connection{ID: "conn_1", TenantID: "ten_1", URL: "https://example.com/hook", Enabled: true,
		Secrets: []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
	store := &gcraStore{}
	d := New(newStore(conn), fakeSender{delivery.Result{Outcome: connections.OutcomeSuccess, Status: 200}}, &fakeQueue{}, "q")
	d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	metricsOut = func([]byte) {}
	d.Limits = &Limits{Rates: store, Rate: 100_000}
	// The first batch finds the tenant under its rate.
	if out, err := d.Handle(t.Context(), tenTasks(t, conn)); err != nil || len(out.BatchItemFailures) != 0 || store.calls != 1 {
		t.Fatalf("first batch: %v, %v, %d reservations", out.BatchItemFailures, err, store.calls)
	}
	store.calls = 0
	var wg sync.WaitGroup
	var mu sync.Mutex
	var fails []events.SQSBatchItemFailure
	for range 9 {
		wg.Go(func() {
			out, err := d.Handle(t.Context(), tenTasks(t, conn))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
			}
			fails = append(fails, out.BatchItemFailures...)
		})
	}
	wg.Wait()
	if len(fails) != 0 {
		t.Errorf("failures %v", fails)
	}
	if store.calls > 2 {
		t.Errorf("%d reservations for 9 batches at once, want 1 (2 at most)", store.calls)
	}
}
