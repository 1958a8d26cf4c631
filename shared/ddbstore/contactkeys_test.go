package ddbstore_test

import (
	"context"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// channelsOf lists the channels of contacts, sorted.
func channelsOf(cs []contacts.Contact) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ChannelID)
	}
	sort.Strings(out)
	return out
}

// TestSameIDInTwoChannels: a channel's own IDs are per channel, so the same
// ID in two channels (and the account's) is three contacts, each read,
// changed, searched and deleted on its own.
func TestSameIDInTwoChannels(t *testing.T) {
	s, _ := newContacts(t)
	a := mk("t", "chA", "4410", 1, map[string]string{"email": "same@example.com", "firstName": "Ann"}, nil)
	b := mk("t", "chB", "4410", 2, map[string]string{"email": "same@example.com", "firstName": "Bea"}, nil)
	acct := mk("t", "", "4410", 3, map[string]string{"firstName": "Acc"}, nil)
	mustCreate(t, s, a, b, acct)
	if err := s.CreateContact(t.Context(), b); !apperr.Is(err, apperr.KindExists) {
		t.Fatalf("B's contact created twice: %v", err)
	}
	for _, c := range []contacts.Contact{a, b, acct} {
		got, err := s.GetContact(t.Context(), "t", c.ChannelID, "4410")
		if err != nil || got.ChannelID != c.ChannelID || got.Fields["firstName"] != c.Fields["firstName"] {
			t.Fatalf("channel %q reads %+v, %v", c.ChannelID, got, err)
		}
	}
	if _, err := s.GetContact(t.Context(), "t", "chC", "4410"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("a third channel reads %v, want not found", err)
	}
	all, err := s.ContactsByID(t.Context(), "t", "4410")
	if err != nil || !slices.Equal(channelsOf(all), []string{"", "chA", "chB"}) {
		t.Fatalf("ContactsByID: %v %v", channelsOf(all), err)
	}

	// A's update and tags leave B's contact as it was.
	a2 := next(a, func(n *contacts.Contact) { n.Fields["email"] = "ann@example.com"; n.Tags = []string{"vip", "a"} })
	if err := s.UpdateContact(t.Context(), a, a2); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetContact(t.Context(), "t", "chB", "4410"); got.Version != 1 || got.Fields["email"] != "same@example.com" || slices.Contains(got.Tags, "a") {
		t.Fatalf("B's contact changed with A's: %+v", got)
	}
	// B's update is conditioned on B's version, not A's.
	stale := next(b, func(*contacts.Contact) {}) // version 2: A's, not B's
	if err := s.UpdateContact(t.Context(), stale, next(stale, func(*contacts.Contact) {})); !apperr.Is(err, apperr.KindConflict) {
		t.Fatalf("B updated from version 2 (A's): %v", err)
	}

	for _, tc := range []struct {
		q    contacts.Query
		want []string // channels of the matches
	}{
		{byEmail("t", "chA", "same@example.com"), []string{}},
		{byEmail("t", "chB", "same@example.com"), []string{"chB"}},
		{byEmail("t", "chA", "ann@example.com"), []string{"chA"}},
		{byEmail("t", "", "same@example.com"), []string{"chB"}},
		{contacts.Query{TenantID: "t", FieldKey: contacts.StandardKey("firstName"), ValueKey: "acc", Limit: 10}, []string{""}},
	} {
		tc.q.Limit = 10
		p, err := s.Search(t.Context(), tc.q)
		if err != nil || !slices.Equal(channelsOf(p.Contacts), tc.want) || p.Total != len(tc.want) {
			t.Errorf("%+v: %v (total %d) %v, want %v", tc.q, channelsOf(p.Contacts), p.Total, err, tc.want)
		}
	}
	// Tenant-wide, each entry finds its own channel's contact.
	a3 := next(a2, func(n *contacts.Contact) { n.Fields["email"] = "same@example.com" })
	if err := s.UpdateContact(t.Context(), a2, a3); err != nil {
		t.Fatal(err)
	}
	q := byEmail("t", "", "same@example.com")
	q.Limit = 10
	p, err := s.Search(t.Context(), q)
	if err != nil || !slices.Equal(channelsOf(p.Contacts), []string{"chA", "chB"}) {
		t.Fatalf("tenant-wide: %v %v", channelsOf(p.Contacts), err)
	}
	for _, c := range p.Contacts {
		if want := map[string]string{"chA": "Ann", "chB": "Bea"}[c.ChannelID]; c.Fields["firstName"] != want {
			t.Errorf("tenant-wide: %s's match is %+v", c.ChannelID, c)
		}
	}

	// Deleting A's leaves B's and the account's, and B's search entries.
	if err := s.DeleteContact(t.Context(), a3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetContact(t.Context(), "t", "chA", "4410"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("A's deleted contact reads %v", err)
	}
	if got, err := s.GetContact(t.Context(), "t", "chB", "4410"); err != nil || got.Fields["firstName"] != "Bea" {
		t.Fatalf("B's contact after A's delete: %+v %v", got, err)
	}
	if ids, total := find(t, s, byEmail("t", "", "same@example.com")); total != 1 || len(ids) != 1 {
		t.Fatalf("after A's delete, tenant-wide finds %v (%d)", ids, total)
	}
}

// toLegacy puts a contact back where versions before channel-scoped
// identity kept it: SK CONTACT, whatever its channel (its search entries
// are the same in both layouts).
func toLegacy(t *testing.T, env *emulators.TestEnv, c contacts.Contact) {
	t.Helper()
	pk := &types.AttributeValueMemberS{Value: "CONTACT#" + c.TenantID + "#" + c.ID}
	own := map[string]types.AttributeValue{"PK": pk, "SK": &types.AttributeValueMemberS{Value: "CONTACT#" + c.ChannelID}}
	out, err := env.DDB.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(env.Table), Key: own, ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		t.Fatalf("read %s of %s: %v", c.ID, c.ChannelID, err)
	}
	out.Item["SK"] = &types.AttributeValueMemberS{Value: "CONTACT"}
	if _, err := env.DDB.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(env.Table), Item: out.Item}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.DDB.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(env.Table), Key: own}); err != nil {
		t.Fatal(err)
	}
}

