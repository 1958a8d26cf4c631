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
// processing time after those of the other groups. Locally the pollers do
// it on their side, counting workers (processing time), not messages: a
// batch of one slow message holds its worker as long as a batch of ten.
//
//   - A worker handling a batch is busy, and holds each group that has a
//     message in its batch (GroupOf). A group is active while a worker
//     holds it or it was seen in a receive in the last FairWindow.
//   - A group alone (no other active) is never over its share: nothing of
//     it is sent back while a worker frees up within fairHold. Its batch at
//     the last free worker waits (in hand, not handled) for another worker
//     to be released and is then handled, so a lone tenant keeps every
//     worker but one handling and one batch ready; only when every other
//     worker has stayed busy for fairHold (slow handlers: a lone tenant
//     may be hiding another's messages behind its backlog) does that batch
//     go back, and the worker receive again. A single tenant thus costs no
//     more queue traffic than without fairness, and with slow handlers at
//     most one batch per fairHold.
//   - With others active, a group's share is the workers divided evenly
//     among them (rounded up). A received message of a group held by fewer
//     workers than its share is handled. One of a group at or over its
//     share is handled too while, the batch taken, another worker is still
//     free to receive (workers the others do not use are not left idle),
//     and at the last free worker while none of the group's batches in
//     hand has run for fairHold (a group whose batches are quick gives the
//     worker back at once) or no other group holds fewer workers than its
//     share (none has a claim on it; a batch holding two groups, one of
//     them hanging, makes both look slow). Otherwise, a group at its share
//     whose batches are slow at the last free worker while another has a
//     claim on it, it goes back to the queue, so that
//     the last free worker keeps receiving past a busy tenant's backlog
//     and finds the others' messages. Sending back thus happens only when
//     two tenants or more compete for the last free worker, and a tenant
//     whose batches hang holds every worker but one at most.
//   - A message goes back as a copy (same body, attributes and group) sent
//     to the back of the queue, delayed by fairBackDelay, and the received
//     one is deleted. Nothing
//     is lost (the copy is sent before the original is deleted; a copy
//     that cannot be sent is handled instead) and nothing is counted: a
//     delivery's attempts travel in its body, and the copy starts with no
//     receives, so the queue's redrive limit is spent on real failures
//     only.
type fairness struct {
	workers int
	window  time.Duration
	now     func() time.Time

	mu      sync.Mutex
	held    map[string]int // by group: the busy workers holding it
	busy    int            // workers handling a batch
	tickets map[*ticket]bool
	seen    map[string]time.Time
	freed   chan struct{} // closed when a worker is released
}

// ticket is a busy worker's batch: its groups and when it was taken.
type ticket struct {
	groups []string // distinct
	start  time.Time
}

// newFairness shares concurrency workers; the batch size does not count
// (a worker is held as long by one slow message as by ten).
func newFairness(concurrency, _ int, window time.Duration) *fairness {
	return &fairness{workers: concurrency, window: window, now: time.Now,
		held: map[string]int{}, seen: map[string]time.Time{}, tickets: map[*ticket]bool{}}
}

// claimed reports whether an active group other than g holds fewer
// workers than share: it has a claim on the last free worker (f.mu held;
// f.seen holds the active groups).
func (f *fairness) claimed(g string, share int) bool {
	for h := range f.seen {
		if h != g && f.held[h] < share {
			return true
		}
	}
	return false
}

// slow reports whether a batch in hand holding group g has run fairHold or
// longer (f.mu held).
func (f *fairness) slow(g string, now time.Time) bool {
	for t := range f.tickets {
		if now.Sub(t.start) >= fairHold && slices.Contains(t.groups, g) {
			return true
		}
	}
	return false
}

// admit splits a batch received by an idle worker (groups[i] is msgs[i]'s
// group) into the messages to handle now, the worker then busy holding
// their groups until it releases the ticket, and those to send back. hold reports a lone
// group's batch at the last free worker: nothing is counted, and the
// caller waits up to fairHold for another worker to be released (freed)
// before asking again with last set, when the batch goes back if it is
// still the case.
func (f *fairness) admit(groups []string, last bool) (keep, back []int, t *ticket, hold bool, freed <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for _, g := range groups {
		f.seen[g] = now
	}
	active := 0
	for g, t := range f.seen {
		switch {
		case f.held[g] > 0 || now.Sub(t) < f.window:
			active++
		default:
			delete(f.seen, g)
		}
	}
	// Another worker stays free to receive once this one is busy.
	spare := f.busy+1 < f.workers
	if active <= 1 && !spare && f.workers > 1 {
		if !last {
			if f.freed == nil {
				f.freed = make(chan struct{})
			}
			return nil, nil, nil, true, f.freed
		}
		for i := range groups {
			back = append(back, i)
		}
		return nil, back, nil, false, nil
	}
	share := (f.workers + active - 1) / max(active, 1)
	taken := map[string]bool{}
	for i, g := range groups {
		if ok, seen := taken[g]; seen {
			if ok {
				keep = append(keep, i)
			} else {
				back = append(back, i)
			}
			continue
		}
		ok := active <= 1 || f.held[g] < share || spare || !f.slow(g, now) || !f.claimed(g, share)
		taken[g] = ok
		if ok {
			keep = append(keep, i)
		} else {
			back = append(back, i)
		}
	}
	if len(keep) > 0 {
		t = f.take(groups, keep, now)
	}
	return keep, back, t, false, nil
}

