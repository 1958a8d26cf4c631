package ddbstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// newContacts gives a test its own table and a store on it.
func newContacts(t *testing.T) (*ddbstore.Contacts, *emulators.TestEnv) {
	t.Helper()
	env := emulators.ForTest(t)
	return &ddbstore.Contacts{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}, env
}

// mk builds a version-1 contact.
func mk(tenant, channel, id string, created int64, fields map[string]string, custom map[string]string) contacts.Contact {
	c := contacts.Contact{
		ID: id, TenantID: tenant, ChannelID: channel, Fields: fields, Custom: custom,
		Tags: []string{"vip"}, CreatedAt: created, UpdatedAt: created, Version: 1,
	}
	if channel != "" {
		c.LastInbound = map[string]int64{channel: created}
	}
	return c
}

// next returns c changed by edit, one version on.
func next(c contacts.Contact, edit func(*contacts.Contact)) contacts.Contact {
	n := c
	n.Fields, n.Custom = clone(c.Fields), clone(c.Custom)
	n.Version++
	n.UpdatedAt++
	edit(&n)
	return n
}

func clone(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func mustCreate(t *testing.T, s *ddbstore.Contacts, cs ...contacts.Contact) {
	t.Helper()
	for _, c := range cs {
		if err := s.CreateContact(t.Context(), c); err != nil {
			t.Fatalf("create %s: %v", c.ID, err)
		}
	}
}

// find searches and returns the IDs found and the total.
func find(t *testing.T, s *ddbstore.Contacts, q contacts.Query) ([]string, int) {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = contacts.PerPage
	}
	p, err := s.Search(t.Context(), q)
	if err != nil {
		t.Fatalf("search %+v: %v", q, err)
	}
	ids := []string{}
	for _, c := range p.Contacts {
		ids = append(ids, c.ID)
	}
	return ids, p.Total
}

// byEmail is a channel-scoped (or, with channel "", tenant-wide) search by email.
func byEmail(tenant, channel, email string) contacts.Query {
	return contacts.Query{TenantID: tenant, ChannelID: channel, FieldKey: contacts.StandardKey("email"), ValueKey: contacts.ValueKey(email)}
}

func TestCreateGetAndTenantIsolation(t *testing.T) {
	s, _ := newContacts(t)
	a := mk("ta", "ch1", "c1", 1700000000, map[string]string{"firstName": "Ann", "email": "ann@example.com"}, map[string]string{"7": "gold"})
	b := mk("tb", "ch9", "c2", 1700000001, map[string]string{"firstName": "Bob"}, nil)
	mustCreate(t, s, a, b)

	got, err := s.GetContact(t.Context(), "ta", "ch1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Fields["email"] != "ann@example.com" || got.Custom["7"] != "gold" || got.Version != 1 ||
		got.CreatedAt != a.CreatedAt || !slices.Equal(got.Tags, a.Tags) || got.LastInbound["ch1"] != a.CreatedAt {
		t.Errorf("GetContact = %+v, want %+v", got, a)
	}
	if err := s.CreateContact(t.Context(), a); !apperr.Is(err, apperr.KindExists) {
		t.Errorf("second create: %v, want an exists error", err)
	}
	if _, err := s.GetContact(t.Context(), "ta", "ch9", "c2"); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("tenant ta reading tb's contact: %v, want a not-found error", err)
	}
	if ids, total := find(t, s, byEmail("tb", "", "ann@example.com")); total != 0 || len(ids) != 0 {
		t.Errorf("tenant tb found ta's contact: %v (%d)", ids, total)
	}
	bad := a
	bad.ID, bad.Version = "c3", 0
	if err := s.CreateContact(t.Context(), bad); err == nil {
		t.Error("create with version 0 succeeded")
	}
}