// contactSKs lists the sort keys of a contact ID's partition.
func contactSKs(t *testing.T, env *emulators.TestEnv, tenant, id string) []string {
	t.Helper()
	out, err := env.DDB.Query(t.Context(), &dynamodb.QueryInput{TableName: aws.String(env.Table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "CONTACT#" + tenant + "#" + id}}})
	if err != nil {
		t.Fatal(err)
	}
	sks := []string{}
	for _, it := range out.Items {
		sk := it["SK"].(*types.AttributeValueMemberS).Value
		if _, moved := it[ddbstore.AttrKeyMoved]; moved {
			sk += " (moved)"
		}
		sks = append(sks, sk)
	}
	return sks
}

// TestMigrateContactKeys writes channels' contacts where older versions
// kept them, checks that they are read, searched and changed there until
// they are moved, that MigrateContactKeys moves each to its own key once
// (account contacts stay), and that running it again changes nothing.
func TestMigrateContactKeys(t *testing.T) {
	s, env := newContacts(t)
	c1 := mk("t", "chA", "c1", 1, map[string]string{"email": "a@example.com"}, nil)
	c2 := mk("t", "chB", "c2", 2, map[string]string{"email": "a@example.com"}, nil)
	acct := mk("t", "", "c3", 3, map[string]string{"email": "a@example.com"}, nil)
	mustCreate(t, s, c1, c2, acct)
	toLegacy(t, env, c1)
	toLegacy(t, env, c2)

	// Before the migration: found under the old key by their own channel
	// only, by the account, and by searches.
	got, err := s.GetContact(t.Context(), "t", "chA", "c1")
	if err != nil || got.ID != "c1" || !got.LegacyKey {
		t.Fatalf("legacy c1: %+v %v", got, err)
	}
	if _, err := s.GetContact(t.Context(), "t", "chB", "c1"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("chB reads chA's legacy contact: %v", err)
	}
	if _, err := s.GetContact(t.Context(), "t", "", "c1"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("the account key reads chA's legacy contact as an account contact: %v", err)
	}
	if all, err := s.ContactsByID(t.Context(), "t", "c1"); err != nil || len(all) != 1 || !all[0].LegacyKey {
		t.Fatalf("ContactsByID c1: %+v %v", all, err)
	}
	if ids, total := find(t, s, byEmail("t", "chA", "a@example.com")); !slices.Equal(ids, []string{"c1"}) || total != 1 {
		t.Fatalf("legacy search: %v (%d)", ids, total)
	}
	if ids, total := find(t, s, byEmail("t", "", "a@example.com")); !slices.Equal(ids, []string{"c1", "c2", "c3"}) || total != 3 {
		t.Fatalf("legacy tenant-wide search: %v (%d)", ids, total)
	}

	// A write moves the contact first: c2 ends under its own key at version 2.
	prev, err := s.GetContact(t.Context(), "t", "chB", "c2")
	if err != nil || !prev.LegacyKey {
		t.Fatalf("legacy c2: %+v %v", prev, err)
	}
	if err := s.UpdateContact(t.Context(), prev, next(prev, func(n *contacts.Contact) { n.Fields["firstName"] = "Bo" })); err != nil {
		t.Fatal(err)
	}
	if sks := contactSKs(t, env, "t", "c2"); !slices.Equal(sks, []string{"CONTACT#chB"}) {
		t.Fatalf("c2 after its update: %v", sks)
	}
	if got, _ := s.GetContact(t.Context(), "t", "chB", "c2"); got.Version != 2 || got.Fields["firstName"] != "Bo" || got.LegacyKey {
		t.Fatalf("c2 after its update: %+v", got)
	}

	st, err := s.MigrateContactKeys(t.Context(), nil)
	if err != nil || st != (ddbstore.ContactKeyStats{Moved: 1}) {
		t.Fatalf("migrate: %+v %v, want c1 moved", st, err)
	}
	if sks := contactSKs(t, env, "t", "c1"); !slices.Equal(sks, []string{"CONTACT#chA (moved)"}) {
		t.Fatalf("c1 after the migration: %v", sks)
	}
	if sks := contactSKs(t, env, "t", "c3"); !slices.Equal(sks, []string{"CONTACT"}) {
		t.Fatalf("the account contact after the migration: %v", sks)
	}
	got, err = s.GetContact(t.Context(), "t", "chA", "c1")
	if err != nil || got.LegacyKey || got.Version != 1 || got.Fields["email"] != "a@example.com" {
		t.Fatalf("c1 after the migration: %+v %v", got, err)
	}
	if ids, total := find(t, s, byEmail("t", "", "a@example.com")); !slices.Equal(ids, []string{"c1", "c2", "c3"}) || total != 3 {
		t.Fatalf("tenant-wide search after the migration: %v (%d)", ids, total)
	}
	// Its next write drops the mark.
	if err := s.UpdateContact(t.Context(), got, next(got, func(n *contacts.Contact) { n.Fields["firstName"] = "Al" })); err != nil {
		t.Fatal(err)
	}
	if sks := contactSKs(t, env, "t", "c1"); !slices.Equal(sks, []string{"CONTACT#chA"}) {
		t.Fatalf("c1 after its next write: %v", sks)
	}

	if again, err := s.MigrateContactKeys(t.Context(), nil); err != nil || again != (ddbstore.ContactKeyStats{}) {
		t.Fatalf("second run: %+v %v", again, err)
	}

	// Once: the marker stops a second run.
	ran, _, err := s.MigrateContactKeysOnce(t.Context(), nil)
	if err != nil || !ran {
		t.Fatalf("once: ran %v, %v", ran, err)
	}
	c4 := mk("t", "chA", "c4", 4, nil, nil)
	mustCreate(t, s, c4)
	toLegacy(t, env, c4)
	if ran, _, err := s.MigrateContactKeysOnce(t.Context(), nil); err != nil || ran {
		t.Fatalf("once again: ran %v, %v; want the marker to stop it", ran, err)
	}
}

