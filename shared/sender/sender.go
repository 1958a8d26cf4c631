// Package sender is the outbox queue's consumer: it hands each new outbound
// message to its channel's provider (the Provider port, by channel kind)
// and records the outcome on the message: sent with the provider's id,
// failed with the provider's code and text, or still queued with one more
// attempt counted and its error, to be tried again after a backoff (the
// queue message hidden, as the dispatcher does).
//
// # Once, by our message id
//
// The queue may hand the same message over more than once (the router
// queues it again when it retries a stream batch; SQS delivers at least
// once). A sender therefore claims the message before calling the provider
// (a conditional write: status queued and no live claim; the claim is a
// token with a lease longer than a provider call), and records the
// provider's acceptance (status sent, its id, the pointer from that id to
// the message) in one transaction before SQS deletes the queue message. A
// copy that comes later finds the message sent and is dropped; one that
// comes while the claim is live is hidden until the lease ends and then
// finds the outcome.
//
// # In batches
//
// A batch of queue messages (up to 10) is claimed in one round of the
// store (one transaction of their claims, checking each message as its
// task carried it; a task that carries none is read first), sent in
// parallel, and the outcomes recorded in one transaction
// (a call that ends FlushWindow after another is recorded without
// waiting for the rest); each message keeps its own conditions, so one
// message's claim lost to another sender, or its outcome already recorded,
// leaves the others as they are. Two copies of a message in one batch: the
// first stands for both. A channel's credentials are read once per batch
// and kept by the process for CredentialsTTL (30 s): a change of them is
// in use within that time, and a provider's refusal of the credentials
// drops them at once.
//
// What cannot be made exactly once: the provider accepted the message but
// its answer never reached us (a timeout after the provider took it), or
// the sender died between the provider's answer and its write (a few
// milliseconds; a write that fails is retried at once, then remembered by
// the process and recorded on the next receive instead of a new call).
// Then the claim's lease runs out, the message is still queued, and the
// next receive calls the provider again: the contact may get it twice.
// The Cloud API has no idempotency key to prevent that; the alternative,
// never calling again after an unknown outcome, would lose messages, which
// is worse for a bot. Everything else (a crash before the call, a 4xx, a
// 5xx, 429, a store failure) sends at most once.
//
// # Rollouts
//
// Claims are items of the operations table; the previous version of the
// sender claimed on the message item (claim, claim_until). A deploy
// replaces the sender's code while invocations of the old code run (up to
// queue.SenderTimeout, 30 s), and for a short while after an update Lambda
// serves either version (AWS says typically under a minute); a rollback
// likewise, the other way. So the two versions run side by side. Each
// sees the other's outcomes: sent, failed and retried are all recorded on
// the message item, whose status and attempts both versions condition
// their claims on; a message one recorded done is never claimed by the
// other, and one recorded for a retry only on a fresh read, as any retry.
// This version honours a claim on the message item until its lease ends
// (ddbstore TestOldStyleClaimHonoured). The previous version does not see
// this version's claim items: while one is live, it claims the message
// too and calls the provider (ddbstore TestPreviousSenderBesideClaimItems).
// That needs two copies of one message's task (the router queueing it
// again for a retried stream batch, or SQS delivering one twice), handled
// by senders of the two versions within one invocation of each other:
// rare, and the one way a rollout between these versions can send twice.
// To close it, a rollout or rollback across this change pauses the
// sender: disable the outbox's event source mapping (aws lambda
// update-event-source-mapping --uuid … --no-enabled), wait
// queue.SenderTimeout for the running invocations to end, deploy, wait a
// minute more after the update has completed, and enable it again. The
// messages wait on the outbox meanwhile (none is lost), and no two
// versions run at once.
package sender

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/queue"
)

// Task is an outbox queue message: which message to send, and the
// message itself as the API stored it (Item: its item's stream image, in
// DynamoDB's JSON), so that the sender claims it without reading it
// first. A task without Item (queued before tasks carried it, or a
// message too large to carry) is read.
type Task struct {
	TenantID  string          `json:"tenant_id"`
	MessageID string          `json:"message_id"`
	Item      json.RawMessage `json:"item,omitempty"`
}

