package ddbstore_test

import (
	"testing"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/ddblean"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// TestAutomationsStore: create (once per ID), read back whole, list per
// tenant oldest first, replace conditioned on the version, delete; another
// tenant sees none of it.
func TestAutomationsStore(t *testing.T) {
	ctx := t.Context()
	env := emulators.ForTest(t)
	s := &ddbstore.Automations{API: ddblean.New(env.DDB), Table: env.Table}

	a := automations.Automation{
		ID: "aut_1", TenantID: "ten_a", Name: "Welcome", On: true, CreatedAt: 100, UpdatedAt: 100, Version: 1,
		Nodes: []automations.Node{
			{ID: "n1", Type: automations.NodeSendMessage, ChannelID: "ch_1", Template: &automations.TemplateRef{Name: "hello", Language: "en", Params: []string{"a", "b"}}},
			{ID: "n2", Type: automations.NodeWait, Seconds: 60},
			{ID: "n3", Type: automations.NodeCondition, Field: "email", Op: automations.OpIsSet, Then: "n4"},
			{ID: "n4", Type: automations.NodeAddTag, Tag: "welcomed"},
		},
		Triggers: []automations.Trigger{{Field: "email"}},
	}
	if err := s.CreateAutomation(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAutomation(ctx, a); !apperr.Is(err, apperr.KindExists) {
		t.Fatalf("second create: %v", err)
	}
	b := a
	b.ID, b.Name, b.CreatedAt, b.Nodes, b.Triggers = "aut_0", "Later", 200, []automations.Node{{ID: "n1", Type: automations.NodeRemoveTag, Tag: "x"}}, []automations.Trigger{}
	if err := s.CreateAutomation(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAutomation(ctx, "ten_a", "aut_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.TenantID != "ten_a" || len(got.Nodes) != 4 || got.Nodes[0].Template == nil || got.Nodes[0].Template.Params[1] != "b" ||
		got.Nodes[2].Then != "n4" || got.Nodes[1].Seconds != 60 || len(got.Triggers) != 1 || !got.On {
		t.Fatalf("read back: %+v", got)
	}
	if _, err := s.GetAutomation(ctx, "ten_b", "aut_1"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("another tenant: %v", err)
	}
	list, err := s.ListAutomations(ctx, "ten_a")
	if err != nil || len(list) != 2 || list[0].ID != "aut_1" || list[1].ID != "aut_0" {
		t.Fatalf("list: %v %+v", err, list)
	}
	if list, err := s.ListAutomations(ctx, "ten_b"); err != nil || len(list) != 0 {
		t.Fatalf("another tenant's list: %v %+v", err, list)
	}

	got.On, got.Version = false, 2
	if err := s.PutAutomation(ctx, got); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAutomation(ctx, got); !apperr.Is(err, apperr.KindConflict) {
		t.Fatalf("stale version: %v", err)
	}
	if got, err := s.GetAutomation(ctx, "ten_a", "aut_1"); err != nil || got.On || got.Version != 2 {
		t.Fatalf("after put: %v %+v", err, got)
	}
	if err := s.DeleteAutomation(ctx, "ten_a", "aut_1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAutomation(ctx, "ten_a", "aut_1"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	got.Version = 3
	if err := s.PutAutomation(ctx, got); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("put after delete: %v", err)
	}
}
