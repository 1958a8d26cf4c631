package dispatch_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/shared/connections"
)

// fastRetries makes every step of the retry schedule 1 s (SQS visibility
// is whole seconds) and, when probeFirst is not 0, the breakers' first
// probe interval probeFirst, until t ends.
func fastRetries(t *testing.T, probeFirst time.Duration) {
	saved, savedFirst := connections.Schedule, connections.ProbeFirst
	for i := range connections.Schedule {
		connections.Schedule[i] = time.Second
	}
	if probeFirst != 0 {
		connections.ProbeFirst = probeFirst
	}
	t.Cleanup(func() { connections.Schedule, connections.ProbeFirst = saved, savedFirst })
}

// runPoller hands the deliveries queue's messages to handler, as Lambda's
// event source mapping does (batchSize messages, workers batches at once,
// no fair scheduling), until t ends.
func runPoller(t *testing.T, e *emulators.TestEnv, batchSize, workers int, handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)) {
	p := &pollers.SQSPoller{Client: e.SQS, QueueURL: e.Queues.DeliveriesURL, QueueARN: e.Queues.DeliveriesARN,
		BatchSize: batchSize, Concurrency: workers, WaitTime: time.Second, Handler: handler, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan error, 1)
	go func() { stopped <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Error(err)
		}
	})
}
