package pollers

import (
	"context"
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
// that holds more than its share of the messages in flight after those of
// the other groups. Locally the pollers do it on their side:
//
//   - Each message being handled counts against its group (GroupOf). A
//     group is active while it has messages in hand or was seen in a
//     receive in the last FairWindow.
//   - A group may hold at most its fair share of the pollers' capacity
//     (Concurrency × BatchSize messages) divided evenly among the active
//     groups, and never all of it: one batch's worth is kept for the
//     groups that have not been seen yet, so a worker keeps receiving
//     past a busy tenant's backlog and finds the others.
//   - A received message over its group's share goes back to the queue:
//     a copy (same body, attributes and group) is sent to the back and the
//     received one deleted. Nothing is lost (the copy is sent before the
//     original is deleted; a copy that cannot be sent is handled instead)
//     and nothing is counted: a delivery's attempts travel in its body,
//     and the copy starts with no receives, so the queue's redrive limit
//     is spent on real failures only.
type fairness struct {
	capacity, reserve int
	window            time.Duration
	now               func() time.Time

	mu       sync.Mutex
	inFlight map[string]int
	seen     map[string]time.Time
}

func newFairness(concurrency, batchSize int, window time.Duration) *fairness {
	f := &fairness{capacity: concurrency * batchSize, window: window, now: time.Now,
		inFlight: map[string]int{}, seen: map[string]time.Time{}}
	if concurrency > 1 {
		f.reserve = batchSize
	}
	return f
}

// admit splits a received batch (groups[i] is msgs[i]'s group) into the
// messages to handle now, counted in flight until release, and those to
// send back.
func (f *fairness) admit(groups []string) (keep, back []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for _, g := range groups {
		f.seen[g] = now
	}
	active := 0
	for g, t := range f.seen {
		switch {
		case f.inFlight[g] > 0 || now.Sub(t) < f.window:
			active++
		default:
			delete(f.seen, g)
		}
	}
	share := (f.capacity + active - 1) / max(active, 1)
	share = max(min(share, f.capacity-f.reserve), 1)
	for i, g := range groups {
		if f.inFlight[g] < share {
			f.inFlight[g]++
			keep = append(keep, i)
		} else {
			back = append(back, i)
		}
	}
	return keep, back
}

// release ends the flight of handled messages of groups.
func (f *fairness) release(groups []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range groups {
		if f.inFlight[g]--; f.inFlight[g] <= 0 {
			delete(f.inFlight, g)
		}
	}
}

// fairPause is how long a worker waits after sending a whole batch back,
// so that scanning a busy tenant's backlog does not spin; while the only
// active group is the busy one, the wait doubles with each batch sent back
// in a row, up to fairPauseMax: each scan moves ten of its messages to the
// back of the queue (more traffic, and those messages wait the whole
// queue again), and there is no other tenant to find yet.
const (
	fairPause    = 50 * time.Millisecond
	fairPauseMax = time.Second
)

// pause is the wait after a worker sent a whole batch back, its streak-th
// in a row (the worker's count, kept by the caller: reset when it handles
// a batch).
func (f *fairness) pause(streak *int) time.Duration {
	f.mu.Lock()
	alone := len(f.seen) <= 1
	f.mu.Unlock()
	if !alone {
		*streak = 0
		return fairPause
	}
	*streak = min(*streak+1, 8)
	return min(fairPause<<(*streak-1), fairPauseMax)
}

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
	keepIdx, backIdx := p.fair.admit(groups)
	var back []types.Message
	for _, i := range backIdx {
		back = append(back, msgs[i])
	}
	unsent := p.sendBack(ctx, back, groups, backIdx)
	if len(unsent) > 0 {
		// Handled now rather than risked; counted in flight as well.
		for _, i := range unsent {
			p.fair.mu.Lock()
			p.fair.inFlight[groups[i]]++
			p.fair.mu.Unlock()
		}
		keepIdx = append(keepIdx, unsent...)
	}
	keep := make([]types.Message, 0, len(keepIdx))
	kept := make([]string, 0, len(keepIdx))
	for _, i := range keepIdx {
		keep = append(keep, msgs[i])
		kept = append(kept, groups[i])
	}
	return keep, func() { p.fair.release(kept) }
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
			MessageAttributes: m.MessageAttributes, MessageGroupId: group}
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