// MaxTaskItem is the largest Item a task carries (an outbox message is at
// most 256 KiB); a larger message is read by the sender instead.
const MaxTaskItem = 128 << 10

// NewTask is m's task as the trigger router queues it from m's stream
// record (benchmarks and tests queue tasks themselves).
func NewTask(m messages.Message) Task {
	t := Task{TenantID: m.TenantID, MessageID: m.ID}
	if raw, err := attributevalue.MarshalMap(m); err == nil {
		if b, err := attributevalue.MarshalMapJSON(raw); err == nil && len(b) <= MaxTaskItem {
			t.Item = b
		}
	}
	return t
}

// Message is the message the task carries (nil when it carries none, or
// not this one queued).
func (t Task) Message() *messages.Message {
	if len(t.Item) == 0 {
		return nil
	}
	raw, err := attributevalue.UnmarshalMapJSON(t.Item)
	if err != nil {
		return nil
	}
	var m messages.Message
	if attributevalue.UnmarshalMap(raw, &m) != nil || m.TenantID != t.TenantID || m.ID != t.MessageID || m.Status != messages.StatusQueued {
		return nil
	}
	return &m
}

// Store is what the sender reads and writes (ddbstore.Messages): a batch's
// messages are claimed together (those their tasks carry without a read)
// and the outcomes of their provider calls recorded together, each message
// with its own conditions (see messages.Claim and messages.Outcome).
type Store interface {
	ClaimQueued(ctx context.Context, reqs []messages.ClaimRequest, token string, now time.Time, lease time.Duration) []messages.Claim
	RecordOutcomes(ctx context.Context, os []messages.Outcome) []error
}

// QueueAPI is the part of the SQS client the sender uses: it hides a
// message until its next attempt is due.
type QueueAPI interface {
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Retry schedule: attempt n waits RetryBase·2^(n-1), at most RetryCap,
// spread ±20 %; a provider's Retry-After is taken as it is (at most
// RetryCap).
const (
	RetryBase = 5 * time.Second
	RetryCap  = 15 * time.Minute
)

// Lease is how long a claim holds: longer than a provider call and the
// writes around it (queue.SenderTimeout).
const Lease = 2 * queue.SenderTimeout

// CredentialsTTL is how long a sender process uses a channel's provider
// credentials once read: a change of them (a new access token set through
// the admin API) is used by every send that starts CredentialsTTL after it
// at the latest. A provider's refusal of kept credentials themselves
// (WhatsApp code 190, or a 401) drops them at once, and the message is
// tried again with a fresh read.
const CredentialsTTL = 30 * time.Second

// FlushWindow is how long a recorded outcome waits for the rest of its
// batch's provider calls before it is written without them: one write for
// the batch when the calls end together, and a slow call (a provider
// timeout) delays the others' records by no more than this.
const FlushWindow = 50 * time.Millisecond

// Sender holds what sending needs.
type Sender struct {
	Store       Store
	Providers   map[string]Provider // by channel kind
	Credentials CredentialStore
	Queue       QueueAPI
	QueueURL    string
	Now         func() time.Time
	// Jitter returns a number in [-1, 1] for the ±20 % spread of backoffs.
	Jitter func() float64
	Log    *slog.Logger
	// MaxAttempts is how many provider calls a message gets
	// (queue.OutboxMaxAttempts when 0).
	MaxAttempts int
	// Timeout bounds one provider call (queue.ProviderTimeout when 0).
	Timeout time.Duration
	// Schedule, when set, replaces Backoff as the wait after attempt n
	// failed (retryAfter: the provider's Retry-After, 0 without one):
	// benchmarks compress the retry schedule with it.
	Schedule func(n int, retryAfter time.Duration) time.Duration
	// CredentialsTTL is how long read credentials are kept (CredentialsTTL
	// when 0; negative: read for every batch).
	CredentialsTTL time.Duration
	// FlushWindow is FlushWindow when 0.
	FlushWindow time.Duration

	// accepted holds messages the provider accepted whose acceptance could
	// not be written: message key → provider id.
	accepted sync.Map
	creds    credCache
}

// outcome is what became of one queue message.
type outcome struct {
	done bool          // finished with: SQS deletes it
	hide time.Duration // else hidden this long
}

// item is one queue message of a batch on its way.
type item struct {
	qm     events.SQSMessage
	key    messages.Key
	queued *messages.Message // as the task carried it (nil: read it)
	m      messages.Message  // as claimed
	out    outcome
	cred   Credentials
	// cached: cred came from the cache, not read for this batch.
	cached bool
}

// write is an outcome to record and what follows from its write.
type write struct {
	it    *item
	o     messages.Outcome
	after func(err error) // sets it.out
	tries int
}

// Handle is the SQS event handler (ReportBatchItemFailures). The batch's
// messages are claimed together, sent in parallel, and their outcomes
// recorded together (FlushWindow).
func (s *Sender) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	its := make([]*item, len(ev.Records))
	first := map[messages.Key]bool{}
	var claim []*item
	for i, qm := range ev.Records {
		it := &item{qm: qm}
		its[i] = it
		var t Task
		if err := json.Unmarshal([]byte(qm.Body), &t); err != nil || t.TenantID == "" || t.MessageID == "" {
			s.Log.ErrorContext(ctx, "unreadable outbox message dropped", "message_id", qm.MessageId, "err", err)
			it.out = outcome{done: true}
			continue
		}
		it.key = messages.Key{TenantID: t.TenantID, ID: t.MessageID}
		it.queued = t.Message()
		if first[it.key] {
			// Another copy of a message of this batch: the first copy
			// stands for both (it stays queued until the message is done).
			it.out = outcome{done: true}
			continue
		}
		first[it.key] = true
		claim = append(claim, it)
	}
	if len(claim) > 0 {
		s.send(ctx, claim)
	}
	var out events.SQSEventResponse
	for _, it := range its {
		if it.out.done {
			continue
		}
		s.hideFor(ctx, it.qm, it.out.hide)
		out.BatchItemFailures = append(out.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: it.qm.MessageId})
	}
	return out, nil
}

