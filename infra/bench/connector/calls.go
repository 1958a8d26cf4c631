package connector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/startmsg/chatbackend/infra/bench"
)

// Calls records every SDK call made through a config it was added to
// (APIOption): service, operation, duration and whether it failed.
type Calls struct {
	mu  sync.Mutex
	ops map[string]*opCalls
}

type opCalls struct {
	times          []time.Duration
	errors         int
	canceled       int
	failedAttempts int
	attemptErr     string
}

// APIOption is an entry for aws.Config.APIOptions. It times whole calls
// (retries included) and notes every failed attempt the SDK retried.
func (c *Calls) APIOption(stack *middleware.Stack) error {
	err := stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("connectorbench-attempts",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleFinalize(ctx, in)
			if err != nil && !errors.Is(err, context.Canceled) {
				c.attemptFailed(awsmiddleware.GetServiceID(ctx)+" "+awsmiddleware.GetOperationName(ctx), err)
			}
			return out, md, err
		}), middleware.After)
	if err != nil {
		return err
	}
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("connectorbench-calls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			start := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			c.add(awsmiddleware.GetServiceID(ctx)+" "+awsmiddleware.GetOperationName(ctx), time.Since(start), err)
			return out, md, err
		}), middleware.After)
}

func (c *Calls) attemptFailed(op string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.op(op)
	o.failedAttempts++
	if o.attemptErr == "" {
		o.attemptErr = err.Error()
	}
}

// op returns the record of op, made on first use; c.mu must be held.
func (c *Calls) op(op string) *opCalls {
	if c.ops == nil {
		c.ops = map[string]*opCalls{}
	}
	o := c.ops[op]
	if o == nil {
		o = &opCalls{}
		c.ops[op] = o
	}
	return o
}

func (c *Calls) add(op string, d time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.op(op)
	switch {
	case errors.Is(err, context.Canceled):
		// Cancelled by the caller (long polls at shutdown): not a call
		// that ran its course.
		o.canceled++
	case err != nil:
		o.times = append(o.times, d)
		o.errors++
	default:
		o.times = append(o.times, d)
	}
}

// Reset forgets every call recorded so far.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = nil
}

// OpStats summarises the calls of one operation.
type OpStats struct {
	Op       string `json:"op"`    // "DynamoDB GetItem"
	Count    int    `json:"count"` // calls that ran their course, failed or not
	Errors   int    `json:"errors"`
	Canceled int    `json:"canceled"` // cancelled by the caller, not timed
	// FailedAttempts counts HTTP attempts that failed (the SDK retries
	// some); AttemptError is the first one's error.
	FailedAttempts int     `json:"failed_attempts"`
	AttemptError   string  `json:"attempt_error,omitempty"`
	P50MS          float64 `json:"p50_ms"`
	P95MS          float64 `json:"p95_ms"`
	P99MS          float64 `json:"p99_ms"`
	SumS           float64 `json:"total_s"` // summed durations (calls overlap)
}

// Stats returns one row per operation, busiest (by summed time) first.
func (c *Calls) Stats() []OpStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]OpStats, 0, len(c.ops))
	for op, o := range c.ops {
		var sum time.Duration
		for _, t := range o.times {
			sum += t
		}
		out = append(out, OpStats{
			Op: op, Count: len(o.times), Errors: o.errors, Canceled: o.canceled,
			FailedAttempts: o.failedAttempts, AttemptError: o.attemptErr,
			P50MS: MS(bench.Percentile(o.times, 50)), P95MS: MS(bench.Percentile(o.times, 95)),
			P99MS: MS(bench.Percentile(o.times, 99)), SumS: sum.Seconds(),
		})
	}
	slices.SortFunc(out, func(a, b OpStats) int {
		switch {
		case a.SumS > b.SumS:
			return -1
		case a.SumS < b.SumS:
			return 1
		}
		return strings.Compare(a.Op, b.Op)
	})
	return out
}

// String is one line per operation.
func (s OpStats) String() string {
	errs := ""
	if s.Errors > 0 {
		errs = fmt.Sprintf(", %d failed", s.Errors)
	}
	if s.Canceled > 0 {
		errs += fmt.Sprintf(" (+%d cancelled)", s.Canceled)
	}
	if s.FailedAttempts > 0 {
		errs += fmt.Sprintf("; %d failed attempts, first: %.160s", s.FailedAttempts, s.AttemptError)
	}
	return fmt.Sprintf("%-33s %6d calls  p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms%s",
		s.Op, s.Count, s.P50MS, s.P95MS, s.P99MS, errs)
}

// MS is d in milliseconds.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
