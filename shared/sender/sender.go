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
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/queue"
)

// Task is an outbox queue message: which message to send.
type Task struct {
	TenantID  string `json:"tenant_id"`
	MessageID string `json:"message_id"`
}

// Store is what the sender reads and writes (ddbstore.Messages).
type Store interface {
	ClaimMessage(ctx context.Context, tenantID, id, token string, now time.Time, lease time.Duration) (m messages.Message, done bool, err error)
	RecordSent(ctx context.Context, m messages.Message, providerID string, at time.Time) error
	RecordRetry(ctx context.Context, tenantID, id, token string, f messages.Failure) error
	RecordFailed(ctx context.Context, tenantID, id string, f messages.Failure, at time.Time, attempted bool) error
	ReleaseClaim(ctx context.Context, tenantID, id, token string) error
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

	// accepted holds messages the provider accepted whose acceptance could
	// not be written: message key → provider id.
	accepted sync.Map
}

// outcome is what became of one queue message.
type outcome struct {
	done bool          // finished with: SQS deletes it
	hide time.Duration // else hidden this long
}

// Handle is the SQS event handler (ReportBatchItemFailures): the messages
// of a batch are sent in parallel.
func (s *Sender) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	outs := make([]outcome, len(ev.Records))
	var wg sync.WaitGroup
	for i, m := range ev.Records {
		wg.Go(func() { outs[i] = s.handle(ctx, m) })
	}
	wg.Wait()
	var out events.SQSEventResponse
	for i, m := range ev.Records {
		if outs[i].done {
			continue
		}
		s.hideFor(ctx, m, outs[i].hide)
		out.BatchItemFailures = append(out.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
	}
	return out, nil
}

func (s *Sender) handle(ctx context.Context, qm events.SQSMessage) outcome {
	var t Task
	if err := json.Unmarshal([]byte(qm.Body), &t); err != nil || t.TenantID == "" || t.MessageID == "" {
		s.Log.ErrorContext(ctx, "unreadable outbox message dropped", "message_id", qm.MessageId, "err", err)
		return outcome{done: true}
	}
	fault := func(what string, err error) outcome {
		s.Log.ErrorContext(ctx, what, "err", err, "tenant", t.TenantID, "message", t.MessageID)
		receives, _ := strconv.Atoi(qm.Attributes["ApproximateReceiveCount"])
		return outcome{hide: FaultBackoff(receives)}
	}
	token := newToken()
	now := s.Now()
	m, done, err := s.Store.ClaimMessage(ctx, t.TenantID, t.MessageID, token, now, Lease)
	var claimed *messages.ClaimedError
	switch {
	case apperr.Is(err, apperr.KindNotFound):
		s.Log.WarnContext(ctx, "outbox message for a message that does not exist dropped", "tenant", t.TenantID, "message", t.MessageID)
		return outcome{done: true}
	case asClaimed(err, &claimed):
		return outcome{hide: claimed.Until.Sub(now) + time.Second}
	case err != nil:
		return fault("claim message", err)
	case done:
		return outcome{done: true} // sent or failed already: never again
	}
	key := t.TenantID + "#" + t.MessageID
	if pid, ok := s.accepted.Load(key); ok {
		// Accepted by the provider on an earlier receive, not yet recorded.
		if err := s.recordSent(ctx, m, pid.(string)); err != nil {
			return fault("record message sent", err)
		}
		s.accepted.Delete(key)
		return outcome{done: true}
	}
	failed := func(f messages.Failure, attempted bool) outcome {
		if err := s.Store.RecordFailed(ctx, m.TenantID, m.ID, f, s.Now(), attempted); err != nil {
			return fault("record message failed", err)
		}
		s.Log.InfoContext(ctx, "message failed", "tenant", m.TenantID, "message", m.ID, "code", f.Code, "error", f.Message)
		return outcome{done: true}
	}
	prov := s.Providers[m.ChannelKind]
	if prov == nil {
		return failed(messages.Failure{Code: CodeNoProvider, Message: fmt.Sprintf("No provider sends %s messages on this stage.", m.ChannelKind)}, false)
	}
	creds, err := s.Credentials.ProviderCredentials(ctx, m.TenantID, m.ChannelID)
	if apperr.Is(err, apperr.KindNotFound) {
		return failed(messages.Failure{Code: CodeNoCredentials, Message: "The channel has no provider credentials."}, false)
	}
	if err != nil {
		if rerr := s.Store.ReleaseClaim(ctx, m.TenantID, m.ID, token); rerr != nil {
			s.Log.ErrorContext(ctx, "release claim", "err", rerr, "message", m.ID)
		}
		return fault("read provider credentials", err)
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = queue.ProviderTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	start := time.Now()
	pid, err := prov.Send(cctx, creds, m)
	cancel()
	attempt := m.Attempts + 1
	if err == nil {
		s.Log.InfoContext(ctx, "message sent", "tenant", m.TenantID, "message", m.ID, "provider_id", pid, "attempt", attempt,
			"duration_ms", time.Since(start).Milliseconds())
		if err := s.recordSent(ctx, m, pid); err != nil {
			// Not sent again by this process: the next receive records it.
			s.accepted.Store(key, pid)
			return fault("record message sent", err)
		}
		return outcome{done: true}
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
	switch {
	case !pe.Retryable:
		return failed(f, true)
	case attempt >= maxAttempts:
		f.Message = fmt.Sprintf("%s (gave up after %d attempts)", f.Message, attempt)
		return failed(f, true)
	}
	if err := s.Store.RecordRetry(ctx, m.TenantID, m.ID, token, f); err != nil {
		// The attempt goes uncounted; the claim holds until its lease ends.
		s.Log.ErrorContext(ctx, "record retry", "err", err, "message", m.ID)
	}
	return outcome{hide: s.backoff(attempt, pe.RetryAfter)}
}

// recordSent records the provider's acceptance, trying the write three
// times before giving up.
func (s *Sender) recordSent(ctx context.Context, m messages.Message, pid string) error {
	var err error
	for i := range 3 {
		if i > 0 {
			time.Sleep(time.Duration(i*i) * 100 * time.Millisecond)
		}
		if err = s.Store.RecordSent(ctx, m, pid, s.Now()); err == nil {
			return nil
		}
	}
	return err
}

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