// fault sets it to be tried again after the sender's own fault.
func (s *Sender) fault(ctx context.Context, it *item, what string, err error) {
	s.Log.ErrorContext(ctx, what, "err", err, "tenant", it.key.TenantID, "message", it.key.ID)
	receives, _ := strconv.Atoi(it.qm.Attributes["ApproximateReceiveCount"])
	it.out = outcome{hide: FaultBackoff(receives)}
}

// send claims the items' messages, calls the provider for each and records
// the outcomes.
func (s *Sender) send(ctx context.Context, its []*item) {
	token := newToken()
	now := s.Now()
	reqs := make([]messages.ClaimRequest, len(its))
	for i, it := range its {
		reqs[i] = messages.ClaimRequest{Key: it.key, Queued: it.queued}
	}
	claims := s.Store.ClaimQueued(ctx, reqs, token, now, Lease)
	var writes []*write
	failed := func(it *item, f messages.Failure, attempted bool) *write {
		return &write{it: it, o: messages.Outcome{Kind: messages.OutcomeFailed, Message: it.m, Failure: f, At: s.Now(), Attempted: attempted},
			after: func(err error) {
				if err != nil {
					s.fault(ctx, it, "record message failed", err)
					return
				}
				s.Log.InfoContext(ctx, "message failed", "tenant", it.m.TenantID, "message", it.m.ID, "code", f.Code, "error", f.Message)
				it.out = outcome{done: true}
			}}
	}
	var toSend []*item
	for i, it := range its {
		c := claims[i]
		var claimed *messages.ClaimedError
		switch {
		case apperr.Is(c.Err, apperr.KindNotFound):
			s.Log.WarnContext(ctx, "outbox message for a message that does not exist dropped", "tenant", it.key.TenantID, "message", it.key.ID)
			it.out = outcome{done: true}
			continue
		case asClaimed(c.Err, &claimed):
			it.out = outcome{hide: claimed.Until.Sub(now) + time.Second}
			continue
		case c.Err != nil:
			s.fault(ctx, it, "claim message", c.Err)
			continue
		case c.Done:
			it.out = outcome{done: true} // sent or failed already: never again
			continue
		}
		it.m = c.Message
		k := it.key.TenantID + "#" + it.key.ID
		if pid, ok := s.accepted.Load(k); ok {
			// Accepted by the provider on an earlier receive, not yet recorded.
			writes = append(writes, s.sentWrite(ctx, it, pid.(string), func() { s.accepted.Delete(k) }))
			continue
		}
		if s.Providers[it.m.ChannelKind] == nil {
			writes = append(writes, failed(it, messages.Failure{Code: CodeNoProvider, Message: fmt.Sprintf("No provider sends %s messages on this stage.", it.m.ChannelKind)}, false))
			continue
		}
		toSend = append(toSend, it)
	}
	toSend, ws := s.withCredentials(ctx, toSend, token, failed)
	writes = append(writes, ws...)

	results := make(chan *write, len(toSend))
	for _, it := range toSend {
		go func() { results <- s.call(ctx, it, token, failed) }()
	}
	window := s.FlushWindow
	if window <= 0 {
		window = FlushWindow
	}
	var timer <-chan time.Time
	for left := len(toSend); left > 0; {
		if len(writes) > 0 && timer == nil {
			timer = time.After(window)
		}
		select {
		case w := <-results:
			left--
			if w != nil {
				writes = append(writes, w)
			}
		case <-timer:
			s.flush(ctx, writes)
			writes, timer = nil, nil
		}
	}
	s.flush(ctx, writes)
}

