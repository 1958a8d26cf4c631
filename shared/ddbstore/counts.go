package ddbstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// A tenant's contact count is one item of the operations table
// (COUNT#<t>, CONTACTS, attribute n), updated in the same transaction as
// every contact create (+1, on the condition that the count is below the
// tenant's limit) and delete (-1). It is therefore exact and costs no scan;
// the transaction's other items make it no more than the contact write it
// rides on (one more write unit, doubled as transactions are).
//
// Tenants whose contacts were created before the counter existed start
// from 0 (the count is then low by those contacts; nothing else depends on
// it being positive).

// CountKeyPrefix starts the partition key of a tenant's counters.
const CountKeyPrefix = "COUNT#"

const (
	skContactCount = "CONTACTS"
	attrCount      = "n"
)

func countKey(tenantID string) map[string]types.AttributeValue {
	return key(CountKeyPrefix+tenantID, skContactCount)
}

// countContact is the counter's update in a contact create (delta 1) or
// delete (delta -1). A create is conditioned on the count being below
// MaxContacts (when set).
func (s *Contacts) countContact(tenantID string, delta int) types.TransactWriteItem {
	u := &types.Update{
		TableName:                 aws.String(s.OpsTable),
		Key:                       countKey(tenantID),
		UpdateExpression:          aws.String("ADD #n :d"),
		ExpressionAttributeNames:  map[string]string{"#n": attrCount},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberN{Value: strconv.Itoa(delta)}},
	}
	if delta > 0 && s.MaxContacts > 0 {
		u.ConditionExpression = aws.String("attribute_not_exists(#n) OR #n < :max")
		u.ExpressionAttributeValues[":max"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(s.MaxContacts, 10)}
	}
	return types.TransactWriteItem{Update: u}
}

// contactLimitReached is the error of a create refused by the limit (a
// 422 naming it).
func (s *Contacts) contactLimitReached(err error) error {
	return apperr.Rejected("contacts_per_tenant",
		fmt.Sprintf("the tenant has reached its limit of %d contacts; delete contacts or ask for a higher limit", s.MaxContacts)).Wrap(err)
}

// ContactCount is how many contacts the tenant has, from its counter.
func (s *Contacts) ContactCount(ctx context.Context, tenantID string) (int64, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.OpsTable), Key: countKey(tenantID),
		ProjectionExpression: aws.String("#n"), ExpressionAttributeNames: map[string]string{"#n": attrCount}})
	if err != nil {
		return 0, fmt.Errorf("contact count of %s: %w", tenantID, err)
	}
	n, ok := out.Item[attrCount].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(n.Value, 10, 64)
}
