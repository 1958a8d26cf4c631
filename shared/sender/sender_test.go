package sender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/queue"
	"github.com/startmsg/chatbackend/shared/sender"
	"github.com/startmsg/chatbackend/shared/sender/providertest"
)

func TestMain(m *testing.M) { emulators.Main(m) }

// countingDDB counts the calls the store makes to DynamoDB.
type countingDDB struct {
	*dynamodb.Client
	calls atomic.Int64
}

func (c *countingDDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.calls.Add(1)
	return c.Client.GetItem(ctx, in, o...)
}

func (c *countingDDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.calls.Add(1)
	return c.Client.PutItem(ctx, in, o...)
}

func (c *countingDDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.calls.Add(1)
	return c.Client.UpdateItem(ctx, in, o...)
}

func (c *countingDDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.calls.Add(1)
	return c.Client.BatchGetItem(ctx, in, o...)
}

func (c *countingDDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.calls.Add(1)
	return c.Client.TransactWriteItems(ctx, in, o...)
}

// channelCreds is a channel's credentials as the admin API sets them: the
// test changes them and counts the reads.
type channelCreds struct {
	mu    sync.Mutex
	c     sender.Credentials
	reads int
}

func (c *channelCreds) ProviderCredentials(context.Context, string, string) (sender.Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return c.c, nil
}

func (c *channelCreds) set(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c.AccessToken = token
}

func (c *channelCreds) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

type fixture struct {
	t     *testing.T
	store *ddbstore.Messages
	ddb   *countingDDB
	prov  *providertest.Server
	creds *channelCreds
	s     *sender.Sender
	now   atomic.Pointer[time.Time]
	seq   int
}

func newFixture(t *testing.T) *fixture {
	env := emulators.ForTest(t)
	f := &fixture{t: t, ddb: &countingDDB{Client: env.DDB}, prov: providertest.New(t)}
	f.store = &ddbstore.Messages{API: f.ddb, Table: env.Table, OpsTable: env.OpsTable}
	f.creds = &channelCreds{c: sender.Credentials{AccessToken: "token-1", AccountID: "1234567890", BaseURL: f.prov.URL}}
	start := time.Now()
	f.now.Store(&start)
	f.s = sender.New(f.store, map[string]sender.Provider{"whatsapp": providertest.Client{}}, f.creds, env.SQS, env.Queues.OutboxURL,
		func() time.Time { return *f.now.Load() })
	f.s.Log = slog.New(slog.DiscardHandler)
	return f
}

func (f *fixture) advance(d time.Duration) {
	t := f.now.Load().Add(d)
	f.now.Store(&t)
}

// batch stores n queued messages and returns their outbox batch.
func (f *fixture) batch(n int) (events.SQSEvent, []string) {
	f.t.Helper()
	var ev events.SQSEvent
	var ids []string
	for range n {
		f.seq++
		m := messages.Message{ID: fmt.Sprintf("msg_s%04d", f.seq), TenantID: "ten_a", ChannelID: "ch_a", ChannelKind: "whatsapp",
			Direction: messages.Outbound, Type: messages.TypeText, To: fmt.Sprintf("+9230000%05d", f.seq), Text: &messages.Text{Body: "hi"},
			Status: messages.StatusQueued, CreatedAt: f.now.Load().UnixMilli()}
		if err := f.store.CreateMessage(f.t.Context(), m); err != nil {
			f.t.Fatal(err)
		}
		body, err := json.Marshal(sender.NewTask(m))
		if err != nil {
			f.t.Fatal(err)
		}
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: "q-" + m.ID, ReceiptHandle: "rh-" + m.ID,
			Body: string(body), Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
		ids = append(ids, m.ID)
	}
	return ev, ids
}

