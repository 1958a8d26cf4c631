// Package router is the trigger router: the table stream's consumer. For
// each contact write it compares the old and new images, finds the triggers
// the write fired (a trigger field newly collected, an event), and queues one
// delivery per matching connection. The stream is the durable hand-off: a
// record that cannot be routed (SQS down) is reported failed and retried from
// there, so no accepted write loses its webhooks.
package router

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/autorun"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/queue"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Sender is the part of the SQS client the router uses.
type Sender interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Channels reads what a payload says about a channel.
type Channels func(ctx context.Context, tenantID, channelID string) (connections.Channel, error)

// Router holds what routing needs.
type Router struct {
	Connections connections.Store
	Contacts    contacts.Store
	Channels    Channels
	Queue       Sender
	QueueURL    string
	// OutboxURL is the outbox queue: new outbound messages go there, for
	// the sender (outbox.go).
	OutboxURL string
	Log       *slog.Logger
	// Enroller enrolls contacts in the automations their collected
	// fields start (nil: none).
	Enroller *Enroller
	// Recent keeps each trigger's recent payloads per channel (nil: none;
	// hooks.go).
	Recent connections.Recent
	recent recentGate
}

// Handle is the stream event handler (ReportBatchItemFailures). It works
// out every record's deliveries in order, then queues them in batches of
// ten across records. The first record that cannot be routed, or whose
// deliveries SQS refuses, is reported failed with every record after it, so
// Lambda retries from there; deliveries of those later records that were
// already queued go again with the same IDs, which receivers drop.
func (r *Router) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	cache := &batchCache{r: r, conns: map[string][]connections.Connection{}, fields: map[string][]contacts.Field{}, channels: map[string]connections.Channel{}}
	failAt := len(ev.Records)
	var pending []connections.Delivery
	var from []int // from[i]: index of the record pending[i] came from
	var outbox []outboxTask
	for i, rec := range ev.Records {
		if t, ok, err := outboxTaskOf(rec); err != nil || ok {
			if err != nil {
				r.Log.ErrorContext(ctx, "route message", "err", err, "sequence", rec.Change.SequenceNumber)
				failAt = i
				break
			}
			outbox = append(outbox, outboxTask{task: t, from: i})
			continue
		}
		ds, err := r.route(ctx, cache, rec)
		if err != nil {
			r.Log.ErrorContext(ctx, "route record", "err", err, "sequence", rec.Change.SequenceNumber)
			failAt = i
			break
		}
		pending = append(pending, ds...)
		for range ds {
			from = append(from, i)
		}
	}
	// The SendMessageBatch calls go sendParallel at a time (a record makes
	// a delivery per connection: dozens of calls for a batch of records);
	// a failed one fails the batch from the first record it held (the
	// deliveries of later records that were queued are queued again on
	// the retry, under the same IDs, which receivers drop).
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, sendParallel)
	for start := 0; start < len(pending); start += 10 {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			failed, err := send(ctx, r.Queue, r.QueueURL, pending[start:min(start+10, len(pending))])
			if err == nil {
				return
			}
			first := from[start+failed[0]]
			r.Log.ErrorContext(ctx, "queue deliveries", "err", err, "sequence", ev.Records[first].Change.SequenceNumber)
			mu.Lock()
			failAt = min(failAt, first)
			mu.Unlock()
		})
	}
	wg.Wait()
	if at, err := r.queueOutbox(ctx, outbox); err != nil {
		r.Log.ErrorContext(ctx, "queue messages", "err", err, "sequence", ev.Records[at].Change.SequenceNumber)
		failAt = min(failAt, at)
	}
	var out events.DynamoDBEventResponse
	for _, later := range ev.Records[failAt:] {
		out.BatchItemFailures = append(out.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: later.Change.SequenceNumber})
	}
	return out, nil
}