func TestUpdateMovesIndexEntries(t *testing.T) {
	s, env := newContacts(t)
	c := mk("t", "ch", "c1", 100, map[string]string{"firstName": "Ann", "email": "old@example.com"}, map[string]string{"3": "x"})
	mustCreate(t, s, c)
	// Mark the entry of the unchanged first name: a Put would remove the mark.
	unchanged := ddbstore.EntryPK("t", "ch", "std:firstName", "ann", "c1")
	_, err := env.DDB.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName:        aws.String(env.OpsTable),
		Key:              map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: unchanged}, "SK": &types.AttributeValueMemberS{Value: "0000000100#c1"}},
		UpdateExpression: aws.String("SET mark = :m"), ConditionExpression: aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": &types.AttributeValueMemberS{Value: "kept"}},
	})
	if err != nil {
		t.Fatalf("mark index entry %s: %v", unchanged, err)
	}

	n := next(c, func(n *contacts.Contact) {
		n.Fields["email"] = "New@Example.com"
		delete(n.Custom, "3")
		n.Custom["4"] = "Y"
	})
	if err := s.UpdateContact(t.Context(), c, n); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		field string
		value string
		want  []string
	}{
		{"old email gone", contacts.StandardKey("email"), "old@example.com", nil},
		{"new email, other case", contacts.StandardKey("email"), "NEW@EXAMPLE.COM", []string{"c1"}},
		{"removed custom gone", contacts.CustomKey("3"), "x", nil},
		{"added custom", contacts.CustomKey("4"), "y", []string{"c1"}},
		{"unchanged name", contacts.StandardKey("firstName"), "ANN", []string{"c1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, ch := range []string{"ch", ""} {
				ids, total := find(t, s, contacts.Query{TenantID: "t", ChannelID: ch, FieldKey: tc.field, ValueKey: contacts.ValueKey(tc.value)})
				if total != len(tc.want) || !slices.Equal(ids, append([]string{}, tc.want...)) {
					t.Errorf("channel %q: found %v (total %d), want %v", ch, ids, total, tc.want)
				}
			}
		})
	}
	out, err := env.DDB.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(env.OpsTable), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: unchanged}, "SK": &types.AttributeValueMemberS{Value: "0000000100#c1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := out.Item["mark"].(*types.AttributeValueMemberS); m == nil || m.Value != "kept" {
		t.Errorf("unchanged index entry was rewritten: %v", out.Item)
	}
	if got, _ := s.GetContact(t.Context(), "t", "ch", "c1"); got.Version != 2 || got.Fields["email"] != "New@Example.com" {
		t.Errorf("stored contact %+v", got)
	}
}

func TestVersionConflictWritesNothing(t *testing.T) {
	s, _ := newContacts(t)
	c := mk("t", "ch", "c1", 100, map[string]string{"email": "a@example.com"}, nil)
	mustCreate(t, s, c)
	v2 := next(c, func(n *contacts.Contact) { n.Fields["email"] = "b@example.com" })
	if err := s.UpdateContact(t.Context(), c, v2); err != nil {
		t.Fatal(err)
	}
	stale := next(c, func(n *contacts.Contact) { n.Fields["email"] = "c@example.com" })
	if err := s.UpdateContact(t.Context(), c, stale); !apperr.Is(err, apperr.KindConflict) {
		t.Fatalf("stale update: %v, want a conflict", err)
	}
	if err := s.DeleteContact(t.Context(), c); !apperr.Is(err, apperr.KindConflict) {
		t.Fatalf("stale delete: %v, want a conflict", err)
	}
	if got, _ := s.GetContact(t.Context(), "t", "ch", "c1"); got.Version != 2 || got.Fields["email"] != "b@example.com" {
		t.Errorf("stored contact changed: %+v", got)
	}
	for email, want := range map[string]int{"a@example.com": 0, "b@example.com": 1, "c@example.com": 0} {
		if _, total := find(t, s, byEmail("t", "ch", email)); total != want {
			t.Errorf("%s: total %d, want %d", email, total, want)
		}
	}
	gone := mk("t", "ch", "nope", 1, nil, nil)
	if err := s.UpdateContact(t.Context(), gone, next(gone, func(*contacts.Contact) {})); !apperr.Is(err, apperr.KindConflict) {
		t.Errorf("update of a missing contact: %v, want a conflict", err)
	}
}

