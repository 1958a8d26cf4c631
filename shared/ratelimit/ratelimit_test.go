package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"
)

type memCounter map[string]int64

func (m memCounter) Incr(_ context.Context, key string, window int64, _ time.Time) (int64, error) {
	k := fmt.Sprintf("%s#%d", key, window)
	m[k]++
	return m[k], nil
}

func TestLimiter(t *testing.T) {
	now := time.Unix(1_700_000_010, 0) // 30 s into a minute
	l := &Limiter{Counter: memCounter{}, Limit: 100, Window: time.Minute, Now: func() time.Time { return now }}
	ctx := context.Background()
	for i := 1; i <= 100; i++ {
		r, err := l.Hit(ctx, "tok")
		if err != nil || !r.Allowed || r.Remaining != 100-i {
			t.Fatalf("call %d: %+v %v", i, r, err)
		}
	}
	r, _ := l.Hit(ctx, "tok")
	if r.Allowed || r.Remaining != 0 {
		t.Fatalf("101st call allowed: %+v", r)
	}
	if got := r.RetryAfter(now); got != 30 {
		t.Fatalf("RetryAfter = %d, want 30", got)
	}
	if r.Reset.Unix() != 1_700_000_040 {
		t.Fatalf("Reset = %d", r.Reset.Unix())
	}
	// Another key is counted apart.
	if r, _ := l.Hit(ctx, "other"); !r.Allowed || r.Remaining != 99 {
		t.Fatalf("other key: %+v", r)
	}
	// The next window starts afresh.
	now = now.Add(30 * time.Second)
	if r, _ := l.Hit(ctx, "tok"); !r.Allowed || r.Remaining != 99 {
		t.Fatalf("next window: %+v", r)
	}
}
