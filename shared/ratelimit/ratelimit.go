// Package ratelimit is a fixed-window call counter: at most Limit calls per
// Window per key (a credential). Counters live in a store with a TTL, so the
// limit holds across every Lambda instance.
package ratelimit

import (
	"context"
	"time"
)

// Counter adds one to the counter of key in the window starting at
// windowStart (unix seconds) and returns the new count. The store may forget
// the counter after expires.
type Counter interface {
	Incr(ctx context.Context, key string, windowStart int64, expires time.Time) (int64, error)
}

// Limiter applies the limit.
type Limiter struct {
	Counter Counter
	Limit   int
	Window  time.Duration
	Now     func() time.Time
}

// Result is the state after one call, for the X-RateLimit-* headers.
type Result struct {
	Allowed   bool
	Limit     int
	Remaining int
	Reset     time.Time // when the window ends
}

// RetryAfter is how long a refused caller should wait, in whole seconds (at least 1).
func (r Result) RetryAfter(now time.Time) int {
	s := int(r.Reset.Sub(now).Seconds() + 0.999)
	if s < 1 {
		s = 1
	}
	return s
}

// Hit counts one call of key.
func (l *Limiter) Hit(ctx context.Context, key string) (Result, error) {
	now := l.Now()
	start := now.Truncate(l.Window)
	reset := start.Add(l.Window)
	n, err := l.Counter.Incr(ctx, key, start.Unix(), reset.Add(l.Window))
	if err != nil {
		return Result{}, err
	}
	rem := l.Limit - int(n)
	if rem < 0 {
		rem = 0
	}
	return Result{Allowed: n <= int64(l.Limit), Limit: l.Limit, Remaining: rem, Reset: reset}, nil
}
