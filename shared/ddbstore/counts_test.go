package ddbstore_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// A tenant's contacts are counted exactly, in the contacts' own
// transactions: a create over the limit is refused whole (a 422 naming the
// limit), a delete makes room again, and other tenants are not affected.
func TestContactLimit(t *testing.T) {
	s, _ := newContacts(t)
	s.MaxContacts = 3
	ctx := t.Context()
	for i := range 3 {
		mustCreate(t, s, mk("t", "ch", fmt.Sprint("c", i), 1, map[string]string{"email": fmt.Sprintf("c%d@example.com", i)}, nil))
	}
	over := mk("t", "ch", "c3", 1, map[string]string{"email": "c3@example.com"}, nil)
	err := s.CreateContact(ctx, over)
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.KindRejected || e.Field != "contacts_per_tenant" {
		t.Fatalf("4th create of 3 allowed: %v, want a rejection naming contacts_per_tenant", err)
	}
	if _, err := s.GetContact(ctx, "t", "ch", "c3"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("the refused contact was written: %v", err)
	}
	if ids, _ := find(t, s, contacts.Query{TenantID: "t", ChannelID: "ch", FieldKey: contacts.StandardKey("email"), ValueKey: contacts.ValueKey("c3@example.com")}); len(ids) != 0 {
		t.Fatalf("the refused contact's search entry was written: %v", ids)
	}
	// Another tenant has its own count.
	mustCreate(t, s, mk("u", "ch", "c0", 1, nil, nil))
	// An existing ID is still "exists", not the limit.
	s.MaxContacts = 10
	if err := s.CreateContact(ctx, mk("t", "ch", "c0", 1, nil, nil)); !apperr.Is(err, apperr.KindExists) {
		t.Fatalf("create of an existing contact: %v, want exists", err)
	}
	s.MaxContacts = 3
	c0, err := s.GetContact(ctx, "t", "ch", "c0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteContact(ctx, c0); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, over)
	for tenant, want := range map[string]int64{"t": 3, "u": 1, "nobody": 0} {
		if n, err := s.ContactCount(ctx, tenant); err != nil || n != want {
			t.Errorf("ContactCount(%s) = %d, %v; want %d", tenant, n, err, want)
		}
	}
}

// Concurrent creates do not get past the limit: the count is updated in
// the same transaction as each contact.
func TestContactLimitConcurrent(t *testing.T) {
	s, _ := newContacts(t)
	s.MaxContacts = 5
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			for {
				err := s.CreateContact(t.Context(), mk("t", "ch", fmt.Sprint("k", i), 1, nil, nil))
				if err != nil && !apperr.Is(err, apperr.KindRejected) && strings.Contains(err.Error(), "Conflict") {
					continue // a transaction conflict on the counter: retry
				}
				return
			}
		})
	}
	wg.Wait()
	n, err := s.ContactCount(t.Context(), "t")
	if err != nil || n != 5 {
		t.Fatalf("count %d (%v), want 5", n, err)
	}
	made := 0
	for i := range 12 {
		if _, err := s.GetContact(t.Context(), "t", "ch", fmt.Sprint("k", i)); err == nil {
			made++
		}
	}
	if made != 5 {
		t.Fatalf("%d contacts written, want 5", made)
	}
}

// A tenant's count is spread over ContactCountShards items, and a create
// whose own shard is at its share of the limit counts itself in another:
// every one of the limit's contacts can be made whatever their IDs hash to,
// the next one is refused, and each delete takes its contact off the shard
// that counted it.
func TestContactCountSpreadOverShards(t *testing.T) {
	s, env := newContacts(t)
	s.MaxContacts = 11
	ctx := t.Context()
	var made []contacts.Contact
	for i := range 11 {
		c := mk("spread", "ch", fmt.Sprint("s", i), 1, nil, nil)
		mustCreate(t, s, c)
		got, err := s.GetContact(ctx, "spread", "ch", c.ID)
		if err != nil || got.CountShard < 1 || got.CountShard > ddbstore.ContactCountShards {
			t.Fatalf("contact %s: count shard %d, %v", c.ID, got.CountShard, err)
		}
		made = append(made, got)
	}
	if err := s.CreateContact(ctx, mk("spread", "ch", "s11", 1, nil, nil)); !apperr.Is(err, apperr.KindRejected) {
		t.Fatalf("12th create of 11: %v, want the limit", err)
	}
	// The counter is several items, none holding more than its share.
	out, err := env.DDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(s.OpsTable)})
	if err != nil {
		t.Fatal(err)
	}
	items := 0
	for _, it := range out.Items {
		if pk, _ := it[ddbstore.AttrPK].(*types.AttributeValueMemberS); pk != nil && strings.HasPrefix(pk.Value, ddbstore.CountKeyPrefix+"spread#") {
			items++
			if n, _ := it["n"].(*types.AttributeValueMemberN); n == nil || n.Value < "0" || len(n.Value) != 1 || n.Value > "2" {
				t.Errorf("counter item %s holds %v, more than its share of 11 over %d", pk.Value, it["n"], ddbstore.ContactCountShards)
			}
		}
	}
	if items < 2 {
		t.Errorf("%d counter items for 11 contacts, want them spread", items)
	}
	for _, c := range made[:4] {
		if err := s.DeleteContact(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.ContactCount(ctx, "spread"); err != nil || n != 7 {
		t.Fatalf("count after 4 deletes %d, %v; want 7", n, err)
	}
	for i := range 4 {
		mustCreate(t, s, mk("spread", "ch", fmt.Sprint("r", i), 1, nil, nil))
	}
	if err := s.CreateContact(ctx, mk("spread", "ch", "r4", 1, nil, nil)); !apperr.Is(err, apperr.KindRejected) {
		t.Fatalf("create over the limit after the deletes were made up: %v, want the limit", err)
	}
}
