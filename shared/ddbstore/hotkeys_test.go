package ddbstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/partitionlimit"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// TestPartitionLimit checks the limiter itself: the 1,001st write to one
// partition in a second is refused, another partition's is not, and the
// next second starts again.
func TestPartitionLimit(t *testing.T) {
	env := emulators.ForTest(t)
	now := time.Unix(1000, 0)
	p := partitionlimit.New(env.DDB, 1000, func() time.Time { return now })
	put := func(pk string) error {
		_, err := p.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(env.OpsTable), Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: "x"}}})
		return err
	}
	for i := range 1000 {
		if err := put("IDX#hot"); err != nil {
			t.Fatalf("write %d: %v", i+1, err)
		}
	}
	var pte *types.ProvisionedThroughputExceededException
	if err := put("IDX#hot"); !errors.As(err, &pte) {
		t.Fatalf("write 1001: %v, want ProvisionedThroughputExceededException", err)
	}
	if err := put("IDX#cold"); err != nil {
		t.Fatalf("another partition: %v", err)
	}
	now = now.Add(time.Second)
	if err := put("IDX#hot"); err != nil {
		t.Fatalf("next second: %v", err)
	}
}

// importRate is the pace of the bulk import below: contact creates per
// second, as a bulk import running on many Lambda instances sends them.
const importRate = 4000

// bulkContacts is the size of the import: twice what one partition takes
// in a second at importRate.
const bulkContacts = 2000

// bulkCreate creates n contacts that share language "en" through s on
// workers goroutines, and stops at the first error. The limiter's clock
// is the import's own: the i-th create is sent at i/importRate seconds (the
// emulator on a test machine writes far slower than DynamoDB; the
// partition limit is judged at the pace a real import has).
func bulkCreate(t *testing.T, s *ddbstore.Contacts, tenant string, n int, calls *atomic.Int64) error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				calls.Store(i)
				c := mk(tenant, "ch", fmt.Sprintf("c%05d", i), 1_700_000_000+i, map[string]string{"language": "en"}, nil)
				c.Tags = []string{}
				if err := s.CreateContact(ctx, c); err != nil {
					once.Do(func() { first = fmt.Errorf("create %d: %w", i, err); cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// TestBulkImportOfOneValueIsNotThrottled creates bulkContacts contacts
// that share one value at 4,000 creates a second against a limit of 1,000
// writes a second per partition: with the shards every partition (entries,
// their GSI1, the counts) stays under it; with one partition per value, as
// before the shards, the import is throttled within its first second.
// (make bench runs the same with 10,000 contacts: apibench.)
func TestBulkImportOfOneValueIsNotThrottled(t *testing.T) {
	env := emulators.ForTest(t)
	var calls atomic.Int64
	start := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return start.Add(time.Duration(calls.Load()) * time.Second / importRate) }

	t.Run("one partition per value", func(t *testing.T) {
		lim := partitionlimit.New(env.DDB, 1000, clock)
		s := ddbstore.WithShards(&ddbstore.Contacts{API: lim, Table: env.Table, OpsTable: env.OpsTable}, 1)
		calls.Store(0)
		err := bulkCreate(t, s, "unsharded", bulkContacts, &calls)
		var pte *types.ProvisionedThroughputExceededException
		if !errors.As(err, &pte) {
			t.Fatalf("import: %v, want ProvisionedThroughputExceededException", err)
		}
		t.Logf("throttled as expected: %v", err)
	})

	lim := partitionlimit.New(env.DDB, 1000, clock)
	s := &ddbstore.Contacts{API: lim, Table: env.Table, OpsTable: env.OpsTable}
	calls.Store(0)
	if err := bulkCreate(t, s, "t", bulkContacts, &calls); err != nil {
		t.Fatalf("sharded import: %v", err)
	}
	peak, hot := lim.Peak()
	t.Logf("busiest partition: %d writes in one second (limit 1000): %s", peak, hot)
	plain := &ddbstore.Contacts{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	for _, ch := range []string{"ch", ""} {
		q := contacts.Query{TenantID: "t", ChannelID: ch, FieldKey: contacts.StandardKey("language"), ValueKey: "en", Offset: bulkContacts - 5, Limit: 10}
		ids, total := find(t, plain, q)
		last := fmt.Sprintf("c%05d", bulkContacts-1)
		if total != bulkContacts || len(ids) != 5 || ids[4] != last {
			t.Errorf("channel %q: last page %v, total %d; want 5 ending with %s of %d", ch, ids, total, last, bulkContacts)
		}
	}
}

// sumCounts adds up the count items of (field, value): attribute attr of
// every shard, read directly.
func sumCounts(t *testing.T, env *emulators.TestEnv, tenant, field, value, attr string) int {
	t.Helper()
	sum := 0
	seen := map[string]bool{}
	for i := range 2000 { // contact IDs that cover every shard
		pk := ddbstore.CountPK(tenant, field, value, fmt.Sprint("probe", i))
		if seen[pk] {
			continue
		}
		seen[pk] = true
		out, err := env.DDB.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(env.OpsTable), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: "N"}}})
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := out.Item[attr].(*types.AttributeValueMemberN); ok {
			var v int
			fmt.Sscan(n.Value, &v)
			sum += v
		}
	}
	if len(seen) != ddbstore.IndexShards {
		t.Fatalf("probed %d shards, want %d", len(seen), ddbstore.IndexShards)
	}
	return sum
}