func TestDeleteRemovesIndexEntries(t *testing.T) {
	s, env := newContacts(t)
	c := mk("t", "ch", "c1", 100, map[string]string{"firstName": "Ann", "email": "a@example.com"}, map[string]string{"1": "z"})
	mustCreate(t, s, c)
	if err := s.DeleteContact(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetContact(t.Context(), "t", "ch", "c1"); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	// Nothing of the contact is left in either table.
	for _, pk := range []string{"CONTACT#t#c1", ddbstore.EntryPK("t", "ch", "std:firstName", "ann", "c1"),
		ddbstore.EntryPK("t", "ch", "std:email", "a@example.com", "c1"), ddbstore.EntryPK("t", "ch", "cf:1", "z", "c1")} {
		for _, table := range []string{env.Table, env.OpsTable} {
			out, err := env.DDB.Query(t.Context(), &dynamodb.QueryInput{TableName: aws.String(table), Select: types.SelectCount,
				KeyConditionExpression:    aws.String("PK = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}}})
			if err != nil {
				t.Fatal(err)
			}
			if out.Count != 0 {
				t.Errorf("%s: %d items left in %s", pk, out.Count, table)
			}
		}
	}
}

func TestSearchPaging(t *testing.T) {
	s, _ := newContacts(t)
	var want []string
	var all []contacts.Contact
	for i := range 25 {
		// Five contacts share each creation second: the ID breaks the tie.
		c := mk("t", "ch", fmt.Sprintf("c%02d", 24-i), int64(1000+i/5), map[string]string{"email": "Same@Example.com"}, nil)
		all = append(all, c)
	}
	slices.SortFunc(all, func(a, b contacts.Contact) int {
		return strings.Compare(fmt.Sprintf("%d#%s", a.CreatedAt, a.ID), fmt.Sprintf("%d#%s", b.CreatedAt, b.ID))
	})
	for _, c := range all {
		want = append(want, c.ID)
	}
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	mustCreate(t, s, all...)
	mustCreate(t, s, mk("t", "other", "o1", 1, map[string]string{"email": "same@example.com"}, nil))

	for _, ch := range []string{"ch", ""} {
		t.Run("channel "+ch, func(t *testing.T) {
			extra := 0
			if ch == "" {
				extra = 1 // the other channel's contact
			}
			var got []string
			for _, page := range []struct{ offset, size int }{{0, 10}, {10, 10}, {20, 5 + extra}, {30, 0}} {
				q := byEmail("t", ch, "same@example.com")
				q.Offset, q.Limit = page.offset, 10
				ids, total := find(t, s, q)
				if len(ids) != page.size || total != 25+extra {
					t.Errorf("offset %d: %d contacts, total %d; want %d, %d", page.offset, len(ids), total, page.size, 25+extra)
				}
				got = append(got, ids...)
			}
			wantAll := want
			if ch == "" {
				wantAll = append([]string{"o1"}, want...)
			}
			if !slices.Equal(got, wantAll) {
				t.Errorf("order %v, want %v", got, wantAll)
			}
		})
	}
	t.Run("odd offset and total only", func(t *testing.T) {
		q := byEmail("t", "ch", "same@example.com")
		q.Offset, q.Limit = 7, 3
		if ids, total := find(t, s, q); !slices.Equal(ids, want[7:10]) || total != 25 {
			t.Errorf("offset 7: %v (%d), want %v", ids, total, want[7:10])
		}
		q.Offset, q.Limit = 0, 0
		p, err := s.Search(t.Context(), q)
		if err != nil || len(p.Contacts) != 0 || p.Total != 25 {
			t.Errorf("limit 0: %d contacts, total %d, %v", len(p.Contacts), p.Total, err)
		}
	})
	t.Run("limits", func(t *testing.T) {
		for _, q := range []contacts.Query{
			{TenantID: "t", FieldKey: "std:email", ValueKey: "x", Offset: ddbstore.MaxSearchOffset + 1, Limit: 10},
			{TenantID: "t", FieldKey: "std:email", ValueKey: "x", Offset: -1, Limit: 10},
			{TenantID: "t", FieldKey: "std:email", ValueKey: "x", Limit: ddbstore.MaxSearchLimit + 1},
			{TenantID: "t", ValueKey: "x", Limit: 10},
		} {
			if _, err := s.Search(t.Context(), q); !errors.Is(err, ddbstore.ErrBadQuery) {
				t.Errorf("%+v: %v, want ErrBadQuery", q, err)
			}
		}
	})
}

func TestSearchScopes(t *testing.T) {
	s, _ := newContacts(t)
	phone := map[string]string{"phone": "+15550001"}
	mustCreate(t, s,
		mk("t", "wa", "c1", 1, phone, nil),
		mk("t", "fb", "c2", 2, phone, nil),
		mk("t", "", "c3", 3, phone, nil), // account-level contact
		mk("u", "wa", "c4", 4, phone, nil),
	)
	q := func(tenant, ch string) contacts.Query {
		return contacts.Query{TenantID: tenant, ChannelID: ch, FieldKey: contacts.StandardKey("phone"), ValueKey: "+15550001", Limit: 10}
	}
	cases := []struct {
		name string
		q    contacts.Query
		want []string
	}{
		{"channel wa", q("t", "wa"), []string{"c1"}},
		{"channel fb", q("t", "fb"), []string{"c2"}},
		{"tenant-wide", q("t", ""), []string{"c1", "c2", "c3"}},
		{"other tenant", q("u", ""), []string{"c4"}},
		{"unknown channel", q("t", "viber"), []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ids, total := find(t, s, tc.q)
			if !slices.Equal(ids, tc.want) || total != len(tc.want) {
				t.Errorf("found %v (total %d), want %v", ids, total, tc.want)
			}
		})
	}
}

func TestSearchSkipsVanishedContacts(t *testing.T) {
	s, env := newContacts(t)
	c := mk("t", "ch", "c1", 1, map[string]string{"email": "a@example.com"}, nil)
	mustCreate(t, s, c, mk("t", "ch", "c2", 2, map[string]string{"email": "a@example.com"}, nil))
	// Remove the contact item alone, as if it vanished between the reads.
	_, err := env.DDB.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(env.Table),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "CONTACT#t#c1"}, "SK": &types.AttributeValueMemberS{Value: "CONTACT#ch"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ids, total := find(t, s, byEmail("t", "ch", "a@example.com")); !slices.Equal(ids, []string{"c2"}) || total != 2 {
		t.Errorf("found %v (total %d), want [c2] of 2 entries", ids, total)
	}
}

func TestLongValuesAreSearchable(t *testing.T) {
	s, _ := newContacts(t)
	long := strings.Repeat("ü", 150) // 300 bytes
	mustCreate(t, s,
		mk("t", "ch", "c1", 1, nil, map[string]string{"9": long}),
		mk("t", "ch", "c2", 2, nil, map[string]string{"9": long + "x"}),
	)
	for _, tc := range []struct {
		value string
		want  []string
	}{{strings.ToUpper(long), []string{"c1"}}, {long + "X", []string{"c2"}}, {long[:len(long)-2], []string{}}} {
		for _, ch := range []string{"ch", ""} {
			q := contacts.Query{TenantID: "t", ChannelID: ch, FieldKey: contacts.CustomKey("9"), ValueKey: contacts.ValueKey(tc.value), Limit: 10}
			if ids, _ := find(t, s, q); !slices.Equal(ids, tc.want) {
				t.Errorf("value of %d bytes in channel %q: found %v, want %v", len(tc.value), ch, ids, tc.want)
			}
		}
	}
}

func TestTooManyActionsIsRefusedWhole(t *testing.T) {
	s, _ := newContacts(t)
	custom := map[string]string{}
	for i := range 100 {
		custom[fmt.Sprint(i+1)] = fmt.Sprintf("v%d", i)
	}
	big := mk("t", "ch", "big", 1, nil, custom) // 1 contact + 100 entries
	if err := s.CreateContact(t.Context(), big); !errors.Is(err, ddbstore.ErrTooManyActions) {
		t.Fatalf("create: %v, want ErrTooManyActions", err)
	}
	if _, err := s.GetContact(t.Context(), "t", "ch", "big"); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("refused contact was written: %v", err)
	}
	small := mk("t", "ch", "c1", 1, map[string]string{"email": "a@example.com"}, map[string]string{"1": "v0"})
	mustCreate(t, s, small)
	grown := next(small, func(n *contacts.Contact) { n.Custom = custom; n.Fields["email"] = "b@example.com" })
	if err := s.UpdateContact(t.Context(), small, grown); !errors.Is(err, ddbstore.ErrTooManyActions) {
		t.Fatalf("update: %v, want ErrTooManyActions", err)
	}
	if got, _ := s.GetContact(t.Context(), "t", "ch", "c1"); got.Version != 1 || len(got.Custom) != 1 {
		t.Errorf("refused update was written: %+v", got)
	}
	if _, total := find(t, s, contacts.Query{TenantID: "t", ChannelID: "ch", FieldKey: contacts.CustomKey("50"), ValueKey: "v49"}); total != 0 {
		t.Errorf("refused write left %d index entries", total)
	}
}

func TestContactWritesReachTheStream(t *testing.T) {
	s, env := newContacts(t)
	c := mk("t", "ch", "c1", 1, map[string]string{"email": "a@example.com"}, nil)
	mustCreate(t, s, c)
	n := next(c, func(n *contacts.Contact) { n.Fields["phone"] = "+1555" })
	if err := s.UpdateContact(t.Context(), c, n); err != nil {
		t.Fatal(err)
	}
	var modify *streamtypes.Record
	for _, r := range streamRecords(t, env) {
		pk, _ := r.Dynamodb.Keys["PK"].(*streamtypes.AttributeValueMemberS)
		if pk != nil && pk.Value == "CONTACT#t#c1" && r.EventName == streamtypes.OperationTypeModify {
			modify = &r
		}
		// The search index lives on the operations table, off the stream.
		if pk == nil || !strings.HasPrefix(pk.Value, "CONTACT#") {
			t.Errorf("stream record of %v: only contact items belong on the data table's stream", r.Dynamodb.Keys)
		}
	}
	if modify == nil {
		t.Fatal("no MODIFY record of the contact in the stream")
	}
	version := func(img map[string]streamtypes.AttributeValue) string {
		v, _ := img["version"].(*streamtypes.AttributeValueMemberN)
		if v == nil {
			return ""
		}
		return v.Value
	}
	if version(modify.Dynamodb.OldImage) != "1" || version(modify.Dynamodb.NewImage) != "2" {
		t.Errorf("images: old %v, new %v", modify.Dynamodb.OldImage, modify.Dynamodb.NewImage)
	}
	fields, _ := modify.Dynamodb.NewImage["fields"].(*streamtypes.AttributeValueMemberM)
	if fields == nil || fields.Value["phone"] == nil {
		t.Errorf("new image lacks the new phone: %v", modify.Dynamodb.NewImage)
	}
}

// streamRecords reads every record of the test table's stream.
func streamRecords(t *testing.T, env *emulators.TestEnv) []streamtypes.Record {
	t.Helper()
	ctx := t.Context()
	tbl, err := env.DDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(env.Table)})
	if err != nil {
		t.Fatal(err)
	}
	arn := tbl.Table.LatestStreamArn
	desc, err := env.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	var out []streamtypes.Record
	for _, sh := range desc.StreamDescription.Shards {
		it, err := env.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn: arn, ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatal(err)
		}
		for iter := it.ShardIterator; iter != nil; {
			recs, err := env.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, recs.Records...)
			if len(recs.Records) == 0 {
				break
			}
			iter = recs.NextShardIterator
		}
	}
	return out
}

