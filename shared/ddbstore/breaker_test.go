package ddbstore_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// updateCounter is the emulator's client, counting UpdateItem calls.
type updateCounter struct {
	*dynamodb.Client
	updates int
}

func (c *updateCounter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.updates++
	return c.Client.UpdateItem(ctx, in, opts...)
}

// TestReserveDeliveriesOneCallWhenBusy: a tenant's delivery rate takes one
// UpdateItem per reservation, idle or busy, when the store made the last
// reservation; slots stay one after another, and another store's
// reservations (another dispatcher) are counted in.
func TestReserveDeliveriesOneCallWhenBusy(t *testing.T) {
	env := emulators.ForTest(t)
	api := &updateCounter{Client: env.DDB}
	s := &ddbstore.Connections{API: api, Table: env.Table, OpsTable: env.OpsTable}
	other := &ddbstore.Connections{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	every := 10 * time.Millisecond
	reserve := func(s *ddbstore.Connections, n int, at time.Time) int64 {
		t.Helper()
		first, err := s.ReserveDeliveries(ctx, "t", n, every, at)
		if err != nil {
			t.Fatal(err)
		}
		return first
	}
	// Idle: from now, one call.
	if got := reserve(s, 10, now); got != now.UnixMilli() || api.updates != 1 {
		t.Fatalf("idle: first slot %d (want %d), %d calls (want 1)", got, now.UnixMilli(), api.updates)
	}
	// Busy: after the 10 slots taken, one call each.
	want := now.UnixMilli() + 100
	for i := range 5 {
		api.updates = 0
		if got := reserve(s, 10, now.Add(time.Duration(i)*time.Millisecond)); got != want || api.updates != 1 {
			t.Fatalf("busy %d: first slot %d (want %d), %d calls (want 1)", i, got, want, api.updates)
		}
		want += 100
	}
	// Another dispatcher's reservation is counted in.
	if got := reserve(other, 10, now); got != want {
		t.Fatalf("other store: first slot %d, want %d", got, want)
	}
	want += 100
	api.updates = 0
	if got := reserve(s, 1, now); got != want || api.updates != 1 {
		t.Fatalf("after another store: first slot %d (want %d), %d calls", got, want, api.updates)
	}
	// Idle again, long after: from then.
	later := now.Add(time.Hour)
	api.updates = 0
	if got := reserve(s, 1, later); got != later.UnixMilli() || api.updates != 1 {
		t.Fatalf("idle again: first slot %d (want %d), %d calls", got, later.UnixMilli(), api.updates)
	}
}

// slowUpdates is the emulator's client, its UpdateItem calls counted and
// slowed down.
type slowUpdates struct {
	*dynamodb.Client
	mu      sync.Mutex
	updates int
}

func (c *slowUpdates) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.mu.Lock()
	c.updates++
	c.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	return c.Client.UpdateItem(ctx, in, opts...)
}

// TestReserveDeliveriesCoalesced: reservations of one tenant made while
// another is under way (a dispatcher's batches at once) are made together,
// in one UpdateItem, and every caller still gets slots of its own, one
// after another, none shared.
func TestReserveDeliveriesCoalesced(t *testing.T) {
	env := emulators.ForTest(t)
	api := &slowUpdates{Client: env.DDB}
	s := &ddbstore.Connections{API: api, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	every := 10 * time.Millisecond
	const callers = 12
	firsts := make([]int64, callers)
	var wg sync.WaitGroup
	started := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			if i > 0 {
				<-started
				time.Sleep(5 * time.Millisecond)
			}
			first, err := s.ReserveDeliveries(ctx, "t", 10, every, now)
			if err != nil {
				t.Error(err)
			}
			firsts[i] = first
		})
		if i == 0 {
			time.Sleep(5 * time.Millisecond)
			close(started)
		}
	}
	wg.Wait()
	if api.updates > 3 {
		t.Errorf("%d UpdateItem calls for %d reservations made at once, want the later ones made together", api.updates, callers)
	}
	slices.Sort(firsts)
	for i, f := range firsts {
		if want := now.UnixMilli() + int64(i)*100; f != want {
			t.Fatalf("reservation %d starts at +%d ms, want +%d (10 slots of 10 ms each, none shared): %v", i, f-now.UnixMilli(), want-now.UnixMilli(), firsts)
		}
	}
	// Another tenant is not held up by this one's.
	other, err := s.ReserveDeliveries(ctx, "t2", 1, every, now)
	if err != nil || other != now.UnixMilli() {
		t.Errorf("other tenant: %d, %v", other, err)
	}
}
