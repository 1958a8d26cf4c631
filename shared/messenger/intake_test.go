package messenger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/messenger"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func TestMain(m *testing.M) { emulators.Main(m) }

const tenant, channel = "ten_intake", "ch_intake"

var scope = contacts.Scope{TenantID: tenant, ChannelID: channel, DefaultCountry: "US"}

// setup returns an Env on fresh emulator tables and an intake on its
// contact store (wrapped by wrap, when given).
func setup(t *testing.T, wrap func(contacts.Store) contacts.Store) (*wiring.Env, *messenger.Intake) {
	t.Helper()
	env := emulators.ForTest(t)
	vars := map[string]string{appenv.TableName: env.Table, appenv.OpsTableName: env.OpsTable}
	d := wiring.FromConfig(env.Config, func(k string) string { return vars[k] })
	store := d.ContactStore()
	if wrap != nil {
		store = wrap(store)
	}
	return d, &messenger.Intake{Contacts: &contacts.Service{Store: store, Phone: phone.Normalize, Now: time.Now}}
}

// inboxRecord stores body as an inbox item and returns the stream record
// its insert makes.
func inboxRecord(t *testing.T, d *wiring.Env, body string) events.DynamoDBEventRecord {
	t.Helper()
	ctx := context.Background()
	err := d.MessengerInbox().PutInbox(ctx, messenger.InboxItem{TenantID: tenant, ChannelID: channel, DefaultCountry: "US", ReceivedAt: time.Now(), Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.DDB.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(d.DataTable),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: messenger.InboxKeyPrefix + tenant + "#" + channel}},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
	})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("inbox item: %v %v", out, err)
	}
	img := streamImage(t, out.Items[0])
	return events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{
		Keys: map[string]events.DynamoDBAttributeValue{"PK": img["PK"], "SK": img["SK"]}, NewImage: img,
		SequenceNumber: img["SK"].String(),
	}}
}

func streamImage(t *testing.T, item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	t.Helper()
	b, err := attributevalue.MarshalMapJSON(item)
	if err != nil {
		t.Fatal(err)
	}
	var img map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal(b, &img); err != nil {
		t.Fatal(err)
	}
	return img
}