// countingDDB is the emulator's client, counting what Queries read.
// The shards are queried in parallel.
type countingDDB struct {
	*dynamodb.Client
	mu             sync.Mutex
	calls, scanned int
}

func (c *countingDDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.Client.Query(ctx, in, opts...)
	if err == nil {
		c.mu.Lock()
		c.calls++
		c.scanned += int(out.ScannedCount)
		c.mu.Unlock()
	}
	return out, err
}

// TestSearchReadsThePageNotTheMatches checks that a search's cost follows
// its page, not the number of matches: the total comes from the counts, and
// the shards are read only as deep as the merge needs.
func TestSearchReadsThePageNotTheMatches(t *testing.T) {
	env := emulators.ForTest(t)
	ddb := &countingDDB{Client: env.DDB}
	s := &ddbstore.Contacts{API: ddb, Table: env.Table, OpsTable: env.OpsTable}
	const matches = 300
	var all []string
	for i := range matches {
		id := fmt.Sprintf("c%03d", i)
		all = append(all, id)
		mustCreate(t, s, mk("t", "ch", id, int64(i), map[string]string{"email": "match@example.com", "firstName": "Ann"}, nil))
	}
	for _, page := range []struct{ offset, limit int }{{0, 10}, {10, 10}, {150, 3}, {295, 10}, {300, 10}} {
		for _, ch := range []string{"ch", ""} {
			ddb.calls, ddb.scanned = 0, 0
			q := byEmail("t", ch, "match@example.com")
			q.Offset, q.Limit = page.offset, page.limit
			ids, total := find(t, s, q)
			want := all[min(page.offset, matches):min(page.offset+page.limit, matches)]
			if total != matches || !slices.Equal(ids, want) {
				t.Errorf("channel %q page %+v: found %v (total %d), want %v (total %d)", ch, page, ids, total, want, matches)
			}
			// Each shard reads its share of offset+limit and a little more
			// (a few entries on the first pages), and past the end only its
			// first page (read beside the counts).
			if ddb.calls > 2*ddbstore.IndexShards || (page.offset >= matches && ddb.calls > ddbstore.IndexShards) {
				t.Errorf("channel %q page %+v: %d queries", ch, page, ddb.calls)
			}
			if most := page.offset + page.limit + ddbstore.IndexShards*8; page.offset <= 10 && ddb.scanned > most {
				t.Errorf("channel %q page %+v: %d entries read of %d, want at most %d", ch, page, ddb.scanned, matches, most)
			}
		}
	}
}

