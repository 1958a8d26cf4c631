package ddbstore_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// Contacts created before the contact counter are counted by the
// backfill, once each however often and however concurrently it runs;
// afterwards the limit holds for them and their deletes make room.
func TestBackfillContactCounts(t *testing.T) {
	s, env := newContacts(t)
	ctx := t.Context()
	s.MaxContacts = 6
	for i := range 5 { // as versions before the counter wrote them
		c := mk("old", "ch", fmt.Sprint("o", i), 1, map[string]string{"email": fmt.Sprintf("o%d@example.com", i)}, nil)
		if err := ddbstore.CreateUnsharded(ctx, env.DDB, env.Table, env.OpsTable, c); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, mk("old", "", "acct", 1, nil, nil), mk("old", "ch", "n0", 1, nil, nil))
	if n, _ := s.ContactCount(ctx, "old"); n != 2 {
		t.Fatalf("count before the backfill %d, want 2 (the old contacts are not counted)", n)
	}

	st, err := s.BackfillContactCounts(ctx, nil)
	if err != nil || st.Counted != 5 {
		t.Fatalf("backfill: %+v %v; want 5 counted", st, err)
	}
	if n, _ := s.ContactCount(ctx, "old"); n != 7 {
		t.Fatalf("count after the backfill %d, want 7", n)
	}
	// Over its limit: refused.
	if err := s.CreateContact(ctx, mk("old", "ch", "n1", 1, nil, nil)); !apperr.Is(err, apperr.KindRejected) {
		t.Fatalf("create with 7 of 6: %v, want the limit", err)
	}
	// Again: nothing more counted.
	if st, err := s.BackfillContactCounts(ctx, nil); err != nil || st.Counted != 0 {
		t.Fatalf("second backfill: %+v %v; want nothing counted", st, err)
	}
	// An old contact, now counted, is updated, then deleted twice over:
	// each delete takes itself off.
	o0, err := s.GetContact(ctx, "old", "ch", "o0")
	if err != nil || o0.CountShard == 0 || o0.Version != 2 {
		t.Fatalf("backfilled contact %+v %v; want its shard recorded, version 2", o0, err)
	}
	o0n := next(o0, func(c *contacts.Contact) { c.Fields = map[string]string{"email": "new@example.com"} })
	if err := s.UpdateContact(ctx, o0, o0n); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"o0", "o1"} {
		c, err := s.GetContact(ctx, "old", "ch", id)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteContact(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.ContactCount(ctx, "old"); n != 5 {
		t.Fatalf("count after two deletes %d, want 5", n)
	}
	mustCreate(t, s, mk("old", "ch", "n1", 1, nil, nil))

	// Concurrent runs count each contact once.
	for i := range 30 {
		if err := ddbstore.CreateUnsharded(ctx, env.DDB, env.Table, env.OpsTable, mk("many", "ch", fmt.Sprint("m", i), 1, nil, nil)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 3 {
		wg.Go(func() {
			st, err := s.BackfillContactCounts(ctx, nil)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += st.Counted
			mu.Unlock()
		})
	}
	wg.Wait()
	if n, _ := s.ContactCount(ctx, "many"); n != 30 || total != 30 {
		t.Fatalf("three concurrent runs: count %d, %d counted; want 30", n, total)
	}

	// The Once form runs to its marker, then not again.
	if ran, _, err := s.BackfillContactCountsOnce(ctx, nil); !ran || err != nil {
		t.Fatalf("first Once: ran %v, %v", ran, err)
	}
	if ran, _, err := s.BackfillContactCountsOnce(ctx, nil); ran || err != nil {
		t.Fatalf("second Once: ran %v, %v; want skipped", ran, err)
	}
}
