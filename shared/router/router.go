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
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
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
	Log         *slog.Logger
}

// Handle is the stream event handler (ReportBatchItemFailures): records are
// routed in order; the first one that fails is reported with every record
// after it, so Lambda retries from there.
func (r *Router) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	cache := &batchCache{r: r, conns: map[string][]connections.Connection{}, fields: map[string][]contacts.Field{}, channels: map[string]connections.Channel{}}
	for i, rec := range ev.Records {
		if err := r.route(ctx, cache, rec); err != nil {
			r.Log.ErrorContext(ctx, "route record", "err", err, "sequence", rec.Change.SequenceNumber)
			var out events.DynamoDBEventResponse
			for _, later := range ev.Records[i:] {
				out.BatchItemFailures = append(out.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: later.Change.SequenceNumber})
			}
			return out, nil
		}
	}
	return events.DynamoDBEventResponse{}, nil
}

func (r *Router) route(ctx context.Context, cache *batchCache, rec events.DynamoDBEventRecord) error {
	if rec.EventName == "REMOVE" || !isContact(rec.Change.Keys) {
		return nil
	}
	cur, err := contactOf(rec.Change.NewImage)
	if err != nil || cur == nil {
		return err
	}
	old, err := contactOf(rec.Change.OldImage)
	if err != nil {
		return err
	}
	fired := connections.Fired(old, *cur)
	if len(fired) == 0 || cur.ChannelID == "" {
		return nil
	}
	conns, err := cache.connections(ctx, cur.TenantID)
	if err != nil {
		return err
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
				return err
			}
			deliveries = append(deliveries, connections.Delivery{
				ID: DeliveryID(rec.Change.SequenceNumber, c.ID, t), TenantID: c.TenantID, ConnectionID: c.ID,
				Trigger: t, Payload: payload, CreatedAt: cur.UpdatedAt,
			})
			break // one delivery per connection per write, for its first fired trigger
		}
	}
	return Enqueue(ctx, r.Queue, r.QueueURL, deliveries)
}

// DeliveryID is the webhook-id of a delivery: derived from the stream record
// and the connection, so a retried record queues the same IDs again and
// receivers can drop the repeat.
func DeliveryID(sequence, connectionID string, t connections.Trigger) string {
	sum := sha256.Sum256([]byte(sequence + "#" + connectionID + "#" + string(t)))
	return "msg_" + hex.EncodeToString(sum[:])[:32]
}

// Enqueue sends deliveries to the queue in batches of ten; any entry SQS
// refuses makes it an error (the caller retries; IDs are stable).
func Enqueue(ctx context.Context, q Sender, queueURL string, ds []connections.Delivery) error {
	for start := 0; start < len(ds); start += 10 {
		batch := ds[start:min(start+10, len(ds))]
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(batch))
		for i, d := range batch {
			body, err := json.Marshal(d)
			if err != nil {
				return err
			}
			entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(string(body))}
		}
		out, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return fmt.Errorf("queue deliveries: %w", err)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("queue deliveries: %d refused: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
	}
	return nil
}

func isContact(keys map[string]events.DynamoDBAttributeValue) bool {
	pk, ok := keys["PK"]
	return ok && pk.DataType() == events.DataTypeString && strings.HasPrefix(pk.String(), "CONTACT#")
}

// contactOf converts a stream image to a contact (nil for no image), through
// JSON as the SDK types allow.
func contactOf(img map[string]events.DynamoDBAttributeValue) (*contacts.Contact, error) {
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
	var c contacts.Contact
	if err := attributevalue.UnmarshalMap(m, &c); err != nil {
		return nil, fmt.Errorf("stream image: %w", err)
	}
	return &c, nil
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
	key := c.TenantID + "#" + c.ChannelID
	ch, ok := b.channels[key]
	if !ok {
		var err error
		if ch, err = b.r.Channels(ctx, c.TenantID, c.ChannelID); err != nil {
			return nil, err
		}
		b.channels[key] = ch
	}
	return connections.Payload(c, ch, defs, conn.Fields), nil
}

// Build wires the router for Lambda and the local poller.
func Build(d *lambdaapp.Deps) lambdaapp.StreamHandler {
	ten := d.Tenancy()
	r := &Router{
		Connections: d.Connections(),
		Contacts:    &ddbstore.Contacts{API: d.DDB, Table: d.Table},
		Channels: func(ctx context.Context, tenantID, channelID string) (connections.Channel, error) {
			ch, err := ten.GetChannel(ctx, tenantID, channelID)
			return connections.Channel{ID: ch.ID, Name: ch.Name}, err
		},
		Queue:    sqs.NewFromConfig(d.AWS),
		QueueURL: d.QueueURL,
		Log:      slog.Default(),
	}
	return r.Handle
}
