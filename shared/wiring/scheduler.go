package wiring

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/installations"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/scheduler"
)

// DueHandlers are the scheduler's handlers by kind: what scheduler-tick
// (in AWS, every minute) and make run's poller hand each due item to.
// One line per kind; an item of a kind missing here is kept, not dropped
// (scheduler.Releaser).
func DueHandlers(e *Env) map[string]scheduler.Handler {
	return map[string]scheduler.Handler{
		installations.ReleaseKind: e.InstallationRelease(),
		automations.StepKind:      e.AutomationStep(),
	}
}

// DueStore is the scheduler's store on the operations table.
func (e *Env) DueStore() *ddbstore.DueStore {
	return &ddbstore.DueStore{API: e.StoreAPI(), OpsTable: e.OpsTable}
}

// TickHandler is scheduler-tick's Lambda handler: invoked by a schedule
// (an EventBridge rule), it answers what it did.
type TickHandler = func(context.Context, events.EventBridgeEvent) (scheduler.Result, error)

// TickMargin is the time a tick leaves before its invocation's deadline:
// it stops starting work then, saves its cursor and returns.
const TickMargin = 10 * time.Second

// TickConcurrency is how many due items a tick hands to their handlers at
// once: a burst of enrollments (10,000 contacts into one automation) is
// thousands of steps due in the same minute, each a few DynamoDB calls;
// one after another they would take minutes. The handlers of different
// items are independent (an automation run's writes are conditioned on its
// sequence; an installation release on its message).
const TickConcurrency = 16

// Releaser is the scheduler's releaser on e's store and clock with the
// given handlers.
func Releaser(e *Env, handlers map[string]scheduler.Handler) *scheduler.Releaser {
	return &scheduler.Releaser{Store: e.DueStore(), Handlers: handlers, Now: e.Now, Log: slog.Default(), Concurrency: TickConcurrency}
}

// Ticker is the scheduled handler releasing due items to handlers: the
// one code path of scheduler-tick in Lambda and of make run's poller.
func Ticker(e *Env, handlers map[string]scheduler.Handler) TickHandler {
	r := Releaser(e, handlers)
	return func(ctx context.Context, _ events.EventBridgeEvent) (scheduler.Result, error) {
		res, err := r.Drain(ctx, TickMargin)
		if err != nil {
			slog.ErrorContext(ctx, "scheduler: tick failed", "err", err, "released", res.Released)
		} else if !res.CaughtUp {
			slog.WarnContext(ctx, "scheduler: behind; the next tick goes on", "cursor", res.Cursor, "released", res.Released)
		}
		return res, err
	}
}

// SchedulerTick builds scheduler-tick's handler with DueHandlers (registry).
func SchedulerTick(e *Env) TickHandler { return Ticker(e, DueHandlers(e)) }

// StartTicker runs scheduler-tick in Lambda. Its stores use the SDK's
// DynamoDB client (see withLean): a tick's calls are few and not on any
// client's path. Its options are as StartAPI's: an automation's set_field
// node may set a phone field (WithPhone).
func StartTicker(opts ...Option) {
	lambdaapp.Start(SchedulerTick(mustLoad(opts)))
}