// TestCountsStayExact moves contacts between values and channels' scopes
// and checks every total, from the searches and from the count items
// themselves, against the contacts there are; a contact with more values
// than one transaction can move is deleted in several, its counts with it.
func TestCountsStayExact(t *testing.T) {
	s, env := newContacts(t)
	lang := func(ch, v string) contacts.Query {
		return contacts.Query{TenantID: "t", ChannelID: ch, FieldKey: contacts.StandardKey("language"), ValueKey: v, Limit: 100}
	}
	var cs []contacts.Contact
	for i := range 30 {
		ch := []string{"ch1", "ch2", ""}[i%3]
		c := mk("t", ch, fmt.Sprintf("c%02d", i), int64(i), map[string]string{"language": "en"}, nil)
		mustCreate(t, s, c)
		cs = append(cs, c)
	}
	// c00..c09 move to fr, c10..c14 are deleted.
	for i := range 10 {
		n := next(cs[i], func(n *contacts.Contact) { n.Fields["language"] = "FR" })
		if err := s.UpdateContact(t.Context(), cs[i], n); err != nil {
			t.Fatal(err)
		}
	}
	for i := 10; i < 15; i++ {
		if err := s.DeleteContact(t.Context(), cs[i]); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]map[string]int{"en": {}, "fr": {}}
	for i, c := range cs {
		v := "en"
		switch {
		case i < 10:
			v = "fr"
		case i < 15:
			continue
		}
		want[v][c.ChannelID]++
		want[v]["*"]++
	}
	for v, byCh := range want {
		for _, ch := range []string{"ch1", "ch2"} {
			if _, total := find(t, s, lang(ch, v)); total != byCh[ch] {
				t.Errorf("%s in %s: total %d, want %d", v, ch, total, byCh[ch])
			}
		}
		if ids, total := find(t, s, lang("", v)); total != byCh["*"] || len(ids) != byCh["*"] {
			t.Errorf("%s tenant-wide: total %d (%d found), want %d", v, total, len(ids), byCh["*"])
		}
		if n := sumCounts(t, env, "t", contacts.StandardKey("language"), v, "n"); n != byCh["*"] {
			t.Errorf("%s: count items say %d, want %d", v, n, byCh["*"])
		}
		if n := sumCounts(t, env, "t", contacts.StandardKey("language"), v, "c:ch1"); n != byCh["ch1"] {
			t.Errorf("%s: ch1's counts say %d, want %d", v, n, byCh["ch1"])
		}
	}

	// A contact with every value it may have (11 standard, 88 custom): 199
	// actions to delete, in three transactions.
	custom := map[string]string{}
	for i := range contacts.MaxCustomValues {
		custom[fmt.Sprint(i+1)] = "big"
	}
	fields := map[string]string{"language": "en", "firstName": "B", "lastName": "C", "email": "b@example.com", "phone": "+15550001",
		"profilePic": "p", "locale": "en_US", "timezone": "1", "gender": "x", "birthday": "2000-01-01", "location": "here"}
	big := mk("t", "ch1", "big", 100, fields, custom)
	createUnsharded(t, env, env.Table, env.OpsTable, big)
	if _, err := s.Reindex(t.Context(), nil); err != nil { // in chunks, too
		t.Fatal(err)
	}
	if _, total := find(t, s, lang("ch1", "en")); total != want["en"]["ch1"]+1 {
		t.Errorf("after reindex: total %d, want %d", total, want["en"]["ch1"]+1)
	}
	for _, f := range []string{"1", "88"} {
		if ids, total := find(t, s, contacts.Query{TenantID: "t", FieldKey: contacts.CustomKey(f), ValueKey: "big", Limit: 10}); total != 1 || len(ids) != 1 {
			t.Errorf("custom %s: %v, total %d", f, ids, total)
		}
	}
	if err := s.DeleteContact(t.Context(), big); err != nil {
		t.Fatal(err)
	}
	if _, total := find(t, s, lang("ch1", "en")); total != want["en"]["ch1"] {
		t.Errorf("after the big delete: total %d, want %d", total, want["en"]["ch1"])
	}
	for _, f := range []string{"1", "50", "88"} {
		if n := sumCounts(t, env, "t", contacts.CustomKey(f), "big", "n"); n != 0 {
			t.Errorf("custom %s: counts say %d after the delete", f, n)
		}
	}
	if _, err := s.GetContact(t.Context(), "t", "ch1", "big"); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("big contact: %v", err)
	}
}

