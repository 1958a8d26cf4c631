// Package pollers plays the part of Lambda event-source mappings locally:
// SQSPoller feeds a queue to an SQS handler, StreamPoller feeds a DynamoDB
// stream to a stream handler, both honouring partial batch failures
// (ReportBatchItemFailures) the way Lambda does.
package pollers

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"
)

// invoke calls the handler as Lambda would: a panic is a function error.
func invoke[E, R any](ctx context.Context, h func(context.Context, E) (R, error), event E) (resp R, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return h(ctx, event)
}

// sleep waits for d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
