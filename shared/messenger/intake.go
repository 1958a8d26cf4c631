package messenger

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
)

// InboxKeyPrefix starts every inbox item's partition key
// (INBOX#<tenantId>#<channelId>): the intake's stream filter.
const InboxKeyPrefix = "INBOX#"

// Attributes of an inbox item, as the intake reads them from the stream.
const (
	AttrTenant     = "tenant_id"
	AttrChannel    = "channel_id"
	AttrCountry    = "default_country"
	AttrBody       = "body"
	AttrReceivedAt = "received_at"
)

// DefaultParallel is how many subscribers' events the intake records at
// once; one subscriber's events are recorded one after the other, in order.
const DefaultParallel = 16

// Intake is the stream consumer that records the events of inbox items.
type Intake struct {
	Contacts *contacts.Service
	// Parallel bounds the subscribers handled at once (DefaultParallel if 0).
	Parallel int
	Log      *slog.Logger
}

// Stats counts what one inbox item's events came to.
type Stats struct {
	Recorded, Duplicate, Invalid int
}

// Handle is the stream event handler (ReportBatchItemFailures). Records
// other than inserted inbox items are skipped. The first inbox item whose
// events cannot all be recorded (a store failure) is reported failed with
// every record after it; Lambda retries from there, and the events already
// recorded are skipped by their keys.
func (in *Intake) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var out events.DynamoDBEventResponse
	for i, rec := range ev.Records {
		if err := in.record(ctx, rec); err != nil {
			in.log().ErrorContext(ctx, "messenger intake", "err", err, "sequence", rec.Change.SequenceNumber)
			for _, later := range ev.Records[i:] {
				out.BatchItemFailures = append(out.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: later.Change.SequenceNumber})
			}
			break
		}
	}
	return out, nil
}

func (in *Intake) log() *slog.Logger {
	if in.Log == nil {
		return slog.Default()
	}
	return in.Log
}

// record handles one stream record.
func (in *Intake) record(ctx context.Context, rec events.DynamoDBEventRecord) error {
	if rec.EventName != "INSERT" || !strings.HasPrefix(str(rec.Change.Keys["PK"]), InboxKeyPrefix) {
		return nil
	}
	img := rec.Change.NewImage
	sc := contacts.Scope{TenantID: str(img[AttrTenant]), ChannelID: str(img[AttrChannel]), DefaultCountry: str(img[AttrCountry])}
	var b Body
	if err := json.Unmarshal(binary(img[AttrBody]), &b); err != nil || sc.TenantID == "" || sc.ChannelID == "" {
		// Checked when it was received: a retry cannot mend it.
		in.log().WarnContext(ctx, "messenger intake: unreadable inbox item skipped", "pk", str(rec.Change.Keys["PK"]), "err", err)
		return nil
	}
	st, err := in.Process(ctx, sc, b.Items())
	in.log().InfoContext(ctx, "messenger intake", "tenant", sc.TenantID, "channel", sc.ChannelID,
		"recorded", st.Recorded, "duplicate", st.Duplicate, "invalid", st.Invalid, "err", err)
	return err
}

// Process records items on the scope's channel: several subscribers at
// once (Parallel), each subscriber's items in order. Each is recorded with
// its key, in the contact's own transaction, so an item recorded before
// (a retry, a repeated webhook call) is skipped; an invalid one is logged
// and dropped. The error is the first store failure, if any; every other
// item was still tried.
func (in *Intake) Process(ctx context.Context, sc contacts.Scope, items []Item) (Stats, error) {
	var order []string
	bySender := map[string][]Item{}
	for _, it := range items {
		if _, ok := bySender[it.PSID]; !ok {
			order = append(order, it.PSID)
		}
		bySender[it.PSID] = append(bySender[it.PSID], it)
	}
	parallel := in.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	var (
		mu    sync.Mutex
		st    Stats
		first error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, parallel)
	for _, psid := range order {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s, err := in.sender(ctx, sc, psid, bySender[psid])
			mu.Lock()
			defer mu.Unlock()
			st.Recorded += s.Recorded
			st.Duplicate += s.Duplicate
			st.Invalid += s.Invalid
			if err != nil && first == nil {
				first = err
			}
		})
	}
	wg.Wait()
	return st, first
}

// sender records one subscriber's items in order, stopping at a store
// failure (the later items wait for the retry, keeping the order).
func (in *Intake) sender(ctx context.Context, sc contacts.Scope, psid string, items []Item) (Stats, error) {
	var st Stats
	for _, it := range items {
		c := it.Collected
		c.Once = &contacts.Once{Key: sc.ChannelID + "#" + it.Key, Expires: in.Contacts.Now().Add(DedupeTTL).Unix()}
		_, err := in.Contacts.Collect(ctx, sc, psid, c)
		switch {
		case err == nil:
			st.Recorded++
		case errors.Is(err, contacts.ErrRecorded):
			st.Duplicate++
		case apperr.Is(err, apperr.KindInvalid), apperr.Is(err, apperr.KindTooLarge), apperr.Is(err, apperr.KindRejected):
			// Retrying would refuse it again (a value of the wrong form,
			// a contact over its byte budget, a new contact over the
			// tenant's limit): log it and go on.
			st.Invalid++
			in.log().WarnContext(ctx, "messenger event not recorded", "psid", psid, "err", err)
		default:
			return st, err
		}
	}
	return st, nil
}

// str is a string attribute's value, "" for anything else.
func str(av events.DynamoDBAttributeValue) string {
	if av.DataType() != events.DataTypeString {
		return ""
	}
	return av.String()
}

// binary is a binary attribute's value, nil for anything else.
func binary(av events.DynamoDBAttributeValue) []byte {
	if av.DataType() != events.DataTypeBinary {
		return nil
	}
	return av.Binary()
}

// Ports are what the intake is built from; shared/wiring provides them.
type Ports interface {
	ContactStore() contacts.Store
	Phone() contacts.PhoneNormalizer
	Clock() func() time.Time
}

// Build wires the intake for Lambda and the local poller.
func Build(p Ports) lambdaapp.StreamHandler {
	in := &Intake{Contacts: &contacts.Service{Store: p.ContactStore(), Phone: p.Phone(), Now: p.Clock()}, Log: slog.Default()}
	return in.Handle
}