// TestMigrateContactKeysClash: a contact whose own key is already taken is
// left where it was and counted; the own key's contact is the one read.
func TestMigrateContactKeysClash(t *testing.T) {
	s, env := newContacts(t)
	old := mk("t", "chA", "c1", 1, map[string]string{"firstName": "Old"}, nil)
	mustCreate(t, s, old)
	toLegacy(t, env, old)
	mustCreate(t, s, mk("t", "chA", "c1", 2, map[string]string{"firstName": "New"}, nil))
	st, err := s.MigrateContactKeys(t.Context(), nil)
	if err != nil || st != (ddbstore.ContactKeyStats{Clashed: 1}) {
		t.Fatalf("migrate: %+v %v", st, err)
	}
	if got, _ := s.GetContact(t.Context(), "t", "chA", "c1"); got.Fields["firstName"] != "New" || got.LegacyKey {
		t.Fatalf("read %+v, want the own key's contact", got)
	}
	if all, _ := s.ContactsByID(t.Context(), "t", "c1"); len(all) != 1 || all[0].Fields["firstName"] != "New" {
		t.Fatalf("ContactsByID: %+v", all)
	}
}

// movingAPI updates a contact right before the migration's first move, as
// a concurrent API call could.
type movingAPI struct {
	*dynamodb.Client
	once sync.Once
	race func()
}

