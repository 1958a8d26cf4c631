package events_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	appevents "github.com/startmsg/chatbackend/events"
	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/routes/accesstest"
	"github.com/startmsg/chatbackend/shared/scheduler"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// scheduleDue puts an item due now of a kind no handler takes: the tick
// keeps it (moved later), which its answer reports.
func scheduleDue(t *testing.T, d *wiring.Env) {
	t.Helper()
	if err := d.DueStore().Put(context.Background(), scheduler.Due{Kind: "sample.unknown", TenantID: appevents.SampleTenant, Ref: "r1", At: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
}

// TestScheduleSample runs the scheduled event through aws-lambda-go's
// handler wrapper around scheduler-tick's handler, IAM-audited.
func TestScheduleSample(t *testing.T) {
	// With the phone parser: an automation's set_field node may set a
	// phone field (shared/autorun), which fails without it.
	if start, _, _, phone := mainCall(t, routes.SchedulerTick); start != "StartTicker" || !phone {
		t.Fatalf("functions/%s/main.go calls %s (with the phone parser: %v), want StartTicker(wiring.WithPhone(…))", routes.SchedulerTick, start, phone)
	}
	env := emulators.ForTest(t)
	vars := map[string]string{appenv.TableName: env.Table, appenv.OpsTableName: env.OpsTable}
	d := wiring.FromConfig(accesstest.Instrument(env.Config), func(k string) string { return vars[k] })
	scheduleDue(t, d)
	raw, err := appevents.Samples.ReadFile("schedule/tick.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx, rec := accesstest.WithRecorder(context.Background())
	out, err := lambda.NewHandler(registry.Schedules[routes.SchedulerTick](d)).Invoke(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var res scheduler.Result
	if err := json.Unmarshal(out, &res); err != nil || res.Unknown != 1 || !res.CaughtUp {
		t.Fatalf("answer %s (%v)", out, err)
	}
	res2 := accesstest.Resources{Table: env.Table, OpsTable: env.OpsTable}
	if len(rec.Calls()) == 0 {
		t.Fatal("no SDK call recorded")
	}
	for _, m := range accesstest.MissingFor(routes.SchedulerTick, eventAccess(t, routes.SchedulerTick), rec.Calls(), res2) {
		t.Errorf("not granted in AWS: %s", m)
	}
}

// TestScheduleSampleUnderRIE runs the scheduled event through
// scheduler-tick's bootstrap.
func TestScheduleSampleUnderRIE(t *testing.T) {
	tenv := emulators.ForTest(t)
	env := rieEnv(t, tenv)
	vars := map[string]string{appenv.TableName: tenv.Table, appenv.OpsTableName: tenv.OpsTable}
	scheduleDue(t, wiring.FromConfig(tenv.Config, func(k string) string { return vars[k] }))
	fn := underRIE(t, routes.SchedulerTick, env)
	raw, _ := appevents.Samples.ReadFile("schedule/tick.json")
	out, err := fn.Invoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var res scheduler.Result
	if err := json.Unmarshal(out, &res); err != nil || res.Unknown != 1 || !res.CaughtUp || res.Cursor.IsZero() {
		t.Fatalf("answer %s (%v)", out, err)
	}
}
