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
func TestStepCalls(t *testing.T) {
	env := emulators.ForTest(t)
	cnt := &opCounter{}
	cfg := env.Config.Copy()
	cfg.APIOptions = append(cfg.APIOptions, cnt.option)
	vars := map[string]string{appenv.TableName: env.Table, appenv.OpsTableName: env.OpsTable, appenv.Stage: "test"}
	d := wiring.FromConfig(cfg, func(k string) string { return vars[k] })
	clock := time.Now().Truncate(time.Minute).Add(time.Second)
	d.Now = func() time.Time { return clock }
	ctx := t.Context()
	const tenant = "ten_calls"
	a := automations.Automation{ID: "aut_b", TenantID: tenant, Name: "b", On: true, Version: 1, CreatedAt: clock.Unix(), UpdatedAt: clock.Unix(),
		Triggers: []automations.Trigger{}, Nodes: []automations.Node{
			{ID: "n1", Type: automations.NodeAddTag, Tag: "bench"},
			{ID: "n2", Type: automations.NodeWait, Seconds: 2},
			{ID: "n3", Type: automations.NodeSetField, Field: "lastName", Value: "done"},
		}}
	if err := d.Automations().CreateAutomation(ctx, a); err != nil {
		t.Fatal(err)
	}
	const id = "100000000000001"
	if err := d.Contacts().CreateContact(ctx, contacts.Contact{ID: id, TenantID: tenant, Fields: map[string]string{"firstName": "B"},
		Custom: map[string]string{}, Tags: []string{}, CreatedAt: clock.Unix(), UpdatedAt: clock.Unix(), Version: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Enrollment().Enroll(ctx, tenant, a.ID, id, automations.SourceAPI); err != nil {
		t.Fatal(err)
	}
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
		if left, _, _ := d.DueStore().DueIn(ctx, clock.Truncate(time.Minute), clock, 10); len(left) != 0 {
			t.Errorf("%s: the released item is still there: %+v", what, left)
		}
	}
	release("add tag, wait", "BatchGetItem TransactWriteItems TransactWriteItems")
	clock = clock.Add(3 * time.Second)
	release("set field, end", "BatchGetItem Query TransactWriteItems TransactWriteItems")
	p, err := d.Runs().ContactRuns(ctx, tenant, "", id, 10, "")
	if err != nil || len(p.Runs) != 1 {
		t.Fatal(p, err)
	}
	if run := p.Runs[0]; run.Status != automations.RunCompleted || outcomes(run) != "n1:add_tag:ok n2:wait:ok n3:set_field:ok" {
		t.Fatalf("run: %s %+v", outcomes(run), run)
	}
}
