package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// fakeConns serves ListConnections; the router calls nothing else.
type fakeConns struct {
	connections.Store
	list []connections.Connection
}

func (f *fakeConns) ListConnections(context.Context, string) ([]connections.Connection, error) {
	return f.list, nil
}

// fakeFields serves ListFields; the router calls nothing else.
type fakeFields struct{ contacts.Store }

func (fakeFields) ListFields(context.Context, string) ([]contacts.Field, error) { return nil, nil }

// fakeQueue records SendMessageBatch calls (the router makes them several
// at a time). failCall (1-based) fails the whole call of that batch in
// the send order (pos, delivery ID → its place in it; nil: in call
// order); refuse lists delivery IDs SQS refuses.
type fakeQueue struct {
	mu       sync.Mutex
	calls    [][]connections.Delivery
	failCall int
	pos      map[string]int
	refuse   map[string]bool
	groups   []string // MessageGroupId of every entry sent, "" for none
}

// ordered is the calls in the send order (by pos, when set).
func (q *fakeQueue) ordered() [][]connections.Delivery {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := slices.Clone(q.calls)
	if q.pos != nil {
		slices.SortFunc(out, func(a, b []connections.Delivery) int { return q.pos[a[0].ID] - q.pos[b[0].ID] })
	}
	return out
}

func (q *fakeQueue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var batch []connections.Delivery
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		var d connections.Delivery
		if err := json.Unmarshal([]byte(aws.ToString(e.MessageBody)), &d); err != nil {
			return nil, err
		}
		batch = append(batch, d)
		q.groups = append(q.groups, aws.ToString(e.MessageGroupId))
		if q.refuse[d.ID] {
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("refused")})
		}
	}
	q.calls = append(q.calls, batch)
	nth := len(q.calls)
	if q.pos != nil && len(batch) > 0 {
		nth = q.pos[batch[0].ID]/10 + 1
	}
	if nth == q.failCall {
		return nil, errors.New("SQS is down")
	}
	return out, nil
}

// record is a stream record of contact n whose email was just collected.
func record(t *testing.T, n int) events.DynamoDBEventRecord {
	t.Helper()
	c := contacts.Contact{ID: fmt.Sprintf("c%02d", n), TenantID: "t", ChannelID: "ch", Fields: map[string]string{"email": fmt.Sprintf("u%d@example.com", n)}}
	m, err := attributevalue.MarshalMap(c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := attributevalue.MarshalMapJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	var img map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal(b, &img); err != nil {
		t.Fatal(err)
	}
	return events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{
		Keys:           map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute("CONTACT#t#" + c.ID)},
		NewImage:       img,
		SequenceNumber: fmt.Sprintf("%05d", n),
	}}
}