func (f *fixture) handle(ev events.SQSEvent) events.SQSEventResponse {
	f.t.Helper()
	out, err := f.s.Handle(f.t.Context(), ev)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fixture) status(id string) messages.Message {
	f.t.Helper()
	m, err := f.store.GetMessage(f.t.Context(), "ten_a", id)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// A batch of ten is claimed in one round of the store and recorded in
// one: two DynamoDB calls for the ten messages (a transaction of the
// claims of the messages their tasks carry, a transaction of the
// outcomes), where one message at a time took three each. Tasks queued
// before they carried their message are read first: three calls.
func TestBatchWritesOnce(t *testing.T) {
	f := newFixture(t)
	ev, ids := f.batch(10)
	f.ddb.calls.Store(0)
	if out := f.handle(ev); len(out.BatchItemFailures) != 0 {
		t.Fatalf("failures: %+v", out.BatchItemFailures)
	}
	if n := f.ddb.calls.Load(); n != 2 {
		t.Errorf("%d DynamoDB calls for a batch of 10, want 2", n)
	}
	legacy, legacyIDs := f.batch(10)
	for i := range legacy.Records {
		legacy.Records[i].Body = fmt.Sprintf(`{"tenant_id":"ten_a","message_id":%q}`, legacyIDs[i])
	}
	f.ddb.calls.Store(0)
	if out := f.handle(legacy); len(out.BatchItemFailures) != 0 {
		t.Fatalf("failures of tasks without their message: %+v", out.BatchItemFailures)
	}
	if n := f.ddb.calls.Load(); n != 3 {
		t.Errorf("%d DynamoDB calls for a batch of 10 tasks without their message, want 3", n)
	}
	ids = append(ids, legacyIDs...)
	if n := len(f.prov.Requests()); n != 20 {
		t.Errorf("provider got %d requests, want 20", n)
	}
	for _, id := range ids {
		if m := f.status(id); m.Status != messages.StatusSent || m.ProviderID == "" || m.Attempts != 1 {
			t.Errorf("%s: %+v", id, m)
		}
	}
	// The same batches again (SQS delivers at least once): nothing sent.
	for _, b := range []events.SQSEvent{ev, legacy} {
		if out := f.handle(b); len(out.BatchItemFailures) != 0 {
			t.Fatalf("failures on the repeat: %+v", out.BatchItemFailures)
		}
	}
	if n := len(f.prov.Requests()); n != 20 {
		t.Errorf("provider got %d requests after the repeat, want 20", n)
	}
}

// Copies in one batch, a message already sent and one that does not
// exist: each queued message is sent once, and every queue message is
// done with.
func TestBatchCopiesAndDone(t *testing.T) {
	f := newFixture(t)
	ev, ids := f.batch(4)
	sent, sentIDs := f.batch(1)
	f.handle(sent)
	ev.Records = append(ev.Records, sent.Records[0], ev.Records[0],
		events.SQSMessage{MessageId: "q-none", Body: `{"tenant_id":"ten_a","message_id":"msg_none"}`})
	before := len(f.prov.Requests())
	out := f.handle(ev)
	if n := len(f.prov.Requests()) - before; n != 4 {
		t.Fatalf("provider got %d requests, want 4 (one per queued message)", n)
	}
	if len(out.BatchItemFailures) != 0 {
		t.Fatalf("failures: %+v", out.BatchItemFailures)
	}
	for _, id := range append(ids, sentIDs...) {
		if m := f.status(id); m.Status != messages.StatusSent || m.Attempts != 1 {
			t.Errorf("%s: %+v", id, m)
		}
	}
}

// Two senders handed the same batch at once (a message queued twice)
// call the provider once per message: the one that lost a claim hides its
// copy until the lease ends, then finds the message sent.
func TestConcurrentBatchesSendOnce(t *testing.T) {
	f := newFixture(t)
	ev, ids := f.batch(6)
	for range 6 {
		f.prov.Script(providertest.Answer{Delay: 300 * time.Millisecond})
	}
	var wg sync.WaitGroup
	outs := make([]events.SQSEventResponse, 2)
	for i := range outs {
		wg.Go(func() { outs[i] = f.handle(ev) })
	}
	wg.Wait()
	if n := len(f.prov.Requests()); n != 6 {
		t.Fatalf("provider got %d requests for 6 messages", n)
	}
	if n := len(outs[0].BatchItemFailures) + len(outs[1].BatchItemFailures); n != 6 {
		t.Errorf("%d copies kept, want the 6 that lost their claim", n)
	}
	f.advance(sender.Lease + time.Second)
	if out := f.handle(ev); len(out.BatchItemFailures) != 0 {
		t.Fatalf("after the lease: %+v", out)
	}
	for _, id := range ids {
		if m := f.status(id); m.Status != messages.StatusSent || m.Attempts != 1 {
			t.Errorf("%s: %+v", id, m)
		}
	}
	if n := len(f.prov.Requests()); n != 6 {
		t.Fatalf("provider got %d requests for 6 messages", n)
	}
}

// Provider refusals in a batch: a 4xx fails the message with the
// provider's code and text; a 429 keeps it queued with the attempt
// counted, hidden for the provider's Retry-After.
func TestBatchRefusals(t *testing.T) {
	f := newFixture(t)
	ev, ids := f.batch(1)
	f.prov.Script(providertest.Answer{Status: http.StatusBadRequest, Code: 131047, Message: "Re-engagement message"})
	if out := f.handle(ev); len(out.BatchItemFailures) != 0 {
		t.Fatalf("a refused message is done with: %+v", out.BatchItemFailures)
	}
	if m := f.status(ids[0]); m.Status != messages.StatusFailed || m.Failure == nil || m.Failure.Code != "131047" || m.Attempts != 1 {
		t.Fatalf("refused: %+v", m)
	}
	ev, ids = f.batch(1)
	f.prov.Script(providertest.Answer{Status: http.StatusTooManyRequests, Code: 130429, Message: "Rate limit hit", RetryAfter: 7})
	out := f.handle(ev)
	if len(out.BatchItemFailures) != 1 {
		t.Fatalf("a throttled message is kept: %+v", out)
	}
	if m := f.status(ids[0]); m.Status != messages.StatusQueued || m.Attempts != 1 || m.LastError == nil || m.LastError.Code != "130429" {
		t.Fatalf("throttled: %+v", m)
	}
	// Its claim was released with the retry: the next receive sends it.
	if out := f.handle(ev); len(out.BatchItemFailures) != 0 {
		t.Fatalf("the retry: %+v", out)
	}
	if m := f.status(ids[0]); m.Status != messages.StatusSent || m.Attempts != 2 {
		t.Fatalf("after the retry: %+v", m)
	}
}

// A channel's credentials are read once per CredentialsTTL by a sender
// process; a change of them is in use CredentialsTTL later at the latest.
func TestCredentialsKeptForTTL(t *testing.T) {
	f := newFixture(t)
	auth := func() string { r := f.prov.Requests(); return r[len(r)-1].Auth }
	ev, _ := f.batch(3)
	f.handle(ev)
	if n := f.creds.count(); n != 1 {
		t.Fatalf("%d credential reads for one batch of one channel, want 1", n)
	}
	f.creds.set("token-2")
	f.advance(sender.CredentialsTTL - time.Second)
	ev, _ = f.batch(3)
	f.handle(ev)
	if n, a := f.creds.count(), auth(); n != 1 || a != "Bearer token-1" {
		t.Fatalf("within the TTL: %d reads, sent with %q; want the kept credentials", n, a)
	}
	f.advance(time.Second)
	ev, _ = f.batch(1)
	f.handle(ev)
	if n, a := f.creds.count(), auth(); n != 2 || a != "Bearer token-2" {
		t.Fatalf("after the TTL: %d reads, sent with %q; want the new credentials", n, a)
	}
}

// The provider refusing kept credentials (WhatsApp 190: the token was
// replaced and revoked) does not fail the message: the credentials are
// read again and the message sent with them on its next receive.
func TestRefusedCredentialsReadAgain(t *testing.T) {
	f := newFixture(t)
	ev, _ := f.batch(1)
	f.handle(ev) // token-1 kept
	f.creds.set("token-2")
	ev, ids := f.batch(1)
	f.prov.Script(providertest.Answer{Status: http.StatusUnauthorized, Code: 190, Message: "Error validating access token"})
	if out := f.handle(ev); len(out.BatchItemFailures) != 1 {
		t.Fatalf("refused with kept credentials: %+v", out)
	}
	if m := f.status(ids[0]); m.Status != messages.StatusQueued {
		t.Fatalf("failed with kept credentials: %+v", m)
	}
	f.handle(ev)
	reqs := f.prov.Requests()
	if m := f.status(ids[0]); m.Status != messages.StatusSent || reqs[len(reqs)-1].Auth != "Bearer token-2" {
		t.Fatalf("after reading them again: %+v, sent with %q", m, reqs[len(reqs)-1].Auth)
	}
	// Fresh credentials refused: the message fails with the provider's error.
	ev, ids = f.batch(1)
	f.advance(sender.CredentialsTTL)
	f.prov.Script(providertest.Answer{Status: http.StatusUnauthorized, Code: 190, Message: "Error validating access token"})
	f.handle(ev)
	if m := f.status(ids[0]); m.Status != messages.StatusFailed || m.Failure == nil || m.Failure.Code != "190" {
		t.Fatalf("refused with fresh credentials: %+v", m)
	}
}

// A channel without credentials fails its messages; credentials that are
// not found are not kept, so the channel's next message finds those set
// meanwhile.
func TestMissingCredentialsNotKept(t *testing.T) {
	f := newFixture(t)
	none := &missingCreds{}
	f.s.Credentials = none
	ev, ids := f.batch(2)
	f.handle(ev)
	for _, id := range ids {
		if m := f.status(id); m.Status != messages.StatusFailed || m.Failure == nil || m.Failure.Code != sender.CodeNoCredentials {
			t.Fatalf("%s: %+v", id, m)
		}
	}
	if none.reads.Load() != 1 {
		t.Fatalf("%d reads for one channel's batch", none.reads.Load())
	}
	f.s.Credentials = f.creds
	ev, ids = f.batch(1)
	f.handle(ev)
	if m := f.status(ids[0]); m.Status != messages.StatusSent {
		t.Fatalf("after the credentials were set: %+v", m)
	}
}

type missingCreds struct{ reads atomic.Int64 }

func (m *missingCreds) ProviderCredentials(_ context.Context, _, channelID string) (sender.Credentials, error) {
	m.reads.Add(1)
	return sender.Credentials{}, apperr.NotFound("Provider credentials of channel", channelID)
}

// An early status waits as long as a send of ours can take to record its
// sent: the invocation that made the call, then eight receives in a row
// whose record the store refused, each hidden for its fault backoff.
func TestEarlyStatusOutlastsTheSentRecord(t *testing.T) {
	wait := queue.SenderTimeout
	for n := 1; n <= 8; n++ {
		wait += sender.FaultBackoff(n)
	}
	if ddbstore.EarlyStatusTTL < wait {
		t.Fatalf("an early status waits %s; a sent record may come %s after the provider's acceptance", ddbstore.EarlyStatusTTL, wait)
	}
}
