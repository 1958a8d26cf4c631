package autorun_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/autorun"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/scheduler"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// opCounter counts DynamoDB requests (one per call: a transaction or a
// batch is one) made under a context it marks.
type opCounter struct {
	mu  sync.Mutex
	ops []string
}

type countKey struct{}

func (c *opCounter) option(s *middleware.Stack) error {
	return s.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if ctx.Value(countKey{}) != nil {
			c.mu.Lock()
			c.ops = append(c.ops, strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%T", in.Parameters), "*dynamodb."), "Input"))
			c.mu.Unlock()
		}
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

func (c *opCounter) take() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.Join(c.ops, " ")
	c.ops = nil
	return s
}

// countingStore counts the releaser's own deletes of released items.
type countingStore struct {
	*ddbstore.DueStore
	n *atomic.Int32
}

func (s countingStore) Complete(ctx context.Context, it scheduler.Item) error {
	s.n.Add(1)
	return s.DueStore.Complete(ctx, it)
}

// TestStepCalls: the DynamoDB requests of a run of add tag → wait → set
// field, the automation the bench enrolls ten thousand contacts in. A
// release reads the run, its automation and its contact in one batch,
// writes the contact from what it read (not read again), records the tag
// and the wait in one write of the run, and that write deletes the due
// item it releases (the scheduler does not delete it again).
// engineEnv is a wiring on its own tables with its DynamoDB requests
// counted, a fixed clock, an automation of nodes and an account contact
// enrolled in it (no ticker: the test releases).
func engineEnv(t *testing.T, nodes ...automations.Node) (*wiring.Env, *opCounter, *time.Time, automations.Run) {
	env := emulators.ForTest(t)
	cnt := &opCounter{}
	cfg := env.Config.Copy()
	cfg.APIOptions = append(cfg.APIOptions, cnt.option)
	vars := map[string]string{appenv.TableName: env.Table, appenv.OpsTableName: env.OpsTable, appenv.Stage: "test"}
	d := wiring.FromConfig(cfg, func(k string) string { return vars[k] })
	clock := new(time.Time)
	*clock = time.Now().Truncate(time.Minute).Add(time.Second)
	d.Now = func() time.Time { return *clock }
	ctx := t.Context()
	const tenant = "ten_calls"
	a := automations.Automation{ID: "aut_b", TenantID: tenant, Name: "b", On: true, Version: 1, CreatedAt: clock.Unix(), UpdatedAt: clock.Unix(),
		Triggers: []automations.Trigger{}, Nodes: nodes}
	if err := d.Automations().CreateAutomation(ctx, a); err != nil {
		t.Fatal(err)
	}
	const id = "100000000000001"
	if err := d.Contacts().CreateContact(ctx, contacts.Contact{ID: id, TenantID: tenant, Fields: map[string]string{"firstName": "B"},
		Custom: map[string]string{}, Tags: []string{}, CreatedAt: clock.Unix(), UpdatedAt: clock.Unix(), Version: 1}); err != nil {
		t.Fatal(err)
	}
	run, err := d.Enrollment().Enroll(ctx, tenant, a.ID, id, automations.SourceAPI)
	if err != nil {
		t.Fatal(err)
	}
	return d, cnt, clock, run
}

func TestStepCalls(t *testing.T) {
	d, cnt, clockp, run := engineEnv(t,
		automations.Node{ID: "n1", Type: automations.NodeAddTag, Tag: "bench"},
		automations.Node{ID: "n2", Type: automations.NodeWait, Seconds: 2},
		automations.Node{ID: "n3", Type: automations.NodeSetField, Field: "lastName", Value: "done"})
	ctx := t.Context()
	tenant, id := run.TenantID, run.ContactID
	engine := d.AutomationEngine()
	completes := &atomic.Int32{}
	rel := &scheduler.Releaser{Store: countingStore{d.DueStore(), completes}, Now: d.Now, Lookback: 2 * time.Minute,
		Handlers: map[string]scheduler.Handler{automations.StepKind: func(ctx context.Context, due scheduler.Due) error {
			return engine.Handle(context.WithValue(ctx, countKey{}, true), due)
		}}}
	release := func(what string, want string) {
		t.Helper()
		res, err := rel.Tick(ctx)
		if err != nil || res.Released != 1 {
			t.Fatalf("%s: tick %+v %v", what, res, err)
		}
		if got := cnt.take(); got != want {
			t.Errorf("%s: requests\n got  %s\n want %s", what, got, want)
		}
		if n := completes.Swap(0); n != 0 {
			t.Errorf("%s: the releaser deleted the item %d times; the step's write did", what, n)
		}
		if left, _, _ := d.DueStore().DueIn(ctx, clockp.Truncate(time.Minute), *clockp, 10); len(left) != 0 {
			t.Errorf("%s: the released item is still there: %+v", what, left)
		}
	}
	release("add tag, wait", "BatchGetItem TransactWriteItems TransactWriteItems")
	*clockp = clockp.Add(3 * time.Second)
	release("set field, end", "BatchGetItem Query TransactWriteItems TransactWriteItems")
	p, err := d.Runs().ContactRuns(ctx, tenant, "", id, 10, "")
	if err != nil || len(p.Runs) != 1 {
		t.Fatal(p, err)
	}
	if run := p.Runs[0]; run.Status != automations.RunCompleted || outcomes(run) != "n1:add_tag:ok n2:wait:ok n3:set_field:ok" {
		t.Fatalf("run: %s %+v", outcomes(run), run)
	}
}

// writes records the steps each write of a run records.
type writes struct {
	automations.RunStore
	mu  sync.Mutex
	got []string
}

func (w *writes) SaveRun(ctx context.Context, prev, next automations.Run, due, done *scheduler.Due) error {
	w.mu.Lock()
	var steps []string
	for _, s := range next.Steps[len(prev.Steps):] {
		steps = append(steps, s.Node+":"+string(s.Type))
	}
	w.got = append(w.got, strings.Join(steps, " "))
	w.mu.Unlock()
	return w.RunStore.SaveRun(ctx, prev, next, due, done)
}

// TestStepWrites: a node without effect is recorded in the write of the
// step before it, but never after an effect that follows it: a condition
// is written before the field it tested is set (a retry of a release
// that died after setting it must not test the field again). A due item
// from before due items named their automation still advances its run.
func TestStepWrites(t *testing.T) {
	d, _, clock, run := engineEnv(t,
		automations.Node{ID: "n1", Type: automations.NodeCondition, Field: "lastName", Op: automations.OpIsNotSet, Then: "n2", Else: "n4"},
		automations.Node{ID: "n2", Type: automations.NodeSetField, Field: "lastName", Value: "set"},
		automations.Node{ID: "n3", Type: automations.NodeWait, Seconds: 60},
		automations.Node{ID: "n4", Type: automations.NodeAddTag, Tag: "after"})
	ctx := t.Context()
	engine := d.AutomationEngine()
	w := &writes{RunStore: engine.Runs}
	engine.Runs = w
	if err := engine.Handle(ctx, autorun.DueFor(run, *clock)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(w.got, " | "); got != "n1:condition | n2:set_field n3:wait" {
		t.Errorf("writes: %s", got)
	}
	r, err := d.Runs().GetRun(ctx, run.TenantID, "", run.ContactID, run.ID)
	if err != nil || r.Seq != 3 || r.WaitUntil == 0 {
		t.Fatalf("run after the first release: %+v %v", r, err)
	}
	// The wait's due item as an older release wrote it: no automation in
	// its payload (the engine reads one thing after another).
	*clock = clock.Add(61 * time.Second)
	old := autorun.DueFor(r, *clock)
	old.Payload = []byte(fmt.Sprintf(`{"ch":"","c":%q,"r":%q}`, r.ContactID, r.ID))
	w.got = nil
	if err := engine.Handle(ctx, old); err != nil {
		t.Fatal(err)
	}
	r, err = d.Runs().GetRun(ctx, run.TenantID, "", run.ContactID, run.ID)
	if err != nil || r.Status != automations.RunCompleted || outcomes(r) != "n1:condition:ok n2:set_field:ok n3:wait:ok n4:add_tag:ok" {
		t.Fatalf("run: %s %+v %v", outcomes(r), r, err)
	}
	if got := strings.Join(w.got, " | "); got != "n4:add_tag" {
		t.Errorf("writes of the second release: %s", got)
	}
	c, err := d.Contacts().GetContact(ctx, run.TenantID, "", run.ContactID)
	if err != nil || c.Fields["lastName"] != "set" || len(c.Tags) != 1 {
		t.Errorf("contact %+v %v", c, err)
	}
}
