package pollers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/infra/local/emulators"
)

// TestSQSPollerShutdownMidLongPoll stops and restarts pollers again and
// again while their long polls wait on an empty queue, and sends a message
// just after each stop begins. A long poll cut off by Run's cancellation is
// still waiting in the queue (fauxqs), which hands it the message on its
// arrival, to nobody: the message would stay invisible for the queue's
// visibility timeout (60 s here). The poller lets its long polls end and
// puts back what they bring: every message reaches the handler of the next
// poller within seconds.
func TestSQSPollerShutdownMidLongPoll(t *testing.T) {
	e := emulatorsEnvWithVisibility(t, 60)
	var mu sync.Mutex
	seen := map[string]bool{}
	arrived := make(chan string, 100)
	h := func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		for _, m := range ev.Records {
			mu.Lock()
			dup := seen[m.Body]
			seen[m.Body] = true
			mu.Unlock()
			if !dup {
				arrived <- m.Body
			}
		}
		return events.SQSEventResponse{}, nil
	}
	const rounds = 8
	for i := range rounds {
		p := sqsPoller(t, e, h)
		p.Concurrency, p.WaitTime = 4, 2*time.Second
		stop := run(t, p.Run)
		time.Sleep(300 * time.Millisecond) // the long polls are waiting
		t0 := time.Now()
		stopped := make(chan time.Duration, 1)
		go func() {
			stop()
			stopped <- time.Since(t0)
		}()
		// While the stopping poller's long polls are still open (or were
		// abandoned): the message goes to one of them.
		time.Sleep(100 * time.Millisecond)
		body := fmt.Sprintf("m%d", i)
		send(t, e, body)
		took := <-stopped
		// The next poller finds it (the previous one may have too, in its
		// last poll).
		next := sqsPoller(t, e, h)
		stopNext := run(t, next.Run)
		select {
		case got := <-arrived:
			if got != body {
				t.Fatalf("round %d: got %s, want %s", i, got, body)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: %s not handled within 10 s (stop took %v): a long poll abandoned at shutdown took it", i, body, took)
		}
		stopNext()
	}
	waitEmpty(t, e)
}

// emulatorsEnvWithVisibility is sqsEnv with another visibility timeout
// (seconds).
func emulatorsEnvWithVisibility(t *testing.T, seconds int) *emulators.TestEnv {
	e := sqsEnv(t)
	if _, err := e.SQS.SetQueueAttributes(t.Context(), &sqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(e.Queues.DeliveriesURL),
		Attributes: map[string]string{"VisibilityTimeout": fmt.Sprint(seconds)},
	}); err != nil {
		t.Fatal(err)
	}
	return e
}
