package ddbstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
)

// WithShards is a copy of s that writes and reads n index shards (1: one
// partition per value, as before the shards).
func WithShards(s *Contacts, n int) *Contacts {
	c := *s
	c.shards = n
	return &c
}

// EntryPK is the partition key of contactID's entry of (field, value).
func EntryPK(tenantID, channelID, fieldKey, valueKey, contactID string) string {
	return shardPK(shardOf(contactID, IndexShards), tenantID, channelID, fieldKey, valueKey)
}

// CountPK is the partition key of the count item of contactID's shard of
// (field, value).
func CountPK(tenantID, fieldKey, valueKey, contactID string) string {
	return countPK(shardOf(contactID, IndexShards), tenantID, fieldKey, valueKey)
}

// ShardOf is the shard of a contact ID.
func ShardOf(contactID string) int { return shardOf(contactID, IndexShards) }

// CreateUnsharded writes c as versions before the shards did: the contact
// in table and one entry per search term in indexTable, keyed
// IDX#<t>#<c>#<f>#<v> (GSI1PK IDX#<t>#*#<f>#<v>), without counts.
func CreateUnsharded(ctx context.Context, api API, table, indexTable string, c contacts.Contact) error {
	ci, err := item(contactPK(c.TenantID, c.ID), contactSK(c.ChannelID), c)
	if err != nil {
		return err
	}
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	items := []types.TransactWriteItem{putNew(table, ci)}
	sk := indexSK(c.CreatedAt, c.ID)
	for f, v := range contacts.SearchTerms(c) {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(indexTable), Item: map[string]types.AttributeValue{
			AttrPK: str(indexPK(c.TenantID, c.ChannelID, f, v)), AttrSK: str(sk),
			AttrGSI1PK: str("IDX#" + c.TenantID + "#*#" + f + "#" + indexValue(v)), AttrGSI1SK: str(sk),
		}}})
	}
	_, err = api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

// SetPackBudget sets the size bound of a packed attempts item until the
// test ends.
func SetPackBudget(t interface{ Cleanup(func()) }, n int) {
	old := packBudget
	packBudget = n
	t.Cleanup(func() { packBudget = old })
}

// SetFindPages sets maxFindPages until the test ends.
func SetFindPages(t interface{ Cleanup(func()) }, n int) {
	old := maxFindPages
	maxFindPages = n
	t.Cleanup(func() { maxFindPages = old })
}

// AttrSize is the size attrSize counts for an item (its names included).
func AttrSize(it map[string]types.AttributeValue) int {
	return attrSize(&types.AttributeValueMemberM{Value: it}) - 3 - len(it)
}

// AddAttemptsPrevious logs attempts as the layout before the packed one
// did: one item per attempt, WH#<webhookId>#<time>#<attempt>, and one log
// item, LOG#<time>#<random>, naming them.
func AddAttemptsPrevious(ctx context.Context, api API, opsTable, tenantID, connectionID string, as []connections.Attempt) error {
	pk := attemptPK(tenantID, connectionID)
	var refs []attemptRef
	for _, a := range as {
		it, err := item(pk, attemptSK(a), a)
		if err != nil {
			return err
		}
		it[TTLAttribute] = avN(expiry(a.Time))
		if _, err := api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(opsTable), Item: it}); err != nil {
			return err
		}
		refs = append(refs, refOf(a))
	}
	slices.SortFunc(refs, newer)
	top := refs[0].Time
	it, err := item(pk, fmt.Sprintf("%s%013d#%s", skLogP, top, "abcdef012345"), attemptLog{Refs: refs})
	if err != nil {
		return err
	}
	it[TTLAttribute] = avN(expiry(top))
	_, err = api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(opsTable), Item: it})
	return err
}
