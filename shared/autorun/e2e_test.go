package autorun_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/autorun"
	"github.com/startmsg/chatbackend/shared/contacts"
)

func TestMain(m *testing.M) { emulators.Main(m) }

// fixture is a stack with its pipeline (the ticker releasing due items to
// the engine, IAM-audited), a tenant with an SMS channel, and a contact.
type fixture struct {
	t       *testing.T
	s       *stacktest.Stack
	tn      stacktest.Tenant
	contact string
}

func newFixture(t *testing.T) *fixture {
	s := stacktest.New(t)
	s.Pipeline()
	tn := s.NewTenant("Acme", "sms")
	f := &fixture{t: t, s: s, tn: tn}
	f.contact = f.newContact("+923001234567")
	return f
}

func (f *fixture) newContact(number string) string {
	f.t.Helper()
	res := f.actions(fmt.Sprintf(`[{"type":"NEW","Number":%q,"Fname":"Ann"}]`, number))
	if res[0]["status"] != "success" {
		f.t.Fatalf("NEW: %v", res)
	}
	return fmt.Sprintf("%.0f", res[0]["idContact"].(float64))
}

func (f *fixture) actions(body string) []map[string]any {
	f.t.Helper()
	r := f.s.Do("POST", "/v1/actions", f.tn.Secret, body)
	if r.Status != http.StatusOK {
		f.t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	var out []map[string]any
	for _, v := range r.JSON["data"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func (f *fixture) automation(id string, on bool, nodes ...automations.Node) automations.Automation {
	f.t.Helper()
	for i := range nodes {
		if nodes[i].ID == "" {
			nodes[i].ID = fmt.Sprintf("n%d", i+1)
		}
	}
	now := f.s.Clock.Now().Unix()
	a := automations.Automation{ID: id, TenantID: f.tn.ID, Name: id, On: on, Nodes: nodes, Triggers: []automations.Trigger{},
		CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := f.s.Deps.Automations().CreateAutomation(f.t.Context(), a); err != nil {
		f.t.Fatal(err)
	}
	return a
}

// enroll enrolls the contact through POST /v1/actions and answers the run.
func (f *fixture) enroll(contact, auto string) string {
	f.t.Helper()
	res := f.actions(fmt.Sprintf(`[{"idContact":%s,"idAuto":%q}]`, contact, auto))
	if res[0]["status"] != "success" || res[0]["idRun"] == nil {
		f.t.Fatalf("enroll: %v", res)
	}
	return res[0]["idRun"].(string)
}

func (f *fixture) run(contact, id string) automations.Run {
	f.t.Helper()
	r, err := f.s.Deps.Runs().GetRun(f.t.Context(), f.tn.ID, "", contact, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// waitRun polls the run until ok.
func (f *fixture) waitRun(contact, id, what string, ok func(automations.Run) bool) automations.Run {
	f.t.Helper()
	for end := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r := f.run(contact, id)
		if ok(r) {
			return r
		}
		if time.Now().After(end) {
			f.t.Fatalf("timed out waiting for %s: %s %d steps, %s", what, r.Status, len(r.Steps), r.Error)
		}
	}
}

func (f *fixture) contactOf(id string) contacts.Contact {
	f.t.Helper()
	c, err := f.s.Deps.ContactStore().GetContact(f.t.Context(), f.tn.ID, "", id)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func outcomes(r automations.Run) string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, fmt.Sprintf("%s:%s:%s", s.Node, s.Type, s.Outcome))
	}
	return strings.Join(out, " ")
}

// TestRunCompletes: a contact enrolled by POST /v1/actions goes node by
// node: a tag added, a message queued on the SMS channel, a wait on the
// scheduler (the run waits until the clock passes it), a field set, a
// condition on that field, a tag removed; the run completes with every
// step recorded once.
func TestRunCompletes(t *testing.T) {
	f := newFixture(t)
	f.automation("aut_welcome", true,
		automations.Node{Type: automations.NodeAddTag, Tag: "vip"},
		automations.Node{Type: automations.NodeSendMessage, ChannelID: f.tn.ChannelID, Text: "Hello, your package"},
		automations.Node{Type: automations.NodeWait, Seconds: 30},
		automations.Node{Type: automations.NodeSetField, Field: "lastName", Value: "Zed"},
		automations.Node{Type: automations.NodeCondition, Field: "lastName", Op: automations.OpEquals, Value: "zed", Then: "n7", Else: ""},
		automations.Node{Type: automations.NodeAddTag, Tag: "never"},
		automations.Node{Type: automations.NodeRemoveTag, Tag: "vip"},
	)
	id := f.enroll(f.contact, "aut_welcome")
	r := f.waitRun(f.contact, id, "the wait", func(r automations.Run) bool { return r.WaitUntil != 0 })
	if r.Status != automations.RunActive || outcomes(r) != "n1:add_tag:ok n2:send_message:ok n3:wait:ok" || r.Node != "n4" {
		t.Fatalf("before the wait ends: %+v", r)
	}
	if c := f.contactOf(f.contact); !slices.Contains(c.Tags, "vip") {
		t.Fatalf("tag not added: %+v", c)
	}
	m, err := f.s.Deps.Messages().GetMessage(t.Context(), f.tn.ID, r.Steps[1].Detail)
	if err != nil || m.Text == nil || m.Text.Body != "Hello, your package" || m.To != "+923001234567" || m.ChannelID != f.tn.ChannelID {
		t.Fatalf("message: %v %+v", err, m)
	}
	time.Sleep(600 * time.Millisecond) // ticks: the run does not go on before its time
	if r2 := f.run(f.contact, id); r2.Seq != r.Seq {
		t.Fatalf("went on before the wait ended: %+v", r2)
	}
	f.s.Clock.Add(31 * time.Second)
	r = f.waitRun(f.contact, id, "the end", func(r automations.Run) bool { return !r.Active() })
	if r.Status != automations.RunCompleted || r.EndedAt == 0 || r.Error != "" ||
		outcomes(r) != "n1:add_tag:ok n2:send_message:ok n3:wait:ok n4:set_field:ok n5:condition:ok n7:remove_tag:ok" {
		t.Fatalf("completed run: %s %+v", outcomes(r), r)
	}
	if r.Steps[4].Detail != "then → n7" {
		t.Fatalf("condition's detail: %q", r.Steps[4].Detail)
	}
	c := f.contactOf(f.contact)
	if slices.Contains(c.Tags, "vip") || slices.Contains(c.Tags, "never") || c.Fields["lastName"] != "Zed" {
		t.Fatalf("contact after the run: %+v", c)
	}
	// Ended: the contact may be enrolled again.
	// (The test's clock stands still: a millisecond between the runs
	// orders them as time would.)
	f.s.Clock.Add(time.Millisecond)
	second := f.enroll(f.contact, "aut_welcome")
	other := f.newContact("+923001234568")
	f.s.Clock.Add(time.Millisecond)
	third := f.enroll(other, "aut_welcome")

	// The runs API (account secret): newest first, with the steps, paged.
	get := func(path string) stacktest.Response {
		t.Helper()
		r := f.s.Do("GET", path, f.tn.Secret, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		return r
	}
	ids := func(r stacktest.Response) []string {
		var out []string
		for _, x := range r.JSON["data"].([]any) {
			out = append(out, x.(map[string]any)["id"].(string))
		}
		return out
	}
	r1 := get("/v1/contact/" + f.contact + "/runs")
	if fmt.Sprint(ids(r1)) != fmt.Sprint([]string{second, id}) || stacktest.Path(r1.JSON, "links.next") != nil {
		t.Fatalf("contact's runs: %s", r1.Body)
	}
	done := r1.JSON["data"].([]any)[1].(map[string]any)
	if done["status"] != "completed" || len(done["steps"].([]any)) != 6 || done["automation_id"] != "aut_welcome" || done["source"] != "api" {
		t.Fatalf("a listed run: %v", done)
	}
	var listed []string
	page := get("/v1/automations/aut_welcome/runs?limit=2")
	listed = append(listed, ids(page)...)
	next, _ := stacktest.Path(page.JSON, "links.next").(string)
	if next == "" {
		t.Fatalf("no next page: %s", page.Body)
	}
	page = get(strings.TrimPrefix(next, f.s.URL))
	listed = append(listed, ids(page)...)
	if fmt.Sprint(listed) != fmt.Sprint([]string{third, second, id}) || stacktest.Path(page.JSON, "links.next") != nil {
		t.Fatalf("automation's runs: %v %s", listed, page.Body)
	}
	for path, status := range map[string]int{
		"/v1/automations/nope/runs":                   http.StatusNotFound,
		"/v1/contact/123456789012345/runs":            http.StatusNotFound,
		"/v1/automations/aut_welcome/runs?limit=0":    http.StatusBadRequest,
		"/v1/automations/aut_welcome/runs?cursor=xyz": http.StatusBadRequest,
	} {
		if r := f.s.Do("GET", path, f.tn.Secret, nil); r.Status != status || r.JSON["status"] != "error" {
			t.Errorf("GET %s: %d %s, want %d", path, r.Status, r.Body, status)
		}
	}
	if r := f.s.Do("GET", "/v1/automations/aut_welcome/runs", "Bearer "+f.tn.Token, nil); r.Status != http.StatusForbidden {
		t.Errorf("a channel token on the runs API: %d %s", r.Status, r.Body)
	}
}

// TestEnrollRules: the per-item errors of seed 003's "Add to automation"
// (unknown, off or empty automation; unknown contact; references
// missing), nothing enrolled by them; a second enrollment while a run is
// active is refused, also within one request.
func TestEnrollRules(t *testing.T) {
	f := newFixture(t)
	f.automation("long", true, automations.Node{Type: automations.NodeWait, Seconds: 3600})
	f.automation("off", false, automations.Node{Type: automations.NodeAddTag, Tag: "x"})
	f.automation("empty", true)
	res := f.actions(fmt.Sprintf(`[
		{"idContact":%[1]s,"idAuto":"nope"},
		{"idContact":123456789012345,"idAuto":"long"},
		{"idContact":%[1]s,"idAuto":"off"},
		{"idContact":%[1]s,"idAuto":"empty"},
		{"idAuto":"long"},
		{"idContact":%[1]s,"idAuto":"long"},
		{"idContact":%[1]s,"idAuto":"long"},
		{"idContact":%[1]s,"idAuto":10}
	]`, f.contact))
	want := []struct{ status, contains string }{
		{"error", `Automation "nope" not found`}, {"error", `Contact "123456789012345" not found`},
		{"error", `"off" is switched off`}, {"error", `"empty" has no nodes`}, {"error", "idContact: is required"},
		{"success", ""}, {"error", "already has an active run"}, {"error", `Automation "10" not found`},
	}
	for i, w := range want {
		if res[i]["status"] != w.status || !strings.Contains(fmt.Sprint(res[i]["message"]), w.contains) {
			t.Errorf("item %d: %v, want %s %q", i, res[i], w.status, w.contains)
		}
	}
	p, err := f.s.Deps.Runs().ContactRuns(t.Context(), f.tn.ID, "", f.contact, 10, "")
	if err != nil || len(p.Runs) != 1 || p.Runs[0].AutomationID != "long" {
		t.Fatalf("runs: %v %+v", err, p)
	}
	// The references (automations.CheckRefs, as wired): a node naming a
	// channel that is gone is the item's error, nothing enrolled.
	f.automation("refs", true, automations.Node{Type: automations.NodeSendMessage, ChannelID: "ch_gone", Text: "hi"})
	if res := f.actions(`[{"idContact":` + f.contact + `,"idAuto":"refs"}]`); res[0]["status"] != "error" || !strings.Contains(res[0]["message"].(string), `"ch_gone"`) {
		t.Fatalf("refs missing: %v", res)
	}
	if p, _ := f.s.Deps.Runs().ContactRuns(t.Context(), f.tn.ID, "", f.contact, 10, ""); len(p.Runs) != 1 {
		t.Fatalf("enrolled despite missing references: %+v", p)
	}
}

// TestSwitchedOffStops: an automation switched off stops its runs at their
// next step, which is not executed.
func TestSwitchedOffStops(t *testing.T) {
	f := newFixture(t)
	a := f.automation("a", true, automations.Node{Type: automations.NodeWait, Seconds: 60}, automations.Node{Type: automations.NodeAddTag, Tag: "late"})
	id := f.enroll(f.contact, "a")
	f.waitRun(f.contact, id, "the wait", func(r automations.Run) bool { return r.WaitUntil != 0 })
	a.On, a.Version = false, 2
	if err := f.s.Deps.Automations().PutAutomation(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	f.s.Clock.Add(61 * time.Second)
	r := f.waitRun(f.contact, id, "the stop", func(r automations.Run) bool { return !r.Active() })
	if r.Status != automations.RunStopped || !strings.Contains(r.Error, "switched off") || outcomes(r) != "n1:wait:ok" {
		t.Fatalf("stopped run: %+v", r)
	}
	if c := f.contactOf(f.contact); slices.Contains(c.Tags, "late") {
		t.Fatalf("the step after the stop ran: %+v", c)
	}
}

// TestFailingStepRetriesThenFails: a step that fails (a free-form
// WhatsApp message outside the 24-hour window) is tried again after its
// backoff, twice, and then ends the run failed with its error.
func TestFailingStepRetriesThenFails(t *testing.T) {
	f := newFixture(t)
	r := f.s.Admin("POST", "/admin/tenants/"+f.tn.ID+"/channels", map[string]any{"kind": "whatsapp", "name": "WA", "default_country": "PK"})
	if r.Status != http.StatusCreated {
		t.Fatalf("whatsapp channel: %d %s", r.Status, r.Body)
	}
	wa := stacktest.Path(r.JSON, "data.id").(string)
	f.automation("a", true, automations.Node{Type: automations.NodeSendMessage, ChannelID: wa, Text: "hi"}, automations.Node{Type: automations.NodeAddTag, Tag: "after"})
	id := f.enroll(f.contact, "a")
	run := f.waitRun(f.contact, id, "the first try", func(r automations.Run) bool { return len(r.Steps) == 1 })
	if outcomes(run) != "n1:send_message:retry" || !strings.Contains(run.Steps[0].Error, "24-hour") || run.Status != automations.RunActive {
		t.Fatalf("first try: %+v", run)
	}
	f.s.Clock.Add(31 * time.Second)
	run = f.waitRun(f.contact, id, "the second try", func(r automations.Run) bool { return len(r.Steps) == 2 })
	if outcomes(run) != "n1:send_message:retry n1:send_message:retry" || run.Steps[1].Attempt != 2 {
		t.Fatalf("second try: %+v", run)
	}
	f.s.Clock.Add(61 * time.Second)
	run = f.waitRun(f.contact, id, "the failure", func(r automations.Run) bool { return !r.Active() })
	if run.Status != automations.RunFailed || outcomes(run) != "n1:send_message:retry n1:send_message:retry n1:send_message:failed" ||
		!strings.Contains(run.Error, "24-hour") || !strings.Contains(run.Error, "3 times") {
		t.Fatalf("failed run: %+v", run)
	}
	if c := f.contactOf(f.contact); slices.Contains(c.Tags, "after") {
		t.Fatalf("went on after the failure: %+v", c)
	}
}

// TestReplayedDueItemDoesNotRepeat: the scheduler is at-least-once. A due
// item released again (an old one, or the current one twice at once)
// records no step twice and repeats no effect.
func TestReplayedDueItemDoesNotRepeat(t *testing.T) {
	f := newFixture(t)
	f.automation("a", true,
		automations.Node{Type: automations.NodeSendMessage, ChannelID: f.tn.ChannelID, Text: "once"},
		automations.Node{Type: automations.NodeWait, Seconds: 60},
		automations.Node{Type: automations.NodeAddTag, Tag: "t"})
	id := f.enroll(f.contact, "a")
	waiting := f.waitRun(f.contact, id, "the wait", func(r automations.Run) bool { return r.WaitUntil != 0 })
	engine := f.s.Deps.AutomationEngine()
	ctx := t.Context()
	first := waiting
	first.Seq = 1
	if err := engine.Handle(ctx, autorun.DueFor(first, time.Now())); err != nil {
		t.Fatal(err)
	}
	if r := f.run(f.contact, id); r.Seq != waiting.Seq || len(r.Steps) != 2 {
		t.Fatalf("an old due item moved the run: %+v", r)
	}
	// The current due item, released twice at once (two ticks), after
	// its time: one of them records the step, the other nothing.
	f.s.Clock.Add(61 * time.Second)
	cur := autorun.DueFor(waiting, time.Now())
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = engine.Handle(ctx, cur) })
	}
	wg.Wait()
	r := f.waitRun(f.contact, id, "the end", func(r automations.Run) bool { return !r.Active() })
	if r.Status != automations.RunCompleted || outcomes(r) != "n1:send_message:ok n2:wait:ok n3:add_tag:ok" {
		t.Fatalf("run after the replays: %s %+v (errors %v)", outcomes(r), r, errs)
	}
	for _, err := range errs {
		if err != nil && !apperr.Is(err, apperr.KindConflict) {
			t.Fatalf("a replay's error: %v", err)
		}
	}
	// And once ended, every replay is a no-op.
	if err := engine.Handle(ctx, cur); err != nil {
		t.Fatal(err)
	}
	if r2 := f.run(f.contact, id); r2.Seq != r.Seq {
		t.Fatalf("a replay after the end: %+v", r2)
	}
	msgs, err := f.s.Deps.Messages().ListContactMessages(ctx, f.tn.ID, f.tn.ChannelID, "923001234567", 10, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs.Items {
		if m.Text != nil && m.Text.Body == "once" {
			n++
		}
	}
	if n > 1 {
		t.Fatalf("%d messages for one step", n)
	}
	_ = errors.New
}

// TestTriggerEnrolls: an automation whose trigger is the email field
// enrolls a contact when an update collects its email (the trigger
// router, on the table's stream), with source trigger:email; the email
// changed again while the run is active enrolls no second run.
func TestTriggerEnrolls(t *testing.T) {
	f := newFixture(t)
	a := f.automation("onemail", true, automations.Node{Type: automations.NodeAddTag, Tag: "welcomed"}, automations.Node{Type: automations.NodeWait, Seconds: 3600})
	a.Triggers, a.Version = []automations.Trigger{{Field: "email"}}, 2
	if err := f.s.Deps.Automations().PutAutomation(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	runs := func() []automations.Run {
		p, err := f.s.Deps.Runs().ContactRuns(t.Context(), f.tn.ID, "", f.contact, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		return p.Runs
	}
	time.Sleep(time.Second) // the contact's creation (no email) is routed
	if len(runs()) != 0 {
		t.Fatalf("enrolled without an email: %+v", runs())
	}
	res := f.actions(`[{"type":"EDIT","Email":"ann@example.com","idContact":` + f.contact + `}]`)
	if res[0]["status"] != "success" {
		t.Fatalf("EDIT: %v", res)
	}
	var list []automations.Run
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if list = runs(); len(list) == 1 && list[0].WaitUntil != 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("no run started by the email: %+v", list)
		}
	}
	if list[0].Source != "trigger:email" || list[0].AutomationID != "onemail" || outcomes(list[0]) != "n1:add_tag:ok n2:wait:ok" {
		t.Fatalf("the triggered run: %+v", list[0])
	}
	if c := f.contactOf(f.contact); !slices.Contains(c.Tags, "welcomed") {
		t.Fatalf("tag: %+v", c)
	}
	res = f.actions(`[{"type":"EDIT","Email":"ann2@example.com","idContact":` + f.contact + `}]`)
	if res[0]["status"] != "success" {
		t.Fatalf("EDIT: %v", res)
	}
	time.Sleep(1500 * time.Millisecond)
	if list = runs(); len(list) != 1 {
		t.Fatalf("a second run while the first is active: %+v", list)
	}
}

// TestCallConnection: a call_connection node sends the contact's payload
// to the connection through the dispatcher (signed, with its webhook-id),
// once.
func TestCallConnection(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Get("webhook-id")+" "+string(b))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r := f.s.Do("POST", "/v1/connections", "Bearer "+f.tn.Token, map[string]any{"name": "CRM", "url": srv.URL + "/hook", "triggers": []string{"email"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("connection: %d %s", r.Status, r.Body)
	}
	conn := stacktest.Path(r.JSON, "data.id").(string)
	// A second connection, deleted once the contact is enrolled: the
	// step that calls it fails (and is retried).
	r = f.s.Do("POST", "/v1/connections", "Bearer "+f.tn.Token, map[string]any{"name": "Gone", "url": srv.URL + "/gone", "triggers": []string{"email"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("second connection: %d %s", r.Status, r.Body)
	}
	gone := stacktest.Path(r.JSON, "data.id").(string)
	f.automation("call", true, automations.Node{Type: automations.NodeCallConnection, ConnectionID: conn},
		automations.Node{Type: automations.NodeWait, Seconds: 2},
		automations.Node{Type: automations.NodeCallConnection, ConnectionID: gone})
	id := f.enroll(f.contact, "call")
	if r := f.s.Do("DELETE", "/v1/connections/"+gone, "Bearer "+f.tn.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("delete the second connection: %d %s", r.Status, r.Body)
	}
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the connection was not called: %+v", f.run(f.contact, id))
		}
	}
	run := f.run(f.contact, id)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.HasPrefix(got[0], run.Steps[0].Detail+" ") || !strings.Contains(got[0], `"psid":"`+f.contact+`"`) {
		t.Fatalf("calls %v, step %+v", got, run.Steps[0])
	}
	f.waitRun(f.contact, id, "the wait", func(r automations.Run) bool { return r.WaitUntil != 0 })
	f.s.Clock.Add(3 * time.Second) // the wait ends
	run = f.waitRun(f.contact, id, "the deleted connection's step", func(r automations.Run) bool { return len(r.Steps) >= 3 })
	if run.Steps[0].Outcome != "ok" || run.Steps[2].Outcome != "retry" || !strings.Contains(run.Steps[2].Error, gone) {
		t.Fatalf("steps: %s %+v", outcomes(run), run.Steps)
	}
}

// TestLoopEndsAtMaxSteps: a condition that loops back without a wait runs
// MaxBurst nodes per release, and the run fails once it has taken
// MaxSteps steps.
func TestLoopEndsAtMaxSteps(t *testing.T) {
	f := newFixture(t)
	f.automation("loop", true, automations.Node{Type: automations.NodeAddTag, Tag: "again"},
		automations.Node{Type: automations.NodeCondition, Field: "firstName", Op: automations.OpIsSet, Then: "n1"})
	id := f.enroll(f.contact, "loop")
	r := f.waitRun(f.contact, id, "the loop's end", func(r automations.Run) bool { return !r.Active() })
	if r.Status != automations.RunFailed || len(r.Steps) != automations.MaxSteps || !strings.Contains(r.Error, "steps") {
		t.Fatalf("loop: %s, %d steps: %s", r.Status, len(r.Steps), r.Error)
	}
}
