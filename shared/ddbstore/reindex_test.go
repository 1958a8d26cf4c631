package ddbstore_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// countIDX counts the index items (PK IDX#…) of a table.
func countIDX(t *testing.T, api *dynamodb.Client, table string) int {
	t.Helper()
	out, err := api.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount,
		FilterExpression:          aws.String("begins_with(PK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "IDX#"}}})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

// TestReindexMovesTheOldLayout writes contacts as versions before the
// operations table did (index items in the data table), then checks that
// Reindex makes them searchable on the index table, leaves no index item in
// the data table, and changes nothing when run again.
func TestReindexMovesTheOldLayout(t *testing.T) {
	s, env := newContacts(t)
	old := &ddbstore.Contacts{API: env.DDB, Table: env.Table, OpsTable: env.Table}
	c1 := mk("t", "ch", "c1", 1, map[string]string{"email": "a@example.com", "firstName": "Ann"}, map[string]string{"2": "gold"})
	c2 := mk("t", "ch", "c2", 2, map[string]string{"email": "b@example.com"}, nil)
	mustCreate(t, old, c1, c2)
	// An entry of a value c2 no longer has, as a lost write could leave.
	stale := mk("t", "ch", "c2", 2, map[string]string{"email": "gone@example.com"}, nil)
	if err := (&ddbstore.Contacts{API: env.DDB, Table: env.OpsTable, OpsTable: env.Table}).CreateContact(t.Context(), stale); err != nil {
		t.Fatal(err)
	}
	c3 := mk("t", "ch", "c3", 3, map[string]string{"email": "a@example.com"}, nil)
	mustCreate(t, s, c3) // already in the new layout
	if ids, _ := find(t, s, byEmail("t", "ch", "a@example.com")); !slices.Equal(ids, []string{"c3"}) {
		t.Fatalf("before: found %v, want only the new-layout contact", ids)
	}

	st, err := s.Reindex(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Contacts != 3 || st.Removed != 5 || st.Retried != 0 {
		t.Errorf("stats %+v, want 3 contacts, 5 old items removed (c1: 3, c2: 1, stale: 1)", st)
	}
	for _, tc := range []struct {
		q    contacts.Query
		want []string
	}{
		{byEmail("t", "ch", "a@example.com"), []string{"c1", "c3"}},
		{byEmail("t", "", "b@example.com"), []string{"c2"}},
		{byEmail("t", "ch", "gone@example.com"), nil},
		{contacts.Query{TenantID: "t", ChannelID: "ch", FieldKey: contacts.CustomKey("2"), ValueKey: "gold", Limit: 10}, []string{"c1"}},
	} {
		if ids, total := find(t, s, tc.q); !slices.Equal(ids, tc.want) || total != len(tc.want) {
			t.Errorf("%+v: found %v (total %d), want %v", tc.q, ids, total, tc.want)
		}
	}
	if n := countIDX(t, env.DDB, env.Table); n != 0 {
		t.Errorf("%d index items left in the data table", n)
	}
	before := countIDX(t, env.DDB, env.OpsTable)
	again, err := s.Reindex(t.Context(), nil)
	if err != nil || again.Removed != 0 || again.Contacts != 3 {
		t.Fatalf("second run: %+v, %v", again, err)
	}
	if after := countIDX(t, env.DDB, env.OpsTable); after != before {
		t.Errorf("second run: %d index items, %d before", after, before)
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
	old := &ddbstore.Contacts{API: env.DDB, Table: env.Table, OpsTable: env.Table}
	mustCreate(t, old, mk("t", "ch", "c1", 1, map[string]string{"email": "a@example.com"}, nil))
	ran, st, err := s.ReindexOnce(t.Context(), nil)
	if err != nil || !ran || st.Removed != 1 {
		t.Fatalf("first: ran %v, %+v, %v", ran, st, err)
	}
	mustCreate(t, old, mk("t", "ch", "c2", 2, map[string]string{"email": "b@example.com"}, nil))
	if ran, _, err := s.ReindexOnce(t.Context(), nil); err != nil || ran {
		t.Fatalf("second: ran %v, %v; want the marker to stop it", ran, err)
	}
	if n := countIDX(t, env.DDB, env.Table); n != 1 {
		t.Errorf("%d index items in the data table, want the one written after the marker", n)
	}
}