// withCredentials gives each item its channel's credentials (one read per
// channel, or the cache): the items to send, and the writes of those that
// cannot be.
func (s *Sender) withCredentials(ctx context.Context, its []*item, token string, failed func(*item, messages.Failure, bool) *write) ([]*item, []*write) {
	type result struct {
		c      Credentials
		cached bool
		err    error
	}
	var channels []messages.Key // Key{tenant, channel}, once each
	seen := map[messages.Key]bool{}
	for _, it := range its {
		if ch := (messages.Key{TenantID: it.m.TenantID, ID: it.m.ChannelID}); !seen[ch] {
			seen[ch] = true
			channels = append(channels, ch)
		}
	}
	byChannel := make(map[messages.Key]*result, len(channels))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ch := range channels {
		wg.Go(func() {
			c, cached, err := s.credentials(ctx, ch.TenantID, ch.ID)
			mu.Lock()
			byChannel[ch] = &result{c, cached, err}
			mu.Unlock()
		})
	}
	wg.Wait()
	var send []*item
	var writes []*write
	for _, it := range its {
		r := byChannel[messages.Key{TenantID: it.m.TenantID, ID: it.m.ChannelID}]
		switch {
		case apperr.Is(r.err, apperr.KindNotFound):
			writes = append(writes, failed(it, messages.Failure{Code: CodeNoCredentials, Message: "The channel has no provider credentials."}, false))
		case r.err != nil:
			s.fault(ctx, it, "read provider credentials", r.err)
			writes = append(writes, &write{it: it, o: messages.Outcome{Kind: messages.OutcomeRelease, Message: it.m, Token: token},
				after: func(err error) {
					if err != nil {
						s.Log.ErrorContext(ctx, "release claim", "err", err, "message", it.m.ID)
					}
				}})
		default:
			it.cred, it.cached = r.c, r.cached
			send = append(send, it)
		}
	}
	return send, writes
}

