package ddbstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// A tenant's contact count is kept in ContactCountShards items of the
// operations table (COUNT#<t>#<shard>, CONTACTS, attribute n), updated in
// the same transaction as every contact create (+1) and delete (-1). It is
// therefore exact and costs no scan; the transaction's other items make it
// no more than the contact write it rides on.
//
// One item per tenant would be a hot key: every create of the tenant would
// write it (DynamoDB takes about 1,000 writes a second per partition, and
// cancels transactions that meet on an item), so a bulk import would
// throttle on its counter. A create counts itself in the shard its ID
// hashes to and records the shard in the contact (Contact.CountShard), so
// its delete takes it off there.
//
// The limit (MaxContacts) is split into per-shard shares that add up to
// it exactly; a create is conditioned on its shard being below its share.
// When that shard is full the create reads every shard and counts itself
// in one that has room: a create is refused only when every shard is at
// its share, that is when the tenant has MaxContacts contacts.
//
// Contacts created before the counter existed are not counted (the count
// is then low by those contacts) and their deletes do not subtract.

// CountKeyPrefix starts the partition key of a tenant's counters.
const CountKeyPrefix = "COUNT#"

// ContactCountShards is the number of items a tenant's contact count is
// spread over.
const ContactCountShards = 8

const (
	skContactCount = "CONTACTS"
	attrCount      = "n"
)

func countKey(tenantID string, shard int) map[string]types.AttributeValue {
	return key(fmt.Sprintf("%s%s#%02d", CountKeyPrefix, tenantID, shard), skContactCount)
}

// countShare is shard's share of MaxContacts.
func (s *Contacts) countShare(shard int) int64 {
	share := s.MaxContacts / ContactCountShards
	if int64(shard) < s.MaxContacts%ContactCountShards {
		share++
	}
	return share
}

// countContact is the counter's update in a contact create (delta 1) or
// delete (delta -1). A create is conditioned on the shard being below its
// share of MaxContacts (when set).
func (s *Contacts) countContact(tenantID string, shard, delta int) types.TransactWriteItem {
	u := &types.Update{
		TableName:                 aws.String(s.OpsTable),
		Key:                       countKey(tenantID, shard),
		UpdateExpression:          aws.String("ADD #n :d"),
		ExpressionAttributeNames:  map[string]string{"#n": attrCount},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberN{Value: strconv.Itoa(delta)}},
	}
	if delta > 0 && s.MaxContacts > 0 {
		u.ConditionExpression = aws.String("(attribute_not_exists(#n) AND :zero < :max) OR #n < :max")
		u.ExpressionAttributeValues[":max"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(s.countShare(shard), 10)}
		u.ExpressionAttributeValues[":zero"] = &types.AttributeValueMemberN{Value: "0"}
	}
	return types.TransactWriteItem{Update: u}
}

// shardWithRoom is a shard of the tenant's counter below its share (one
// at random among them), or false when every shard is full.
func (s *Contacts) shardWithRoom(ctx context.Context, tenantID string) (int, bool, error) {
	counts, err := s.contactCounts(ctx, tenantID)
	if err != nil {
		return 0, false, err
	}
	var room []int
	for i, n := range counts {
		if n < s.countShare(i) {
			room = append(room, i)
		}
	}
	if len(room) == 0 {
		return 0, false, nil
	}
	return room[rand.IntN(len(room))], true, nil
}

// contactLimitReached is the error of a create refused by the limit (a
// 422 naming it).
func (s *Contacts) contactLimitReached(err error) error {
	return apperr.Rejected("contacts_per_tenant",
		fmt.Sprintf("the tenant has reached its limit of %d contacts; delete contacts or ask for a higher limit", s.MaxContacts)).Wrap(err)
}

// ContactCount is how many contacts the tenant has, from its counter.
func (s *Contacts) ContactCount(ctx context.Context, tenantID string) (int64, error) {
	counts, err := s.contactCounts(ctx, tenantID)
	var sum int64
	for _, n := range counts {
		sum += n
	}
	return sum, err
}

// contactCounts reads every shard of the tenant's counter (one strongly
// consistent BatchGetItem).
func (s *Contacts) contactCounts(ctx context.Context, tenantID string) ([]int64, error) {
	keys := make([]map[string]types.AttributeValue, ContactCountShards)
	byPK := map[string]int{}
	for i := range ContactCountShards {
		keys[i] = countKey(tenantID, i)
		byPK[keys[i][AttrPK].(*types.AttributeValueMemberS).Value] = i
	}
	counts := make([]int64, ContactCountShards)
	req := map[string]types.KeysAndAttributes{s.OpsTable: {Keys: keys, ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("#pk, #n"), ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#n": attrCount}}}
	for try := 0; len(req) > 0 && len(req[s.OpsTable].Keys) > 0; try++ {
		if try > batchRetries {
			return counts, fmt.Errorf("contact count of %s: keys still unprocessed after %d retries", tenantID, batchRetries)
		}
		if try > 0 {
			if err := sleep(ctx, batchBackoff(try)); err != nil {
				return counts, fmt.Errorf("contact count of %s: %w", tenantID, err)
			}
		}
		out, err := s.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return counts, fmt.Errorf("contact count of %s: %w", tenantID, err)
		}
		for _, it := range out.Responses[s.OpsTable] {
			pk, _ := it[AttrPK].(*types.AttributeValueMemberS)
			v, _ := it[attrCount].(*types.AttributeValueMemberN)
			if pk == nil || v == nil {
				continue
			}
			if i, ok := byPK[pk.Value]; ok {
				n, err := strconv.ParseInt(v.Value, 10, 64)
				if err != nil {
					return counts, fmt.Errorf("contact count of %s: %w", tenantID, err)
				}
				counts[i] = n
			}
		}
		req = out.UnprocessedKeys
	}
	return counts, nil
}
