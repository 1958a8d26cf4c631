package messageapi_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/sender/providertest"
)

// The sender stopped (as make run's Ctrl-C stops it: the batches in hand
// finish, the long polls' messages go back) while messages keep being
// accepted, then started again as a new process: every message accepted
// before, during and after the stop is sent, each once, and none while
// the sender is down.
func TestSenderRestartSendsEachOnce(t *testing.T) {
	s, prov, ten := withProvider(t)
	// The stream and the trigger router run throughout, as Pipeline runs them.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	for _, f := range routes.EventFunctions {
		if f.Source != "stream" {
			continue
		}
		p := &pollers.StreamPoller{DDB: s.Env.DDB, Streams: s.Env.Streams, Table: s.Env.Table, BatchSize: f.BatchSize,
			Handler: registry.Streams[f.Function](s.Deps), PollInterval: 50 * time.Millisecond, Filter: pollers.RouteFilter(f.StreamFilters()),
			RetryDelay: func(int) time.Duration { return 100 * time.Millisecond }}
		wg.Go(func() { _ = p.Run(ctx) })
	}
	// startSender starts a sender as a fresh process would (its own
	// Sender, no state carried over) and returns the graceful stop.
	startSender := func() func() {
		sctx, stop := context.WithCancel(ctx)
		p := &pollers.SQSPoller{Client: s.Env.SQS, QueueURL: s.Env.Queues.OutboxURL, QueueARN: s.Env.Queues.OutboxARN,
			BatchSize: 10, Concurrency: 4, WaitTime: time.Second, Drain: 20 * time.Second, Handler: registry.Queues["sender"](s.Deps)}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = p.Run(sctx)
		}()
		return func() {
			stop()
			<-done
		}
	}
	n := 0
	sendSome := func(k int) []string {
		var ids []string
		for range k {
			n++
			ids = append(ids, send(t, s, ten.Token, map[string]any{"to": fmt.Sprintf("+9232440%05d", n), "type": "template",
				"template": map[string]any{"name": "order_update", "language": "en_US", "params": []string{"Ana"}}}))
		}
		return ids
	}
	// Slow provider answers, so that the stop finds batches in hand.
	for range 30 {
		prov.Script(providertest.Answer{Delay: 150 * time.Millisecond})
	}
	stop := startSender()
	ids := sendSome(20)
	for deadline := time.Now().Add(20 * time.Second); len(prov.Requests()) < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sender never called the provider")
		}
	}
	stop()
	down := len(prov.Requests())
	ids = append(ids, sendSome(20)...)
	time.Sleep(2 * time.Second) // the router queues them; nobody sends them
	if got := len(prov.Requests()); got != down {
		t.Fatalf("%d sends while the sender was down", got-down)
	}
	stop = startSender()
	defer stop()
	for _, id := range ids {
		waitStatus(t, s, ten.Token, id, messages.StatusSent)
	}
	time.Sleep(1500 * time.Millisecond) // any late copy would be sent by now
	per := map[any]int{}
	for _, r := range prov.Requests() {
		per[r.Body["to"]]++
	}
	if len(per) != len(ids) {
		t.Errorf("the provider got %d recipients' messages, want %d", len(per), len(ids))
	}
	for to, k := range per {
		if k != 1 {
			t.Errorf("%v: sent %d times", to, k)
		}
	}
	t.Logf("%d sent before the stop (of %d accepted), %d after the restart", down, 20, len(prov.Requests())-down)
}