// call makes one provider call and returns the write of its outcome.
func (s *Sender) call(ctx context.Context, it *item, token string, failed func(*item, messages.Failure, bool) *write) *write {
	m := it.m
	timeout := s.Timeout
	if timeout == 0 {
		timeout = queue.ProviderTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	start := time.Now()
	pid, err := s.Providers[m.ChannelKind].Send(cctx, it.cred, m)
	cancel()
	attempt := m.Attempts + 1
	if err == nil {
		s.Log.InfoContext(ctx, "message sent", "tenant", m.TenantID, "message", m.ID, "provider_id", pid, "attempt", attempt,
			"duration_ms", time.Since(start).Milliseconds())
		return s.sentWrite(ctx, it, pid, nil)
	}
	pe := classify(err)
	f := messages.Failure{Code: pe.Code, Message: pe.Message}
	if f.Code == "" && pe.HTTPStatus > 0 {
		f.Code = strconv.Itoa(pe.HTTPStatus)
	}
	s.Log.InfoContext(ctx, "provider refused message", "tenant", m.TenantID, "message", m.ID, "attempt", attempt, "http_status", pe.HTTPStatus,
		"code", f.Code, "error", f.Message, "retryable", pe.Retryable)
	maxAttempts := s.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = queue.OutboxMaxAttempts
	}
	retryable := pe.Retryable
	if !retryable && credentialRefusal[f.Code] && it.cached {
		// Credentials kept from an earlier batch may have been replaced
		// since: read them again for the next attempt.
		s.creds.forget(m.TenantID, m.ChannelID)
		retryable = true
	}
	switch {
	case !retryable:
		return failed(it, f, true)
	case attempt >= maxAttempts:
		f.Message = fmt.Sprintf("%s (gave up after %d attempts)", f.Message, attempt)
		return failed(it, f, true)
	}
	wait := s.backoff(attempt, pe.RetryAfter)
	if !pe.Retryable {
		wait = time.Second
	}
	return &write{it: it, o: messages.Outcome{Kind: messages.OutcomeRetry, Message: m, Token: token, Failure: f},
		after: func(err error) {
			if err != nil {
				// The attempt goes uncounted; the claim holds until its lease ends.
				s.Log.ErrorContext(ctx, "record retry", "err", err, "message", m.ID)
			}
			it.out = outcome{hide: wait}
		}}
}

// credentialRefusal are the failure codes that refuse the credentials
// themselves (WhatsApp: 190, access token expired or invalid; a 401
// without a code, as the Cloud API client names it).
var credentialRefusal = map[string]bool{"190": true, "http_401": true}

// sentWrite records the provider's acceptance; recorded, then runs (if
// not nil). A write that fails is tried again (flush); when it cannot be
// made, the process remembers the provider id and records it on the next
// receive instead of calling the provider again.
func (s *Sender) sentWrite(ctx context.Context, it *item, pid string, recorded func()) *write {
	return &write{it: it, o: messages.Outcome{Kind: messages.OutcomeSent, Message: it.m, ProviderID: pid, At: s.Now()},
		after: func(err error) {
			if err != nil {
				s.accepted.Store(it.key.TenantID+"#"+it.key.ID, pid)
				s.fault(ctx, it, "record message sent", err)
				return
			}
			if recorded != nil {
				recorded()
			}
			it.out = outcome{done: true}
		}}
}

// flush records the writes in one batch; a sent write that fails is tried
// twice more (100 ms, then 400 ms later) before its failure is taken.
func (s *Sender) flush(ctx context.Context, ws []*write) {
	for len(ws) > 0 {
		os := make([]messages.Outcome, len(ws))
		for i, w := range ws {
			os[i] = w.o
		}
		errs := s.Store.RecordOutcomes(ctx, os)
		var again []*write
		for i, w := range ws {
			w.tries++
			if errs[i] != nil && w.o.Kind == messages.OutcomeSent && w.tries < 3 {
				again = append(again, w)
				continue
			}
			w.after(errs[i])
		}
		if len(again) > 0 {
			time.Sleep(time.Duration(again[0].tries*again[0].tries) * 100 * time.Millisecond)
		}
		ws = again
	}
}

// credentials reads a channel's provider credentials, from the cache when
// they were read less than CredentialsTTL ago (cached true). Not found and
// errors are not kept.
func (s *Sender) credentials(ctx context.Context, tenantID, channelID string) (Credentials, bool, error) {
	ttl := s.CredentialsTTL
	if ttl == 0 {
		ttl = CredentialsTTL
	}
	now := s.Now()
	if ttl > 0 {
		if c, ok := s.creds.get(tenantID, channelID, now, ttl); ok {
			return c, true, nil
		}
	}
	c, err := s.Credentials.ProviderCredentials(ctx, tenantID, channelID)
	if err == nil && ttl > 0 {
		s.creds.put(tenantID, channelID, c, now)
	}
	return c, false, err
}

