package pollers

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestTickEvery(t *testing.T) {
	for v, want := range map[string]time.Duration{"": DefaultTickEvery, "3": 3 * time.Second, " 60 ": time.Minute, "0": DefaultTickEvery, "-2": DefaultTickEvery, "1.5": DefaultTickEvery, "x": DefaultTickEvery} {
		if got := TickEvery(func(string) string { return v }); got != want {
			t.Errorf("%s=%q: %v, want %v", TickSetting, v, got, want)
		}
	}
}

// TestSchedulePoller: the handler is invoked at once and then every Every
// with a scheduled event and a deadline, a failure or a panic does not
// stop the ticks, and Run returns nil when its context ends.
func TestSchedulePoller(t *testing.T) {
	var n atomic.Int32
	p := &SchedulePoller[int]{Function: "f", Every: 20 * time.Millisecond, Timeout: time.Second,
		Handler: func(ctx context.Context, ev events.EventBridgeEvent) (int, error) {
			if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || ev.Time.IsZero() {
				t.Errorf("event %+v", ev)
			}
			if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > time.Second {
				t.Errorf("deadline %v %v", dl, ok)
			}
			switch n.Add(1) {
			case 2:
				return 0, errors.New("a failed tick")
			case 3:
				panic("a panicking tick")
			}
			return 0, nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for end := time.Now().Add(5 * time.Second); n.Load() < 5; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d ticks", n.Load())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