// conflictingAPI cancels the first n transactions as DynamoDB does when
// another transaction is writing one of their items (a shared count).
type conflictingAPI struct {
	*dynamodb.Client
	n, calls int
}

func (c *conflictingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.calls++
	if c.n > 0 {
		c.n--
		reasons := make([]types.CancellationReason, len(in.TransactItems))
		for i := range reasons {
			reasons[i].Code = aws.String("None")
		}
		reasons[len(reasons)-1].Code = aws.String("TransactionConflict")
		return nil, &types.TransactionCanceledException{Message: aws.String("Transaction cancelled"), CancellationReasons: reasons}
	}
	return c.Client.TransactWriteItems(ctx, in, opts...)
}

// TestConflictsOnCountsAreRetried checks that a contact write cancelled
// only because a concurrent transaction held one of its counts is tried
// again, and one that keeps meeting conflicts gives up.
func TestConflictsOnCountsAreRetried(t *testing.T) {
	env := emulators.ForTest(t)
	api := &conflictingAPI{Client: env.DDB, n: 2}
	s := &ddbstore.Contacts{API: api, Table: env.Table, OpsTable: env.OpsTable}
	c := mk("t", "ch", "c1", 1, map[string]string{"language": "en"}, nil)
	if err := s.CreateContact(t.Context(), c); err != nil || api.calls != 3 {
		t.Fatalf("create after 2 conflicts: %v in %d calls, want success in 3", err, api.calls)
	}
	if _, total := find(t, s, contacts.Query{TenantID: "t", ChannelID: "ch", FieldKey: contacts.StandardKey("language"), ValueKey: "en", Limit: 10}); total != 1 {
		t.Errorf("total %d, want 1", total)
	}
	api.n, api.calls = 100, 0
	n := next(c, func(n *contacts.Contact) { n.Fields["language"] = "fr" })
	if err := s.UpdateContact(t.Context(), c, n); !apperr.Is(err, apperr.KindConflict) || api.calls != 4 {
		t.Errorf("update under endless conflicts: %v in %d calls, want a conflict after 4", err, api.calls)
	}
}
