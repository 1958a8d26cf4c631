package ddbstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/ddblean"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// TestStepReads: Load reads a step's run, automation and contact at once,
// as the stores read them one by one; what is not there is nil: a run or
// automation missing, a contact deleted, and a channel's contact still
// under its old key (the engine then reads it the usual way).
func TestStepReads(t *testing.T) {
	ctx := t.Context()
	s, env := newContacts(t)
	api := ddblean.New(env.DDB)
	runs := &ddbstore.Runs{API: api, OpsTable: env.OpsTable}
	autos := &ddbstore.Automations{API: api, Table: env.Table}
	reads := &ddbstore.StepReads{API: api, Table: env.Table, OpsTable: env.OpsTable}

	c := mk("ten_a", "ch_1", "c1", 1, map[string]string{"email": "a@example.com"}, map[string]string{"1": "x"})
	acct := mk("ten_a", "", "c2", 2, map[string]string{"firstName": "Ann"}, nil)
	old := mk("ten_a", "ch_2", "c3", 3, nil, nil)
	mustCreate(t, s, c, acct, old)
	toLegacy(t, env, old)
	a := automations.Automation{ID: "aut_1", TenantID: "ten_a", Name: "a", On: true, Version: 3, Triggers: []automations.Trigger{},
		Nodes: []automations.Node{{ID: "n1", Type: automations.NodeAddTag, Tag: "t"}}}
	if err := autos.CreateAutomation(ctx, a); err != nil {
		t.Fatal(err)
	}
	base := time.Now().UnixMilli()
	r := testRun(fmt.Sprintf("run_%013dstepread", base), "aut_1", "c1", base)
	if err := runs.StartRun(ctx, r, testDue(r)); err != nil {
		t.Fatal(err)
	}

	gr, ga, gc, err := reads.Load(ctx, "ten_a", "ch_1", "c1", r.ID, "aut_1")
	if err != nil || gr == nil || ga == nil || gc == nil {
		t.Fatalf("load: %v %v %v %v", gr, ga, gc, err)
	}
	wantR, _ := runs.GetRun(ctx, "ten_a", "ch_1", "c1", r.ID)
	wantA, _ := autos.GetAutomation(ctx, "ten_a", "aut_1")
	wantC, _ := s.GetContact(ctx, "ten_a", "ch_1", "c1")
	if fmt.Sprint(*gr) != fmt.Sprint(wantR) || fmt.Sprint(*ga) != fmt.Sprint(wantA) || fmt.Sprint(*gc) != fmt.Sprint(wantC) {
		t.Errorf("load read\n %+v\n %+v\n %+v\nwant\n %+v\n %+v\n %+v", *gr, *ga, *gc, wantR, wantA, wantC)
	}
	// An account contact, no such run, no such automation.
	gr, ga, gc, err = reads.Load(ctx, "ten_a", "", "c2", "run_none", "aut_none")
	if err != nil || gr != nil || ga != nil || gc == nil || gc.ID != "c2" || gc.Fields["firstName"] != "Ann" {
		t.Errorf("account contact: %v %v %+v %v", gr, ga, gc, err)
	}
	// A channel's contact under the old key is not read here; nor is it
	// the account contact of that ID.
	if _, _, gc, err = reads.Load(ctx, "ten_a", "ch_2", "c3", r.ID, "aut_1"); err != nil || gc != nil {
		t.Errorf("old key, its channel: %+v %v", gc, err)
	}
	if _, _, gc, err = reads.Load(ctx, "ten_a", "", "c3", r.ID, "aut_1"); err != nil || gc != nil {
		t.Errorf("old key, as an account contact: %+v %v", gc, err)
	}
	// Another tenant's keys find nothing.
	if gr, ga, gc, err = reads.Load(ctx, "ten_b", "ch_1", "c1", r.ID, "aut_1"); err != nil || gr != nil || ga != nil || gc != nil {
		t.Errorf("another tenant: %v %v %v %v", gr, ga, gc, err)
	}
	// A deleted contact.
	if err := s.DeleteContact(ctx, wantC); err != nil {
		t.Fatal(err)
	}
	if _, _, gc, err = reads.Load(ctx, "ten_a", "ch_1", "c1", r.ID, "aut_1"); err != nil || gc != nil {
		t.Errorf("deleted contact: %+v %v", gc, err)
	}
}