// route returns the deliveries one stream record makes: one per enabled
// connection of the contact's channel that one of the fired triggers
// selects.
func (r *Router) route(ctx context.Context, cache *batchCache, rec events.DynamoDBEventRecord) ([]connections.Delivery, error) {
	if isMessage(rec.Change.Keys) {
		ds, err := r.chatDeliveries(ctx, cache, rec)
		if err != nil {
			return nil, err
		}
		hs, err := r.messageHookDeliveries(ctx, cache, rec)
		return append(ds, hs...), err
	}
	if isAutoCall(rec.Change.Keys) {
		return r.autoCallDelivery(ctx, cache, rec)
	}
	if rec.EventName == "REMOVE" || !isContact(rec.Change.Keys) || movedKey(rec) {
		return nil, nil
	}
	cur, err := contactOf(rec.Change.NewImage)
	if err != nil || cur == nil {
		return nil, err
	}
	old, err := contactOf(rec.Change.OldImage)
	if err != nil {
		return nil, err
	}
	fired := connections.Fired(old, *cur)
	if err := r.Enroller.Enroll(ctx, rec, *cur, fired); err != nil {
		return nil, err
	}
	if len(fired) == 0 || cur.ChannelID == "" {
		return nil, nil
	}
	for _, t := range fired {
		// Every field: what a hook gets (connections.SourceZapier).
		r.recordRecent(ctx, cur.TenantID, cur.ChannelID, t, func() ([]byte, error) {
			return cache.payload(ctx, *cur, connections.Connection{})
		})
	}
	conns, err := cache.connections(ctx, cur.TenantID)
	if err != nil {
		return nil, err
	}
	var deliveries []connections.Delivery
	for _, c := range conns {
		if !c.Enabled || c.ChannelID != cur.ChannelID {
			continue
		}
		for _, t := range fired {
			if !c.Has(t) {
				continue
			}
			payload, err := cache.payload(ctx, *cur, c)
			if err != nil {
				return nil, err
			}
			deliveries = append(deliveries, connections.Delivery{
				ID: DeliveryID(rec.Change.SequenceNumber, c.ID, t), TenantID: c.TenantID, ConnectionID: c.ID,
				Trigger: t, Payload: payload, CreatedAt: cur.UpdatedAt, ConnVersion: c.Version,
			})
			break // one delivery per connection per write, for its first fired trigger
		}
	}
	return deliveries, nil
}

// DeliveryID is the webhook-id of a delivery: derived from the stream record
// and the connection, so a retried record queues the same IDs again and
// receivers can drop the repeat.
func DeliveryID(sequence, connectionID string, t connections.Trigger) string {
	sum := sha256.Sum256([]byte(sequence + "#" + connectionID + "#" + string(t)))
	return "msg_" + hex.EncodeToString(sum[:])[:32]
}

// sendParallel is how many SendMessageBatch calls of a stream batch's
// deliveries are under way at once.
const sendParallel = 8

// Enqueue sends deliveries to the queue in batches of ten; any entry SQS
// refuses makes it an error (the caller retries; IDs are stable).
func Enqueue(ctx context.Context, q Sender, queueURL string, ds []connections.Delivery) error {
	for start := 0; start < len(ds); start += 10 {
		if _, err := send(ctx, q, queueURL, ds[start:min(start+10, len(ds))]); err != nil {
			return err
		}
	}
	return nil
}

// send queues up to ten deliveries in one SendMessageBatch. On error,
// failed lists the positions in batch that may not be queued, in order:
// all of them when the call itself failed, else those SQS refused.
func send(ctx context.Context, q Sender, queueURL string, batch []connections.Delivery) (failed []int, err error) {
	entries := make([]sqstypes.SendMessageBatchRequestEntry, len(batch))
	all := make([]int, len(batch))
	for i, d := range batch {
		body, err := json.Marshal(d)
		if err != nil {
			return all, fmt.Errorf("queue delivery %s: %w", d.ID, err)
		}
		entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)),
			MessageGroupId: queue.GroupID(d.TenantID)}
		all[i] = i
	}
	out, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
	if err != nil {
		return all, fmt.Errorf("queue deliveries: %w", err)
	}
	if len(out.Failed) == 0 {
		return nil, nil
	}
	for _, f := range out.Failed {
		i, err := strconv.Atoi(aws.ToString(f.Id))
		if err != nil || i < 0 || i >= len(batch) {
			return all, fmt.Errorf("queue deliveries: SQS refused an entry with unknown ID %q", aws.ToString(f.Id))
		}
		failed = append(failed, i)
	}
	slices.Sort(failed)
	return failed, fmt.Errorf("queue deliveries: %d refused: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
}

func isContact(keys map[string]events.DynamoDBAttributeValue) bool {
	pk, ok := keys["PK"]
	return ok && pk.DataType() == events.DataTypeString && strings.HasPrefix(pk.String(), "CONTACT#")
}

// AttrKeyMoved is ddbstore.AttrKeyMoved: it marks the item that moving a
// contact to its own key wrote.
const AttrKeyMoved = "key_moved_at"

