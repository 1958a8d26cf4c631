package pollers

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Fair scheduling (SQSPoller.Fair) plays the part of SQS fair queues, which
// the local emulator does not schedule: a standard queue whose messages
// carry a MessageGroupId (the tenant) hands out the messages of a group
// that holds more than its share of the messages in flight or of the
// processing time after those of the other groups, however many of them
// wait ahead in the queue. Locally the poller does it on its side, and it
// must see past a busy tenant's backlog to do it: a tenant flooding the
// queue (hundreds of messages a second, parked by the handler and coming
// back) would otherwise keep the others' messages behind its own in the
// emulator, for as long as the workers take to go through them.
//
//   - Receivers (Concurrency of them) receive continuously into a buffer
//     in the process, one FIFO per group (GroupOf), up to fairBufferMax
//     messages; the messages in it stay in flight in the queue, their
//     visibility extended while they wait (fairKeep). Nothing is sent back
//     and nothing counted twice: a message is received once and handed to
//     the handler once.
//   - Workers (Concurrency of them) each take a batch of one group: the
//     group with messages that holds the fewest busy workers (the oldest
//     first among equals). So a tenant's message that arrives behind
//     thousands of another's is handled by the next free worker.
//   - The last free worker does not go to a group that already holds a
//     busy worker unless that group's batches are quick (one of them ended
//     within fairHold, and none in hand has run fairHold): a tenant whose
//     batches hang holds every worker but one at most, and the last one is
//     kept for the others' messages, as a fair queue would give them.
//   - On Run's end the buffered messages are put back on the queue (hidden
//     for a second) and the batches in hand finish as without fairness.
type fairQueue struct {
	workers int

	mu     sync.Mutex
	groups map[string]*fairGroup
	n      int // messages buffered
	busy   int // workers handling a batch
	seq    int64
	wake   chan struct{} // closed (and replaced) on every change
}

// fairGroup is one group's buffered messages and busy workers.
type fairGroup struct {
	msgs    []fairMsg
	running []time.Time // when each busy batch of it started
	ended   time.Time   // when one of its batches last ended within fairHold of its start
}

// fairMsg is a buffered message: until is when its visibility ends, seq
// its arrival order.
type fairMsg struct {
	m     types.Message
	until time.Time
	seq   int64
}

// fairBufferMax bounds the messages buffered: at most this many of the
// queue's messages are held in flight by the poller (far under SQS's
// 120,000 in-flight messages per standard queue).
const fairBufferMax = 20000

// fairHold: a batch that runs this long is slow (see fairQueue).
const fairHold = 200 * time.Millisecond

// fairPause is how long a receiver waits while the buffer is full.
const fairPause = 50 * time.Millisecond

// fairVisibility is the visibility the buffered messages are kept at when
// the queue's own is not known (SQSPoller.visibility is 0).
const fairVisibility = 30 * time.Second

func newFairQueue(workers int) *fairQueue {
	return &fairQueue{workers: workers, groups: map[string]*fairGroup{}, wake: make(chan struct{})}
}

// changed wakes the workers waiting for a batch (q.mu held).
func (q *fairQueue) changed() {
	close(q.wake)
	q.wake = make(chan struct{})
}

func (q *fairQueue) size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// push buffers received messages, visible to no one until until.
func (q *fairQueue) push(groups []string, msgs []types.Message, until time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, m := range msgs {
		g := q.groups[groups[i]]
		if g == nil {
			g = &fairGroup{}
			q.groups[groups[i]] = g
		}
		q.seq++
		g.msgs = append(g.msgs, fairMsg{m: m, until: until, seq: q.seq})
		q.n++
	}
	q.changed()
}

// quick reports whether the group's batches are quick at now: one ended
// within fairHold of its start lately, and none in hand has run fairHold.
func (g *fairGroup) quick(now time.Time) bool {
	if g.ended.IsZero() || now.Sub(g.ended) >= fairHold {
		return false
	}
	for _, s := range g.running {
		if now.Sub(s) >= fairHold {
			return false
		}
	}
	return true
}

// take gives a free worker a batch (at most size messages of one group)
// and the function that ends it, or, when there is none for it, a channel
// closed on the next change.
func (q *fairQueue) take(size int, now time.Time) ([]types.Message, func(), <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	last := q.workers > 1 && q.busy+1 >= q.workers
	var best string
	var bg *fairGroup
	for name, g := range q.groups {
		switch {
		case len(g.msgs) == 0:
			continue
		case last && len(g.running) > 0 && !g.quick(now):
			continue
		case bg == nil || len(g.running) < len(bg.running) || (len(g.running) == len(bg.running) && g.msgs[0].seq < bg.msgs[0].seq):
			best, bg = name, g
		}
	}
	if bg == nil {
		return nil, nil, q.wake
	}
	k := min(size, len(bg.msgs))
	batch := make([]types.Message, k)
	for i := range k {
		batch[i] = bg.msgs[i].m
	}
	bg.msgs = slices.Delete(bg.msgs, 0, k)
	q.n -= k
	q.busy++
	start := now
	bg.running = append(bg.running, start)
	return batch, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		end := time.Now()
		if i := slices.Index(bg.running, start); i >= 0 {
			bg.running = slices.Delete(bg.running, i, i+1)
		}
		if end.Sub(start) < fairHold {
			bg.ended = end
		}
		q.busy--
		if len(bg.msgs) == 0 && len(bg.running) == 0 && q.groups[best] == bg {
			delete(q.groups, best)
		}
		q.changed()
	}, nil
}

