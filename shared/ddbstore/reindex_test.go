package ddbstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// countPrefix counts the items of a table whose PK starts with prefix.
func countPrefix(t *testing.T, api *dynamodb.Client, table, prefix string) int {
	t.Helper()
	out, err := api.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount,
		FilterExpression:          aws.String("begins_with(PK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: prefix}}})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

// createUnsharded writes contacts as versions before the shards did, their
// entries in indexTable.
func createUnsharded(t *testing.T, env *emulators.TestEnv, table, indexTable string, cs ...contacts.Contact) {
	t.Helper()
	for _, c := range cs {
		if err := ddbstore.CreateUnsharded(t.Context(), env.DDB, table, indexTable, c); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReindexMovesTheOldLayouts writes contacts as versions before the
// operations table did (index items in the data table) and before the
// shards did (unsharded entries on the operations table), then checks that
// Reindex makes them searchable with exact totals, leaves no old item in
// either table, and changes nothing when run again (no count twice).
func TestReindexMovesTheOldLayouts(t *testing.T) {
	s, env := newContacts(t)
	c1 := mk("t", "ch", "c1", 1, map[string]string{"email": "a@example.com", "firstName": "Ann"}, map[string]string{"2": "gold"})
	c2 := mk("t", "ch", "c2", 2, map[string]string{"email": "b@example.com"}, nil)
	createUnsharded(t, env, env.Table, env.Table, c1, c2)
	// An entry of a value c2 no longer has, as a lost write could leave.
	stale := mk("t", "ch", "c2", 2, map[string]string{"email": "gone@example.com"}, nil)
	createUnsharded(t, env, env.OpsTable, env.Table, stale)
	c3 := mk("t", "ch", "c3", 3, map[string]string{"email": "a@example.com"}, nil)
	mustCreate(t, s, c3) // already in the sharded layout
	c4 := mk("t", "", "c4", 4, map[string]string{"email": "a@example.com"}, map[string]string{"2": "gold"})
	createUnsharded(t, env, env.Table, env.OpsTable, c4) // unsharded, on the operations table
	if ids, _ := find(t, s, byEmail("t", "ch", "a@example.com")); !slices.Equal(ids, []string{"c3"}) {
		t.Fatalf("before: found %v, want only the new-layout contact", ids)
	}

	st, err := s.Reindex(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Contacts != 4 || st.Removed != 5 || st.Retried != 0 || st.Entries != 3+1+2 {
		t.Errorf("stats %+v, want 4 contacts, 6 entries put (c1: 3, c2: 1, c4: 2), 5 old items removed (c1: 3, c2: 1, stale: 1)", st)
	}
	check := func(when string) {
		t.Helper()
		for _, tc := range []struct {
			q    contacts.Query
			want []string
		}{
			{byEmail("t", "ch", "a@example.com"), []string{"c1", "c3"}},
			{byEmail("t", "", "a@example.com"), []string{"c1", "c3", "c4"}},
			{byEmail("t", "", "b@example.com"), []string{"c2"}},
			{byEmail("t", "ch", "gone@example.com"), nil},
			{contacts.Query{TenantID: "t", ChannelID: "ch", FieldKey: contacts.CustomKey("2"), ValueKey: "gold", Limit: 10}, []string{"c1"}},
			{contacts.Query{TenantID: "t", FieldKey: contacts.CustomKey("2"), ValueKey: "gold", Limit: 10}, []string{"c1", "c4"}},
		} {
			if ids, total := find(t, s, tc.q); !slices.Equal(ids, tc.want) || total != len(tc.want) {
				t.Errorf("%s: %+v: found %v (total %d), want %v", when, tc.q, ids, total, tc.want)
			}
		}
	}
	check("after")
	if n := countPrefix(t, env.DDB, env.Table, "IDX#"); n != 0 {
		t.Errorf("%d index items left in the data table", n)
	}
	if n := countPrefix(t, env.DDB, env.OpsTable, "IDX#t#"); n != 0 {
		t.Errorf("%d unsharded entries left in the operations table", n)
	}
	before := countPrefix(t, env.DDB, env.OpsTable, "IDX#")
	again, err := s.Reindex(t.Context(), nil)
	if err != nil || again.Removed != 0 || again.Contacts != 4 || again.Entries != 0 {
		t.Fatalf("second run: %+v, %v", again, err)
	}
	if after := countPrefix(t, env.DDB, env.OpsTable, "IDX#"); after != before {
		t.Errorf("second run: %d index items, %d before", after, before)
	}
	check("after a second run")
}

// failingAPI fails every TransactWriteItems after the first ok.
type failingAPI struct {
	*dynamodb.Client
	ok int
}

func (f *failingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if f.ok == 0 {
		return nil, errors.New("connection reset")
	}
	f.ok--
	return f.Client.TransactWriteItems(ctx, in, opts...)
}

// TestReindexResumes stops a Reindex half way, writes through the API in
// between (a contact not reindexed yet repairs its own entries), and
// checks that running it again ends with every total exact.
func TestReindexResumes(t *testing.T) {
	s, env := newContacts(t)
	var cs []contacts.Contact
	for i := range 6 {
		cs = append(cs, mk("t", "ch", fmt.Sprintf("c%d", i), int64(i), map[string]string{"language": "en", "firstName": fmt.Sprint("n", i)}, nil))
	}
	createUnsharded(t, env, env.Table, env.OpsTable, cs...)
	r := &ddbstore.Contacts{API: &failingAPI{Client: env.DDB, ok: 3}, Table: env.Table, OpsTable: env.OpsTable}
	if _, err := r.Reindex(t.Context(), nil); err == nil {
		t.Fatal("the failing reindex did not fail")
	}
	lang := contacts.Query{TenantID: "t", ChannelID: "ch", FieldKey: contacts.StandardKey("language"), ValueKey: "en", Limit: 10}
	if _, total := find(t, s, lang); total != 3 {
		t.Fatalf("after the stopped run: total %d, want the 3 contacts reindexed", total)
	}
	// Every contact changes once: the ones not reindexed yet repair first.
	for i, c := range cs {
		n := next(c, func(n *contacts.Contact) { n.Fields["firstName"] = fmt.Sprint("m", i) })
		if i%2 == 0 {
			n = next(c, func(n *contacts.Contact) { n.Fields["language"] = "fr" })
		}
		if err := s.UpdateContact(t.Context(), c, n); err != nil {
			t.Fatalf("update %s: %v", c.ID, err)
		}
	}
	if _, err := s.Reindex(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	fr := lang
	fr.ValueKey = "fr"
	for q, want := range map[*contacts.Query][]string{&lang: {"c1", "c3", "c5"}, &fr: {"c0", "c2", "c4"}} {
		for _, ch := range []string{"ch", ""} {
			q.ChannelID = ch
			if ids, total := find(t, s, *q); !slices.Equal(ids, want) || total != len(want) {
				t.Errorf("%s in %q: found %v (total %d), want %v", q.ValueKey, ch, ids, total, want)
			}
		}
	}
	if n := countPrefix(t, env.DDB, env.OpsTable, "IDX#t#"); n != 0 {
		t.Errorf("%d unsharded entries left", n)
	}
}

// racingAPI updates a contact right before Reindex's first conditioned
// transaction, as a concurrent API call could.
type racingAPI struct {
	*dynamodb.Client
	once sync.Once
	race func()
}

func (r *racingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if in.TransactItems[0].ConditionCheck != nil {
		r.once.Do(r.race)
	}
	return r.Client.TransactWriteItems(ctx, in, opts...)
}

// TestReindexRereadsAContactThatChanged checks that Reindex never puts back
// an entry of a value a concurrent write has just replaced.
func TestReindexRereadsAContactThatChanged(t *testing.T) {
	s, env := newContacts(t)
	c := mk("t", "ch", "c1", 1, map[string]string{"email": "old@example.com"}, nil)
	mustCreate(t, s, c)
	api := &racingAPI{Client: env.DDB}
	api.race = func() {
		if err := s.UpdateContact(context.Background(), c, next(c, func(n *contacts.Contact) { n.Fields["email"] = "new@example.com" })); err != nil {
			t.Error(err)
		}
	}
	r := &ddbstore.Contacts{API: api, Table: env.Table, OpsTable: env.OpsTable}
	st, err := r.Reindex(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Retried != 1 || st.Contacts != 1 {
		t.Errorf("stats %+v, want one contact indexed after one re-read", st)
	}
	if ids, _ := find(t, s, byEmail("t", "ch", "old@example.com")); len(ids) != 0 {
		t.Errorf("the replaced value finds %v", ids)
	}
	if ids, _ := find(t, s, byEmail("t", "ch", "new@example.com")); !slices.Equal(ids, []string{"c1"}) {
		t.Errorf("the new value finds %v", ids)
	}
}

func TestReindexOnce(t *testing.T) {
	s, env := newContacts(t)
	createUnsharded(t, env, env.Table, env.Table, mk("t", "ch", "c1", 1, map[string]string{"email": "a@example.com"}, nil))
	ran, st, err := s.ReindexOnce(t.Context(), nil)
	if err != nil || !ran || st.Removed != 1 {
		t.Fatalf("first: ran %v, %+v, %v", ran, st, err)
	}
	createUnsharded(t, env, env.Table, env.Table, mk("t", "ch", "c2", 2, map[string]string{"email": "b@example.com"}, nil))
	if ran, _, err := s.ReindexOnce(t.Context(), nil); err != nil || ran {
		t.Fatalf("second: ran %v, %v; want the marker to stop it", ran, err)
	}
	if n := countPrefix(t, env.DDB, env.Table, "IDX#"); n != 1 {
		t.Errorf("%d index items in the data table, want the one written after the marker", n)
	}
}