// stingyDDB leaves all but the first key of each BatchGetItem unprocessed.
type stingyDDB struct {
	*dynamodb.Client
	batches int
}

func (c *stingyDDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.batches++
	first, rest := map[string]types.KeysAndAttributes{}, map[string]types.KeysAndAttributes{}
	for table, ka := range in.RequestItems {
		if !aws.ToBool(ka.ConsistentRead) {
			return nil, fmt.Errorf("batch read of %s is not consistent", table)
		}
		one := ka
		one.Keys = ka.Keys[:1]
		first[table] = one
		if len(ka.Keys) > 1 {
			ka.Keys = ka.Keys[1:]
			ka.ConsistentRead = nil // as if DynamoDB did not echo it
			rest[table] = ka
		}
	}
	out, err := c.Client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: first}, opts...)
	if err == nil && len(rest) > 0 {
		out.UnprocessedKeys = rest
	}
	return out, err
}

func TestSearchReadsPagesWithoutBatchHelp(t *testing.T) {
	env := emulators.ForTest(t)
	stingy := &stingyDDB{Client: env.DDB}
	cases := []struct {
		name string
		api  ddbstore.API
	}{
		{"unprocessed keys are retried", stingy},
	}
	s := &ddbstore.Contacts{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	var want []string
	for i := range 4 {
		want = append(want, fmt.Sprintf("c%d", i))
		mustCreate(t, s, mk("t", "ch", want[i], int64(i), map[string]string{"email": "a@example.com"}, nil))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &ddbstore.Contacts{API: tc.api, Table: env.Table, OpsTable: env.OpsTable}
			if ids, total := find(t, s, byEmail("t", "ch", "a@example.com")); !slices.Equal(ids, want) || total != 4 {
				t.Errorf("found %v (total %d), want %v", ids, total, want)
			}
		})
	}
	if want := ddbstore.IndexShards + 4; stingy.batches != want {
		t.Errorf("%d BatchGetItem calls, want %d (one per unprocessed key: the counts, then the contacts)", stingy.batches, want)
	}
}

// TestIndexTableRequired checks that contact writes and searches without
// the index table fail whole, saying so, and write nothing.
func TestIndexTableRequired(t *testing.T) {
	full, env := newContacts(t)
	s := &ddbstore.Contacts{API: env.DDB, Table: env.Table}
	c := mk("t", "ch", "c1", 1, map[string]string{"email": "a@example.com"}, nil)
	check := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "Contacts.OpsTable (the operations table") {
			t.Errorf("%s without Index = %v", what, err)
		}
	}
	check("create", s.CreateContact(t.Context(), c))
	if _, err := full.GetContact(t.Context(), "t", "ch", "c1"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("the refused create wrote the contact: %v", err)
	}
	_, err := s.Search(t.Context(), byEmail("t", "ch", "a@example.com"))
	check("search", err)
	mustCreate(t, full, c)
	check("update", s.UpdateContact(t.Context(), c, next(c, func(n *contacts.Contact) { n.Fields["email"] = "b@example.com" })))
	check("delete", s.DeleteContact(t.Context(), c))
	if got, err := full.GetContact(t.Context(), "t", "ch", "c1"); err != nil || got.Version != 1 {
		t.Fatalf("after refused writes: %+v, %v", got, err)
	}
}