func (m *movingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if d := in.TransactItems[0].Delete; d != nil && d.Key["SK"].(*types.AttributeValueMemberS).Value == "CONTACT" {
		m.once.Do(m.race)
	}
	return m.Client.TransactWriteItems(ctx, in, opts...)
}

// TestMigrateContactKeysRereadsAContactThatChanged: a contact changed
// between the migration's Scan and its move is read again and moved as it
// now is; one a write already moved is skipped.
func TestMigrateContactKeysRereadsAContactThatChanged(t *testing.T) {
	s, env := newContacts(t)
	c := mk("t", "chA", "c1", 1, map[string]string{"email": "old@example.com"}, nil)
	mustCreate(t, s, c)
	toLegacy(t, env, c)
	api := &movingAPI{Client: env.DDB}
	api.race = func() {
		// A write of the legacy item in place, as the old version made.
		_, err := env.DDB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(env.Table),
			Key:                      map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "CONTACT#t#c1"}, "SK": &types.AttributeValueMemberS{Value: "CONTACT"}},
			UpdateExpression:         aws.String("SET version = :v, #f.firstName = :n"),
			ExpressionAttributeNames: map[string]string{"#f": "fields"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":v": &types.AttributeValueMemberN{Value: "2"}, ":n": &types.AttributeValueMemberS{Value: "Ann"},
			}})
		if err != nil {
			t.Error(err)
		}
	}
	m := &ddbstore.Contacts{API: api, Table: env.Table, OpsTable: env.OpsTable}
	st, err := m.MigrateContactKeys(t.Context(), nil)
	if err != nil || st != (ddbstore.ContactKeyStats{Moved: 1, Retried: 1}) {
		t.Fatalf("migrate: %+v %v", st, err)
	}
	got, err := s.GetContact(t.Context(), "t", "chA", "c1")
	if err != nil || got.LegacyKey || got.Version != 2 || got.Fields["firstName"] != "Ann" {
		t.Fatalf("moved: %+v %v, want version 2 as changed", got, err)
	}
}
