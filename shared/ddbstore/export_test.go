package ddbstore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