func handle(t *testing.T, in *messenger.Intake, recs ...events.DynamoDBEventRecord) events.DynamoDBEventResponse {
	t.Helper()
	out, err := in.Handle(context.Background(), events.DynamoDBEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func contact(t *testing.T, d *wiring.Env, psid string) contacts.Contact {
	t.Helper()
	c, err := d.ContactStore().GetContact(context.Background(), tenant, channel, psid)
	if err != nil {
		t.Fatalf("contact %s: %v", psid, err)
	}
	return c
}

const threeEvents = `{"object":"page","entry":[{"id":"1","time":1,"messaging":[
	{"sender":{"id":"111"},"timestamp":1705321144000,"postback":{"title":"Start","payload":"GET_STARTED"}},
	{"sender":{"id":"111"},"timestamp":1705321145000,"message":{"mid":"m.1","quick_reply":{"payload":"ana@example.com"}}},
	{"sender":{"id":"111"},"timestamp":1705321146000,"message":{"mid":"m.2","attachments":[{"type":"location","payload":{"coordinates":{"lat":54.6872,"long":25.2797}}}]}},
	{"sender":{"id":"222"},"timestamp":1705321147000,"postback":{"mid":"m.3","payload":"BUY"}}]}]}`

// TestIntakeRecordsEachEventOnce: a replayed stream record and a repeated
// webhook call (a new inbox item with the same events) write nothing; a
// new event with the same payload is recorded.
func TestIntakeRecordsEachEventOnce(t *testing.T) {
	d, in := setup(t, nil)
	rec := inboxRecord(t, d, threeEvents)
	if out := handle(t, in, rec); len(out.BatchItemFailures) != 0 {
		t.Fatalf("failures: %+v", out)
	}
	a, b := contact(t, d, "111"), contact(t, d, "222")
	if a.Fields["email"] != "ana@example.com" || a.Fields["location"] != "54.6872,25.2797" || a.Version != 3 {
		t.Fatalf("contact 111: %+v", a)
	}
	if b.LastEvent == nil || b.LastEvent.PostbackID != "BUY" || b.Version != 1 {
		t.Fatalf("contact 222: %+v", b)
	}

	// The same stream record again (Lambda retries a batch), then the same
	// call stored again (Meta retries it).
	handle(t, in, rec)
	handle(t, in, inboxRecord(t, d, threeEvents))
	if got := contact(t, d, "111"); got.Version != a.Version || got.LastEvent.Seq != a.LastEvent.Seq {
		t.Errorf("contact 111 written again: version %d, was %d", got.Version, a.Version)
	}
	if got := contact(t, d, "222"); got.Version != b.Version {
		t.Errorf("contact 222 written again: version %d, was %d", got.Version, b.Version)
	}

	// The same postback at another time is another event.
	handle(t, in, inboxRecord(t, d, strings.Replace(threeEvents, "1705321144000", "1705321999000", 1)))
	if got := contact(t, d, "111"); got.Version != a.Version+1 || got.LastEvent.PostbackID != "GET_STARTED" {
		t.Errorf("a new postback was not recorded: %+v", got)
	}
}

// TestIntakeSkipsOtherRecords: contact writes, removals and modified inbox
// items are not the intake's.
func TestIntakeSkipsOtherRecords(t *testing.T) {
	d, in := setup(t, nil)
	rec := inboxRecord(t, d, threeEvents)
	removed := rec
	removed.EventName = "REMOVE"
	other := rec
	other.Change.Keys = map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute("CONTACT#" + tenant + "#111"), "SK": events.NewStringAttribute("CONTACT")}
	if out := handle(t, in, removed, other); len(out.BatchItemFailures) != 0 {
		t.Fatal(out)
	}
	if _, err := d.ContactStore().GetContact(context.Background(), tenant, channel, "111"); err == nil {
		t.Fatal("a record that is not an inserted inbox item was processed")
	}
}

// flaky fails the first write of each contact ID in fail.
type flaky struct {
	contacts.Store
	mu   sync.Mutex
	fail map[string]bool
}

func (f *flaky) take(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[id] {
		delete(f.fail, id)
		return true
	}
	return false
}

func (f *flaky) CreateContact(ctx context.Context, c contacts.Contact) error {
	if f.take(c.ID) {
		return errors.New("throttled")
	}
	return f.Store.CreateContact(ctx, c)
}

func (f *flaky) UpdateContact(ctx context.Context, prev, next contacts.Contact) error {
	if f.take(next.ID) {
		return errors.New("throttled")
	}
	return f.Store.UpdateContact(ctx, prev, next)
}

// TestIntakeResumesAfterFailure: a store failure fails the record (and the
// ones after it); the retry records what was left and skips what was done.
func TestIntakeResumesAfterFailure(t *testing.T) {
	f := &flaky{fail: map[string]bool{"111": true}}
	d, in := setup(t, func(s contacts.Store) contacts.Store { f.Store = s; return f })
	rec := inboxRecord(t, d, threeEvents)
	later := rec
	later.Change.SequenceNumber = "later"
	out := handle(t, in, rec, later)
	if len(out.BatchItemFailures) != 2 || out.BatchItemFailures[0].ItemIdentifier != rec.Change.SequenceNumber {
		t.Fatalf("want the record and the one after it failed: %+v", out)
	}
	if got := contact(t, d, "222"); got.LastEvent == nil || got.LastEvent.PostbackID != "BUY" {
		t.Fatalf("the other subscriber's event waits for nothing: %+v", got)
	}
	if _, err := d.ContactStore().GetContact(context.Background(), tenant, channel, "111"); err == nil {
		t.Fatal("111's first event failed, yet its later ones were recorded (out of order)")
	}
	var b messenger.Body
	if err := json.Unmarshal([]byte(threeEvents), &b); err != nil {
		t.Fatal(err)
	}
	st, err := in.Process(context.Background(), scope, b.Items())
	if err != nil || st != (messenger.Stats{Recorded: 3, Duplicate: 1}) {
		t.Fatalf("retry: %+v %v", st, err)
	}
	if c := contact(t, d, "111"); c.Version != 3 || c.Fields["email"] != "ana@example.com" {
		t.Fatalf("after the retry: %+v", c)
	}
}

// TestIntakeManyEvents: 1,000 events of 100 subscribers are all recorded,
// each subscriber's in order.
func TestIntakeManyEvents(t *testing.T) {
	d, in := setup(t, nil)
	var items []messenger.Item
	var b strings.Builder
	b.WriteString(`{"object":"page","entry":[{"messaging":[`)
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"sender":{"id":"%d"},"timestamp":%d,"postback":{"payload":"P%d"}}`, 500+i%100, 1705321144000+i, i)
	}
	b.WriteString(`]}]}`)
	var body messenger.Body
	if err := json.Unmarshal([]byte(b.String()), &body); err != nil {
		t.Fatal(err)
	}
	items = body.Items()
	if len(items) != 1000 {
		t.Fatalf("%d items", len(items))
	}
	st, err := in.Process(context.Background(), scope, items)
	if err != nil || st.Recorded != 1000 {
		t.Fatalf("%+v %v", st, err)
	}
	for s := range 100 {
		c := contact(t, d, fmt.Sprint(500+s))
		if c.Version != 10 || c.LastEvent.PostbackID != fmt.Sprintf("P%d", 900+s) {
			t.Fatalf("subscriber %d: version %d, last %s", 500+s, c.Version, c.LastEvent.PostbackID)
		}
	}
}