// credCache keeps channels' provider credentials with the time they were
// read.
type credCache struct {
	mu sync.Mutex
	m  map[string]credEntry
}

type credEntry struct {
	c  Credentials
	at time.Time
}

func (c *credCache) get(tenantID, channelID string, now time.Time, ttl time.Duration) (Credentials, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[tenantID+"#"+channelID]
	if !ok || now.Sub(e.at) >= ttl || now.Before(e.at) {
		return Credentials{}, false
	}
	return e.c, true
}

func (c *credCache) put(tenantID, channelID string, cr Credentials, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]credEntry{}
	}
	if len(c.m) >= maxCachedChannels {
		for k, e := range c.m {
			if at.Sub(e.at) >= CredentialsTTL {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCachedChannels {
			clear(c.m)
		}
	}
	c.m[tenantID+"#"+channelID] = credEntry{c: cr, at: at}
}

func (c *credCache) forget(tenantID, channelID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, tenantID+"#"+channelID)
}

// maxCachedChannels bounds the cache of one process.
const maxCachedChannels = 10000

// Backoff is the wait after attempt n (from 1) failed: RetryBase·2^(n-1)
// at most RetryCap, or the provider's Retry-After when it gave one.
func Backoff(n int, retryAfter time.Duration, jitter float64) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, RetryCap)
	}
	d := min(RetryBase<<min(max(n, 1)-1, 16), RetryCap)
	return time.Duration(float64(d) * (1 + 0.2*jitter))
}

func (s *Sender) backoff(n int, retryAfter time.Duration) time.Duration {
	if s.Schedule != nil {
		return s.Schedule(n, retryAfter)
	}
	j := 0.0
	if s.Jitter != nil {
		j = s.Jitter()
	}
	return Backoff(n, retryAfter, j)
}

// FaultBackoff is how long a message is hidden after the sender's own
// fault (its store failing) at its receives-th receive: 5 s, 10 s, 20 s,
// … at most 15 minutes; no attempt is spent.
func FaultBackoff(receives int) time.Duration {
	n := min(max(receives, 1), 16) - 1
	return min(5*time.Second<<n, 15*time.Minute)
}

// maxHide is the longest visibility SQS allows (12 h).
const maxHide = 12 * time.Hour

// hideFor keeps a message invisible for wait (whole seconds, at least 1 s:
// never 0, see dispatch.hide); the caller reports it failed.
func (s *Sender) hideFor(ctx context.Context, m events.SQSMessage, wait time.Duration) {
	secs := max(1, int32((min(wait, maxHide)+time.Second-1)/time.Second))
	_, err := s.Queue.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(s.QueueURL), ReceiptHandle: aws.String(m.ReceiptHandle), VisibilityTimeout: secs,
	})
	if err != nil {
		s.Log.ErrorContext(ctx, "change visibility", "err", err, "message_id", m.MessageId)
	}
}

func asClaimed(err error, out **messages.ClaimedError) bool { return errors.As(err, out) }

func jitter() float64 { return mrand.Float64()*2 - 1 }

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Ports are what the sender is built from; shared/wiring provides them.
type Ports interface {
	SenderStore() Store
	MessageProviders() map[string]Provider
	ProviderCredentials() CredentialStore
	AWSConfig() aws.Config
	Outbox() (url, dlq string)
	Clock() func() time.Time
}

// Build wires the sender for Lambda and the local poller.
func Build(p Ports) lambdaapp.QueueHandler {
	url, _ := p.Outbox()
	return New(p.SenderStore(), p.MessageProviders(), p.ProviderCredentials(), sqs.NewFromConfig(p.AWSConfig()), url, p.Clock()).Handle
}

// New returns a sender with real randomness.
func New(store Store, providers map[string]Provider, creds CredentialStore, q QueueAPI, queueURL string, now func() time.Time) *Sender {
	return &Sender{Store: store, Providers: providers, Credentials: creds, Queue: q, QueueURL: queueURL, Now: now,
		Jitter: jitter, Log: slog.Default()}
}