// movedKey reports a contact's move to its own key (ddbstore's migration of
// contact keys): the INSERT of the same contact under its new key, which
// changes nothing about it and fires nothing.
func movedKey(rec events.DynamoDBEventRecord) bool {
	_, moved := rec.Change.NewImage[AttrKeyMoved]
	return rec.EventName == "INSERT" && moved
}

// contactOf converts a stream image to a contact (nil for no image).
func contactOf(img map[string]events.DynamoDBAttributeValue) (*contacts.Contact, error) {
	return imageOf[contacts.Contact](img)
}

// imageOf converts a stream image to a T (nil for no image), through JSON
// as the SDK types allow.
func imageOf[T any](img map[string]events.DynamoDBAttributeValue) (*T, error) {
	if len(img) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(img)
	if err != nil {
		return nil, fmt.Errorf("stream image: %w", err)
	}
	m, err := attributevalue.UnmarshalMapJSON(b)
	if err != nil {
		return nil, fmt.Errorf("stream image: %w", err)
	}
	var v T
	if err := attributevalue.UnmarshalMap(m, &v); err != nil {
		return nil, fmt.Errorf("stream image: %w", err)
	}
	return &v, nil
}

// batchCache reads each tenant's connections, fields and channels once per
// batch.
type batchCache struct {
	r        *Router
	conns    map[string][]connections.Connection
	fields   map[string][]contacts.Field
	channels map[string]connections.Channel
}

func (b *batchCache) connections(ctx context.Context, tenantID string) ([]connections.Connection, error) {
	if cs, ok := b.conns[tenantID]; ok {
		return cs, nil
	}
	cs, err := b.r.Connections.ListConnections(ctx, tenantID)
	if err == nil {
		b.conns[tenantID] = cs
	}
	return cs, err
}

func (b *batchCache) payload(ctx context.Context, c contacts.Contact, conn connections.Connection) ([]byte, error) {
	defs, ok := b.fields[c.TenantID]
	if !ok {
		var err error
		if defs, err = b.r.Contacts.ListFields(ctx, c.TenantID); err != nil {
			return nil, err
		}
		b.fields[c.TenantID] = defs
	}
	ch, err := b.channel(ctx, c.TenantID, c.ChannelID)
	if err != nil {
		return nil, err
	}
	return connections.Payload(c, ch, defs, conn.Fields), nil
}

// channel reads a channel once per batch.
func (b *batchCache) channel(ctx context.Context, tenantID, channelID string) (connections.Channel, error) {
	key := tenantID + "#" + channelID
	if ch, ok := b.channels[key]; ok {
		return ch, nil
	}
	ch, err := b.r.Channels(ctx, tenantID, channelID)
	if err == nil {
		b.channels[key] = ch
	}
	return ch, err
}

// Ports are what the router is built from; shared/wiring provides them.
type Ports interface {
	ConnectionStore() connections.Store
	ContactStore() contacts.Store
	TenancyStore() tenancy.Store
	AWSConfig() aws.Config
	Queues() (deliveries, dlq string)
	// Automations: the definitions (their triggers) and the runs a
	// trigger starts.
	AutomationStore() automations.Store
	RunStore() automations.RunStore
	EnrollRefs() func(context.Context, automations.Automation) error
	Clock() func() time.Time
}

// Build wires the router for Lambda and the local poller.
func Build(p Ports) lambdaapp.StreamHandler {
	ten := p.TenancyStore()
	deliveries, _ := p.Queues()
	conns := p.ConnectionStore()
	recent, _ := conns.(connections.Recent)
	r := &Router{
		Recent:      recent,
		Connections: conns,
		Contacts:    p.ContactStore(),
		Channels: func(ctx context.Context, tenantID, channelID string) (connections.Channel, error) {
			ch, err := ten.GetChannel(ctx, tenantID, channelID)
			return connections.Channel{ID: ch.ID, Name: ch.Name, InstanceID: ch.InstanceID}, err
		},
		Queue:     sqs.NewFromConfig(p.AWSConfig()),
		QueueURL:  deliveries,
		OutboxURL: outboxURL(p),
		Log:       slog.Default(),
		Enroller: &Enroller{Automations: p.AutomationStore(), Now: p.Clock(), Service: &autorun.Service{
			Runs: p.RunStore(), Automations: p.AutomationStore(), Contacts: &contacts.Service{Store: p.ContactStore(), Now: p.Clock()},
			Refs: p.EnrollRefs(), Now: p.Clock()}},
	}
	return r.Handle
}