// due returns the buffered messages whose visibility ends within ahead of
// now (to be extended).
func (q *fairQueue) due(now time.Time, ahead time.Duration) []types.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []types.Message
	for _, g := range q.groups {
		for _, fm := range g.msgs {
			if fm.until.Sub(now) < ahead {
				out = append(out, fm.m)
			}
		}
	}
	return out
}

// extended notes the new visibility of the messages extended (by receipt
// handle), and drops those whose extension failed: their visibility ended
// (they are back on the queue, or with another receive), and they are left
// to the queue.
func (q *fairQueue) extended(ok, failed map[string]bool, until time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, g := range q.groups {
		kept := g.msgs[:0]
		for _, fm := range g.msgs {
			h := aws.ToString(fm.m.ReceiptHandle)
			switch {
			case failed[h]:
				q.n--
				continue
			case ok[h]:
				fm.until = until
			}
			kept = append(kept, fm)
		}
		g.msgs = kept
	}
}

// drain empties the buffer and returns what it held.
func (q *fairQueue) drain() []types.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []types.Message
	for _, g := range q.groups {
		for _, fm := range g.msgs {
			out = append(out, fm.m)
		}
		g.msgs = nil
	}
	q.n = 0
	return out
}

// runFair is Run with fair scheduling: receivers, workers and the keeper
// of the buffered messages' visibility, until ctx ends; then the buffered
// messages go back to the queue.
func (p *SQSPoller) runFair(ctx context.Context) {
	q := newFairQueue(p.Concurrency)
	var wg sync.WaitGroup
	for range p.Concurrency {
		wg.Go(func() { p.fairReceive(ctx, q) })
		wg.Go(func() { p.fairWork(ctx, q) })
	}
	wg.Go(func() { p.fairKeep(ctx, q) })
	wg.Wait()
	rest := q.drain()
	for start := 0; start < len(rest); start += 10 {
		p.release(ctx, rest[start:min(start+10, len(rest))])
	}
}

// keepFor is the visibility the buffered messages are kept at.
func (p *SQSPoller) keepFor() time.Duration {
	if p.visibility > 0 {
		return time.Duration(p.visibility) * time.Second
	}
	return fairVisibility
}

// fairReceive receives into the buffer until ctx ends.
func (p *SQSPoller) fairReceive(ctx context.Context, q *fairQueue) {
	for ctx.Err() == nil {
		if q.size() >= fairBufferMax {
			_ = sleep(ctx, fairPause)
			continue
		}
		out, err := p.receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.Logger.ErrorContext(ctx, "sqs poller: receive", "queue", p.QueueURL, "err", err)
				_ = sleep(ctx, time.Second)
			}
			continue
		}
		msgs := out.Messages
		if len(msgs) == 0 {
			continue
		}
		if ctx.Err() != nil {
			p.release(ctx, msgs)
			return
		}
		until := time.Now()
		if p.visibility > 0 {
			msgs = p.extend(ctx, msgs)
			until = until.Add(p.keepFor())
		}
		// With the queue's visibility unknown, the keeper extends them at
		// once (until is now).
		groups := make([]string, len(msgs))
		for i, m := range msgs {
			groups[i] = p.groupOf(m)
		}
		q.push(groups, msgs, until)
	}
}

// fairWork takes batches from the buffer and handles them until ctx ends.
func (p *SQSPoller) fairWork(ctx context.Context, q *fairQueue) {
	for ctx.Err() == nil {
		msgs, done, wake := q.take(p.BatchSize, time.Now())
		if msgs == nil {
			// A change, or time (the groups' batches turn slow or stop
			// being quick), may give this worker a batch.
			t := time.NewTimer(fairHold / 4)
			select {
			case <-wake:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
			continue
		}
		p.handle(ctx, msgs)
		done()
	}
}

// fairKeep extends the visibility of the buffered messages before it ends,
// until ctx ends.
func (p *SQSPoller) fairKeep(ctx context.Context, q *fairQueue) {
	keep := p.keepFor()
	tick := time.NewTicker(min(time.Second, keep/4))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := q.due(time.Now(), keep/2)
		for start := 0; start < len(due); start += 10 {
			chunk := due[start:min(start+10, len(due))]
			entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
			for i, m := range chunk {
				entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle,
					VisibilityTimeout: int32(keep / time.Second)}
			}
			until := time.Now().Add(keep)
			out, err := p.Client.ChangeMessageVisibilityBatch(context.WithoutCancel(ctx), &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries})
			if err != nil {
				// Tried again at the next tick.
				p.Logger.ErrorContext(ctx, "sqs poller: keep buffered messages hidden", "queue", p.QueueURL, "messages", len(chunk), "err", err)
				continue
			}
			ok, failed := map[string]bool{}, map[string]bool{}
			for _, s := range out.Successful {
				if i, err := strconv.Atoi(aws.ToString(s.Id)); err == nil && i >= 0 && i < len(chunk) {
					ok[aws.ToString(chunk[i].ReceiptHandle)] = true
				}
			}
			for _, f := range out.Failed {
				if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= 0 && i < len(chunk) {
					failed[aws.ToString(chunk[i].ReceiptHandle)] = true
					p.Logger.WarnContext(ctx, "sqs poller: a buffered message's visibility ended; left to the queue",
						"queue", p.QueueURL, "message", aws.ToString(chunk[i].MessageId), "code", aws.ToString(f.Code))
				}
			}
			q.extended(ok, failed, until)
		}
	}
}

// groupOf is the default GroupOf: the MessageGroupId attribute.
func groupOf(m types.Message) string {
	return m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
}

func (p *SQSPoller) groupOf(m types.Message) string {
	if p.GroupOf != nil {
		return p.GroupOf(m)
	}
	return groupOf(m)
}