func newRouter(q *fakeQueue, conns int) *Router {
	fc := &fakeConns{}
	for i := range conns {
		fc.list = append(fc.list, connections.Connection{ID: "k" + strconv.Itoa(i), TenantID: "t", ChannelID: "ch", Enabled: true,
			Triggers: []connections.Trigger{connections.TriggerEmail}, Fields: []string{"email"}})
	}
	return &Router{
		Connections: fc, Contacts: fakeFields{}, Queue: q, QueueURL: "q",
		Channels: func(context.Context, string, string) (connections.Channel, error) {
			return connections.Channel{ID: "ch", Name: "Shop"}, nil
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func batchOf(t *testing.T, n int) events.DynamoDBEvent {
	var ev events.DynamoDBEvent
	for i := range n {
		ev.Records = append(ev.Records, record(t, i))
	}
	return ev
}

// failedFrom is the index of the first reported record, checking that
// every record from there on is reported (len(records) when none is).
func failedFrom(t *testing.T, ev events.DynamoDBEvent, out events.DynamoDBEventResponse) int {
	t.Helper()
	from := len(ev.Records) - len(out.BatchItemFailures)
	for i, f := range out.BatchItemFailures {
		if want := ev.Records[from+i].Change.SequenceNumber; f.ItemIdentifier != want {
			t.Fatalf("failure %d = %s, want %s (every record from the first failed one)", i, f.ItemIdentifier, want)
		}
	}
	return from
}

// sendOrder is each delivery's place in the router's send order: record
// by record, each record's connections k0, k1, … in turn.
func sendOrder(ev events.DynamoDBEvent, conns int) map[string]int {
	pos := map[string]int{}
	for i, rec := range ev.Records {
		for k := range conns {
			pos[DeliveryID(rec.Change.SequenceNumber, "k"+strconv.Itoa(k), connections.TriggerEmail)] = i*conns + k
		}
	}
	return pos
}

func sizes(calls [][]connections.Delivery) []int {
	var out []int
	for _, c := range calls {
		out = append(out, len(c))
	}
	return out
}

func TestHandleBatchesAcrossRecords(t *testing.T) {
	ev := batchOf(t, 25)
	q := &fakeQueue{pos: sendOrder(ev, 1)}
	out, err := newRouter(q, 1).Handle(t.Context(), ev)
	if err != nil || len(out.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", out, err)
	}
	if got := sizes(q.ordered()); !slices.Equal(got, []int{10, 10, 5}) {
		t.Fatalf("SendMessageBatch sizes %v, want [10 10 5]", got)
	}
	var ids []string
	for _, c := range q.ordered() {
		for _, d := range c {
			ids = append(ids, d.ID)
		}
	}
	for i, rec := range ev.Records {
		if want := DeliveryID(rec.Change.SequenceNumber, "k0", connections.TriggerEmail); ids[i] != want {
			t.Errorf("delivery %d = %s, want %s (record order kept)", i, ids[i], want)
		}
	}
}

func TestHandleReportsFromTheFirstUnqueuedRecord(t *testing.T) {
	cases := []struct {
		name      string
		conns     int
		records   int
		failCall  int
		refuse    []int // positions in the whole send order
		badRecord int   // index of a record whose image cannot be read (-1: none)
		wantFrom  int
		wantSizes []int
	}{
		// Every batch is sent (several at once): the failures count from
		// the first record of the first batch that failed.
		{name: "second call fails", conns: 1, records: 25, failCall: 2, badRecord: -1, wantFrom: 10, wantSizes: []int{10, 10, 5}},
		{name: "first call fails", conns: 1, records: 5, failCall: 1, badRecord: -1, wantFrom: 0, wantSizes: []int{5}},
		{name: "an entry refused", conns: 1, records: 25, refuse: []int{3, 7}, badRecord: -1, wantFrom: 3, wantSizes: []int{10, 10, 5}},
		// Two connections: two deliveries per record; entry 15 is record 7's.
		{name: "refused, two per record", conns: 2, records: 10, refuse: []int{15}, badRecord: -1, wantFrom: 7, wantSizes: []int{10, 10}},
		{name: "unreadable record", conns: 1, records: 25, badRecord: 12, wantFrom: 12, wantSizes: []int{10, 2}},
		{name: "unreadable record after a failed send", conns: 1, records: 25, failCall: 1, badRecord: 12, wantFrom: 0, wantSizes: []int{10, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := batchOf(t, c.records)
			if c.badRecord >= 0 {
				ev.Records[c.badRecord].Change.NewImage["fields"] = events.NewStringAttribute("not a map")
			}
			q := &fakeQueue{failCall: c.failCall, refuse: map[string]bool{}, pos: sendOrder(ev, c.conns)}
			for _, pos := range c.refuse {
				rec := ev.Records[pos/c.conns]
				q.refuse[DeliveryID(rec.Change.SequenceNumber, "k"+strconv.Itoa(pos%c.conns), connections.TriggerEmail)] = true
			}
			out, err := newRouter(q, c.conns).Handle(t.Context(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if from := failedFrom(t, ev, out); from != c.wantFrom {
				t.Errorf("failures from record %d, want %d", from, c.wantFrom)
			}
			if got := sizes(q.ordered()); !slices.Equal(got, c.wantSizes) {
				t.Errorf("SendMessageBatch sizes %v, want %v", got, c.wantSizes)
			}
		})
	}
}

// TestMovedKeyFiresNothing: moving a contact to its own key (ddbstore's
// migration of contact keys) writes the same contact under a new key, an
// INSERT with no old image; it fires no trigger, while an INSERT without
// the mark does.
func TestMovedKeyFiresNothing(t *testing.T) {
	if AttrKeyMoved != ddbstore.AttrKeyMoved {
		t.Fatalf("AttrKeyMoved %q, ddbstore's %q", AttrKeyMoved, ddbstore.AttrKeyMoved)
	}
	moved := record(t, 1)
	moved.Change.NewImage[AttrKeyMoved] = events.NewNumberAttribute("1700000000")
	q := &fakeQueue{}
	out, err := newRouter(q, 1).Handle(t.Context(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{moved, record(t, 2)}})
	if err != nil || len(out.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", out, err)
	}
	if got := sizes(q.calls); !slices.Equal(got, []int{1}) || q.calls[0][0].Payload == nil ||
		q.calls[0][0].ID != DeliveryID(record(t, 2).Change.SequenceNumber, "k0", connections.TriggerEmail) {
		t.Fatalf("deliveries %v, want only the unmarked record's", q.calls)
	}
}

// Every delivery goes to its tenant's message group: the standard queue is
// then a fair queue, one tenant's backlog does not hold up the others.
func TestDeliveriesCarryTheTenantAsMessageGroup(t *testing.T) {
	q := &fakeQueue{}
	ev := batchOf(t, 12)
	if out, err := newRouter(q, 1).Handle(t.Context(), ev); err != nil || len(out.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", out, err)
	}
	var ds []connections.Delivery
	for _, c := range q.calls {
		ds = append(ds, c...)
	}
	if len(q.groups) != 12 || len(ds) != 12 {
		t.Fatalf("%d entries, %d groups, want 12", len(ds), len(q.groups))
	}
	for i, d := range ds {
		if d.TenantID == "" || q.groups[i] != d.TenantID {
			t.Errorf("delivery %d of tenant %q sent with MessageGroupId %q", i, d.TenantID, q.groups[i])
		}
	}
	// Replays and redrives go through Enqueue.
	q2 := &fakeQueue{}
	if err := Enqueue(t.Context(), q2, "url", []connections.Delivery{{ID: "msg_1", TenantID: "ten_a"}, {ID: "msg_2", TenantID: "ten_b"}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q2.groups, []string{"ten_a", "ten_b"}) {
		t.Errorf("Enqueue groups %v, want [ten_a ten_b]", q2.groups)
	}
}

// TestDeliveriesCarryTheConnectionVersion: each delivery names the version
// of its connection the router saw, so that the dispatcher does not send it
// with an older cached copy.
func TestDeliveriesCarryTheConnectionVersion(t *testing.T) {
	q := &fakeQueue{}
	r := newRouter(q, 2)
	fc := r.Connections.(*fakeConns)
	fc.list[0].Version, fc.list[1].Version = 7, 9
	if out, err := r.Handle(t.Context(), batchOf(t, 1)); err != nil || len(out.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", out, err)
	}
	got := map[string]int64{}
	for _, c := range q.calls {
		for _, d := range c {
			got[d.ConnectionID] = d.ConnVersion
		}
	}
	if got["k0"] != 7 || got["k1"] != 9 {
		t.Fatalf("deliveries carry versions %v, want k0:7 k1:9", got)
	}
}
