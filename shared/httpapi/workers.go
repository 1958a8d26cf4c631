package httpapi

import (
	"sync/atomic"
	"time"
)

// Go runs fn on another goroutine, as the go statement does, but on one
// kept from an earlier call when one is idle. A request's concurrent
// DynamoDB calls (the rate count beside the handler, the field
// definitions beside the contact) would otherwise each start a goroutine
// whose stack grows, copy by copy, to the depth of an SDK call: a
// goroutine kept has its grown stack. An idle goroutine ends after
// workerIdle without work, so a burst of concurrent requests leaves none
// behind.
func Go(fn func()) {
	select {
	case work <- fn:
	default:
		workersStarted.Add(1)
		go worker(fn)
	}
}

const workerIdle = 10 * time.Second

var (
	work           = make(chan func())
	workersStarted atomic.Int64 // for the tests
)

func worker(fn func()) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		fn()
		fn = nil
		t.Reset(workerIdle)
		select {
		case fn = <-work:
		case <-t.C:
			return
		}
	}
}
