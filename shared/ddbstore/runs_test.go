package ddbstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/ddblean"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/scheduler"
)

func testRun(id, auto, contact string, started int64) automations.Run {
	return automations.Run{ID: id, TenantID: "ten_a", AutomationID: auto, ContactID: contact, ChannelID: "ch_1",
		Status: automations.RunActive, Node: "n1", Source: automations.SourceAPI, Steps: []automations.Step{}, StartedAt: started, UpdatedAt: started, Seq: 1,
		DueRef: id + "#1"}
}

func testDue(r automations.Run) scheduler.Due {
	return scheduler.Due{Kind: automations.StepKind, TenantID: r.TenantID, Ref: fmt.Sprintf("%s#%d", r.ID, r.Seq), At: time.UnixMilli(r.StartedAt)}
}

// TestRunsStore: a run starts with its guard and its first due item in one
// write; a second active run of the same contact in the same automation is
// refused (and writes nothing) until the first ends; a save is
// conditioned on the stored Seq; both listings are newest first, paged by
// cursor, the automation's across its GSI1 shards.
func TestRunsStore(t *testing.T) {
	ctx := t.Context()
	env := emulators.ForTest(t)
	s := &ddbstore.Runs{API: ddblean.New(env.DDB), OpsTable: env.OpsTable}
	due := &ddbstore.DueStore{API: ddblean.New(env.DDB), OpsTable: env.OpsTable}
	base := time.Now().Add(-time.Minute).UnixMilli()

	r := testRun(fmt.Sprintf("run_%013dfirst000", base), "aut_1", "c1", base)
	if err := s.StartRun(ctx, r, testDue(r)); err != nil {
		t.Fatal(err)
	}
	items, _, err := due.DueIn(ctx, time.UnixMilli(base).UTC().Truncate(time.Minute), time.Now(), 10)
	if err != nil || len(items) != 1 || items[0].Ref != r.ID+"#1" {
		t.Fatalf("first due item: %v %+v", err, items)
	}
	again := testRun(fmt.Sprintf("run_%013dsecond00", base+1), "aut_1", "c1", base+1)
	if err := s.StartRun(ctx, again, testDue(again)); !apperr.Is(err, apperr.KindExists) {
		t.Fatalf("second active run: %v", err)
	}
	if _, err := s.GetRun(ctx, "ten_a", "ch_1", "c1", again.ID); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("the refused run was written: %v", err)
	}
	// Another automation, or another channel's contact with the same ID,
	// is another guard.
	other := testRun(fmt.Sprintf("run_%013dother000", base+2), "aut_2", "c1", base+2)
	if err := s.StartRun(ctx, other, testDue(other)); err != nil {
		t.Fatal(err)
	}

	// A step: conditioned on the stored Seq.
	next := r
	next.Seq, next.Node = 2, "n2"
	next.Steps = []automations.Step{{Node: "n1", Type: automations.NodeAddTag, Outcome: "ok", Attempt: 1, At: base}}
	if err := s.SaveRun(ctx, r, next, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRun(ctx, r, next, nil, nil); !apperr.Is(err, apperr.KindConflict) {
		t.Fatalf("a save from a stale run: %v", err)
	}
	// The end removes the guard: the contact may be enrolled again.
	end := next
	end.Seq, end.Status, end.Node, end.EndedAt = 3, automations.RunCompleted, "", base+5
	if err := s.SaveRun(ctx, next, end, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, "ten_a", "ch_1", "c1", r.ID)
	if err != nil || got.Status != automations.RunCompleted || got.Seq != 3 || len(got.Steps) != 1 || got.Steps[0].Type != automations.NodeAddTag {
		t.Fatalf("read back: %v %+v", err, got)
	}
	if err := s.SaveRun(ctx, end, func() automations.Run { x := end; x.Seq = 4; return x }(), nil, nil); !apperr.Is(err, apperr.KindConflict) {
		t.Fatalf("a save of an ended run: %v", err)
	}
	if err := s.StartRun(ctx, again, testDue(again)); err != nil {
		t.Fatalf("enrolled again after the end: %v", err)
	}

	// Listings: 25 more runs of aut_1 (other contacts), newest first.
	want := []string{again.ID}
	for i := range 25 {
		x := testRun(fmt.Sprintf("run_%013dx%07d", base+10+int64(i), i), "aut_1", fmt.Sprintf("k%d", i), base+10+int64(i))
		if err := s.StartRun(ctx, x, testDue(x)); err != nil {
			t.Fatal(err)
		}
		want = append([]string{x.ID}, want...)
	}
	want = append(want, r.ID)
	var listed []string
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := s.AutomationRuns(ctx, "ten_a", "aut_1", 10, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range p.Runs {
			listed = append(listed, x.ID)
		}
		if p.Next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("no end")
		}
		cursor = p.Next
	}
	if fmt.Sprint(listed) != fmt.Sprint(want) {
		t.Fatalf("automation's runs:\n got %v\nwant %v", listed, want)
	}
	p, err := s.ContactRuns(ctx, "ten_a", "ch_1", "c1", 2, "")
	if err != nil || len(p.Runs) != 2 || p.Runs[0].ID != other.ID || p.Runs[1].ID != again.ID || p.Next == "" {
		t.Fatalf("contact's runs, first page: %v %+v", err, p)
	}
	p, err = s.ContactRuns(ctx, "ten_a", "ch_1", "c1", 2, p.Next)
	if err != nil || len(p.Runs) != 1 || p.Runs[0].ID != r.ID || p.Next != "" {
		t.Fatalf("contact's runs, second page: %v %+v", err, p)
	}
	if _, err := s.ContactRuns(ctx, "ten_a", "ch_1", "c1", 2, "bogus"); !apperr.Is(err, apperr.KindInvalid) {
		t.Fatalf("a bad cursor: %v", err)
	}
	if p, err := s.ContactRuns(ctx, "ten_b", "ch_1", "c1", 10, ""); err != nil || len(p.Runs) != 0 {
		t.Fatalf("another tenant: %v %+v", err, p)
	}
}
