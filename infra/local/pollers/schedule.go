package pollers

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// TickSetting is the variable that sets, in seconds, how often make run
// invokes the scheduled functions (default DefaultTickEvery).
const TickSetting = "SCHEDULER_TICK_SECONDS"

// DefaultTickEvery is how often make run ticks: more often than AWS's
// one-minute rule, so that a held item is released soon after it is due.
const DefaultTickEvery = 10 * time.Second

// TickEvery reads TickSetting: a whole number of seconds from 1; anything
// else is the default.
func TickEvery(getenv func(string) string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(getenv(TickSetting))); err == nil && n >= 1 {
		return time.Duration(n) * time.Second
	}
	return DefaultTickEvery
}

// SchedulePoller plays an EventBridge schedule rule: it invokes Handler
// with a "Scheduled Event" every Every (at once when started), each
// invocation with Timeout as its deadline as Lambda gives one, never two
// at once (a tick that runs long delays the next, as the function's
// reserved concurrency of 1 does in AWS).
type SchedulePoller[R any] struct {
	Function string
	Handler  func(context.Context, events.EventBridgeEvent) (R, error)
	Every    time.Duration
	Timeout  time.Duration // default 60 s, the function's timeout in AWS
	Now      func() time.Time
}

// Run ticks until ctx ends; it returns nil then.
func (p *SchedulePoller[R]) Run(ctx context.Context) error {
	every, timeout, now := p.Every, p.Timeout, p.Now
	if every <= 0 {
		every = DefaultTickEvery
	}
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	for {
		p.Tick(ctx, now(), timeout)
		if sleep(ctx, every) != nil {
			return nil
		}
	}
}

// Tick is one invocation; a failure is logged (the next tick runs anyway,
// as the rule's next event does).
func (p *SchedulePoller[R]) Tick(ctx context.Context, at time.Time, timeout time.Duration) {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ev := events.EventBridgeEvent{Version: "0", DetailType: "Scheduled Event", Source: "aws.events", Time: at.UTC(), Region: "local"}
	if _, err := invoke(tctx, p.Handler, ev); err != nil && ctx.Err() == nil {
		slog.Error("scheduled function failed", "function", p.Function, "err", err)
	}
}
