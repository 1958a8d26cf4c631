package ddbstore_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/ddblean"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/templates"
)

func newTemplates(t *testing.T) *templates.Service {
	t.Helper()
	env := emulators.ForTest(t)
	n := 0
	var mu sync.Mutex
	return &templates.Service{
		// The lean client, as the functions have it.
		Store:     &ddbstore.Templates{API: ddblean.New(env.DDB), Table: env.Table},
		Submitter: templates.LocalOnly{},
		NewID: func() string {
			mu.Lock()
			defer mu.Unlock()
			n++
			return "tpl_" + strings.Repeat("q", n)
		},
		Now: func() time.Time { return time.Unix(1_700_000_000, 0) },
	}
}

func tplInput(name, lang, text string) templates.Input {
	cat := "UTILITY"
	ns := "namespace_of_template"
	comps := []templates.Component{{Type: "BODY", Text: text, Example: nil}, {Type: "BUTTONS", Buttons: []templates.Button{{Type: "QUICK_REPLY", Text: "Stop"}}}}
	return templates.Input{Name: &name, Language: &lang, Category: &cat, Namespace: &ns, Components: &comps}
}

// TestTemplatesCRUD: the registry on DynamoDB: create (unique per name and
// language on a channel), read by ID, list by status, edit, status
// updates, lookup by name and language, delete (the name is free again).
func TestTemplatesCRUD(t *testing.T) {
	ctx := t.Context()
	s := newTemplates(t)
	a, err := s.Create(ctx, "ten_a", "ch_1", tplInput("order_update", "en", "Hi {{1}}, order {{2}} ships."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "ten_a", "ch_1", tplInput("order_update", "en", "again")); !apperr.Is(err, apperr.KindExists) {
		t.Fatalf("duplicate: %v", err)
	}
	b, err := s.Create(ctx, "ten_a", "ch_1", tplInput("order_update", "pt_BR", "Olá {{1}}"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "ten_a", "ch_2", tplInput("order_update", "en", "other channel")); err != nil {
		t.Fatalf("the same name on another channel: %v", err)
	}
	if _, err := s.Create(ctx, "ten_b", "ch_1", tplInput("order_update", "en", "other tenant")); err != nil {
		t.Fatalf("the same name in another tenant: %v", err)
	}
	got, err := s.Get(ctx, "ten_a", "ch_1", a.ID)
	if err != nil || got.Name != "order_update" || got.BodyParams != 2 || len(got.Components) != 2 ||
		got.Components[1].Buttons[0].Text != "Stop" || got.Status != templates.StatusPending || got.Namespace != "namespace_of_template" {
		t.Fatalf("get: %+v %v", got, err)
	}
	for _, c := range []struct{ tenant, channel, id string }{{"ten_b", "ch_1", a.ID}, {"ten_a", "ch_2", a.ID}, {"ten_a", "ch_1", "tpl_nope"}} {
		if _, err := s.Get(ctx, c.tenant, c.channel, c.id); !apperr.Is(err, apperr.KindNotFound) || err.Error() != `Template "`+c.id+`" not found.` {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if err := s.SetStatus(ctx, "ten_a", "ch_1", "order_update", "en", templates.StatusApproved, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(ctx, "ten_a", "ch_1", "order_update", "pt_BR", templates.StatusRejected, "TAG_CONTENT_MISMATCH"); err != nil {
		t.Fatal(err)
	}
	all, err := s.List(ctx, "ten_a", "ch_1", "")
	if err != nil || len(all) != 2 || all[0].Language != "en" || all[1].Language != "pt_BR" {
		t.Fatalf("list: %+v %v", all, err)
	}
	approved, _ := s.List(ctx, "ten_a", "ch_1", templates.StatusApproved)
	rejected, _ := s.List(ctx, "ten_a", "ch_1", templates.StatusRejected)
	pending, _ := s.List(ctx, "ten_a", "ch_1", templates.StatusPending)
	if len(approved) != 1 || approved[0].ID != a.ID || len(rejected) != 1 || rejected[0].Reason != "TAG_CONTENT_MISMATCH" || len(pending) != 0 {
		t.Fatalf("by status: %v / %v / %v", approved, rejected, pending)
	}
	tpl, err := s.Resolve(ctx, "ten_a", "ch_1", "order_update", "namespace_of_template", "en", []string{"Ana", "A-1"})
	if err != nil || tpl.ID != a.ID {
		t.Fatalf("resolve: %v", err)
	}
	if _, err := s.Lookup(ctx, "ten_a", "ch_1", "order_update", "", "pt_BR"); !apperr.Is(err, apperr.KindRejected) {
		t.Fatalf("rejected lookup: %v", err)
	}
	comps := []templates.Component{{Type: "BODY", Text: "Olá {{1}}, {{2}}"}}
	edited, err := s.Update(ctx, "ten_a", "ch_1", b.ID, templates.Input{Components: &comps})
	if err != nil || edited.Status != templates.StatusPending || edited.BodyParams != 2 || edited.Reason != "" {
		t.Fatalf("edit: %+v %v", edited, err)
	}
	if got, _ := s.Get(ctx, "ten_a", "ch_1", b.ID); got.Components[0].Text != "Olá {{1}}, {{2}}" || got.Version != 3 {
		t.Fatalf("stored edit: %+v", got)
	}
	if err := s.Delete(ctx, "ten_a", "ch_1", a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "ten_a", "ch_1", a.ID); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("deleted: %v", err)
	}
	if _, err := s.Lookup(ctx, "ten_a", "ch_1", "order_update", "", "en"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("deleted lookup: %v", err)
	}
	if _, err := s.Create(ctx, "ten_a", "ch_1", tplInput("order_update", "en", "back")); err != nil {
		t.Fatalf("the name is free again: %v", err)
	}
	// A name longer than any key can hold is simply not found.
	if _, err := s.Lookup(ctx, "ten_a", "ch_1", strings.Repeat("a", 600), "", "en"); !apperr.Is(err, apperr.KindInvalid) {
		t.Fatalf("long name: %v", err)
	}
}

// TestTemplateConcurrentStatus: concurrent status updates and edits all
// land (optimistic versions, retried), none lost to another's write.
func TestTemplateConcurrentStatus(t *testing.T) {
	ctx := t.Context()
	s := newTemplates(t)
	var ids []string
	for _, name := range []string{"a1", "a2", "a3", "a4"} {
		tpl, err := s.Create(ctx, "ten_a", "ch_1", tplInput(name, "en", "Hi"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tpl.ID)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for _, name := range []string{"a1", "a2", "a3", "a4"} {
		for range 2 {
			wg.Go(func() { errs <- s.SetStatus(ctx, "ten_a", "ch_1", name, "en", templates.StatusApproved, "") })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	approved, _ := s.List(ctx, "ten_a", "ch_1", templates.StatusApproved)
	if len(approved) != 4 {
		t.Fatalf("%d approved", len(approved))
	}
	for _, tpl := range approved {
		if tpl.Version != 3 {
			t.Errorf("%s version %d, want 3 (create + two status writes)", tpl.Name, tpl.Version)
		}
	}
}