// take makes the worker busy holding the groups of groups[idx] (f.mu
// held).
func (f *fairness) take(groups []string, idx []int, now time.Time) *ticket {
	t := &ticket{start: now}
	for _, i := range idx {
		if g := groups[i]; !slices.Contains(t.groups, g) {
			t.groups = append(t.groups, g)
			f.held[g]++
		}
	}
	f.tickets[t] = true
	f.busy++
	return t
}

// release ends a busy worker's hold on the groups of its batch (nil: none).
func (f *fairness) release(t *ticket) {
	if t == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.release0(t)
}

// release0 is release with f.mu held.
func (f *fairness) release0(t *ticket) {
	if !f.tickets[t] {
		return
	}
	delete(f.tickets, t)
	for _, g := range t.groups {
		if f.held[g]--; f.held[g] <= 0 {
			delete(f.held, g)
		}
	}
	f.busy--
	if f.freed != nil {
		close(f.freed)
		f.freed = nil
	}
}

// fairPause is how long a worker waits after sending a whole batch back,
// so that scanning a busy tenant's backlog does not spin.
const fairPause = 50 * time.Millisecond

// fairBackDelay (seconds) delays the copies sent back: a tenant held back
// has its messages come round once a second rather than at every receive,
// so that the worker looking for the others' messages is not kept busy
// sending the same ones back, nor the others' messages stuck behind them.
const fairBackDelay = 1

// fairHold is how long the last free worker keeps a lone group's batch
// while every other worker is busy, waiting for one to be released, before
// it sends the batch back and receives again.
const fairHold = 200 * time.Millisecond

// groupOf is the default GroupOf: the MessageGroupId attribute.
func groupOf(m types.Message) string {
	return m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
}

// fairBatch applies the fair share to a received batch: it returns the
// messages to handle now and a function that releases them; the others are
// sent back to the queue.
func (p *SQSPoller) fairBatch(ctx context.Context, msgs []types.Message) ([]types.Message, func()) {
	groups := make([]string, len(msgs))
	for i, m := range msgs {
		groups[i] = p.groupOf(m)
	}
	keepIdx, backIdx, tk, hold, freed := p.fair.admit(groups, false)
	if hold {
		t := time.NewTimer(fairHold)
		select {
		case <-freed:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		keepIdx, backIdx, tk, _, _ = p.fair.admit(groups, true)
	}
	var back []types.Message
	for _, i := range backIdx {
		back = append(back, msgs[i])
	}
	unsent := p.sendBack(ctx, back, groups, backIdx)
	if len(unsent) > 0 {
		// Handled now rather than risked; held as well.
		p.fair.mu.Lock()
		if tk != nil {
			p.fair.release0(tk)
		}
		keepIdx = append(keepIdx, unsent...)
		tk = p.fair.take(groups, keepIdx, p.fair.now())
		p.fair.mu.Unlock()
	}
	keep := make([]types.Message, 0, len(keepIdx))
	for _, i := range keepIdx {
		keep = append(keep, msgs[i])
	}
	return keep, func() { p.fair.release(tk) }
}

func (p *SQSPoller) groupOf(m types.Message) string {
	if p.GroupOf != nil {
		return p.GroupOf(m)
	}
	return groupOf(m)
}

// sendBack puts msgs (msgs[k] is the batch's message idx[k]) back at the
// end of the queue: copies are sent, then the received ones deleted. It
// returns the batch indexes of the messages whose copy was not sent: they
// stay with the caller.
func (p *SQSPoller) sendBack(ctx context.Context, msgs []types.Message, groups []string, idx []int) (unsent []int) {
	if len(msgs) == 0 {
		return nil
	}
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	for k, m := range msgs {
		var group *string
		if g := groups[idx[k]]; g != "" {
			group = aws.String(g)
		}
		entries[k] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(k)), MessageBody: m.Body,
			MessageAttributes: m.MessageAttributes, MessageGroupId: group, DelaySeconds: fairBackDelay}
	}
	bctx := context.WithoutCancel(ctx)
	out, err := p.Client.SendMessageBatch(bctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries})
	if err != nil {
		p.Logger.ErrorContext(ctx, "sqs poller: send back over fair share", "queue", p.QueueURL, "err", err)
		return idx
	}
	sent := map[int]bool{}
	for _, s := range out.Successful {
		k, _ := strconv.Atoi(aws.ToString(s.Id))
		sent[k] = true
	}
	var del []types.DeleteMessageBatchRequestEntry
	for k, m := range msgs {
		if !sent[k] {
			unsent = append(unsent, idx[k])
			continue
		}
		del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(k)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(del) > 0 {
		// A failed delete leaves the original to come back after its
		// visibility timeout: a repeat, which receivers drop by webhook-id.
		if dout, err := p.Client.DeleteMessageBatch(bctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: del}); err != nil {
			p.Logger.ErrorContext(ctx, "sqs poller: delete what was sent back", "queue", p.QueueURL, "err", err)
		} else if len(dout.Failed) > 0 {
			p.Logger.ErrorContext(ctx, "sqs poller: delete what was sent back", "queue", p.QueueURL, "failed", len(dout.Failed))
		}
	}
	p.Logger.DebugContext(ctx, "sqs poller: sent back over fair share", "queue", p.QueueURL, "messages", len(del))
	return unsent
}
