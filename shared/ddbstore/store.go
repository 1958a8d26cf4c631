// Package ddbstore is the DynamoDB adapter: key builders, the tenancy store,
// the rate-limit counter and the table definition (schema.go).
package ddbstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Key builders: the one place that knows the key layout (see schema.go).
func tenantPK(tenantID string) string          { return "TENANT#" + tenantID }
func channelSK(channelID string) string        { return "CHANNEL#" + channelID }
func tokenSK(channelID, tokenID string) string { return "CHANNEL#" + channelID + "#TOKEN#" + tokenID }
func tokenPrefix(channelID string) string      { return "CHANNEL#" + channelID + "#TOKEN#" }
func credPK(hash string) string                { return "CRED#" + hash }
func rateLimitPK(key string, window int64) string {
	return fmt.Sprintf("%s%s#%d", RateLimitKeyPrefix, key, window)
}

// RateLimitKeyPrefix starts every rate-limit counter's partition key; IAM
// lets read-only functions update those items and no others.
const RateLimitKeyPrefix = "RL#"

const (
	skTenant   = "TENANT"
	skCred     = "CRED"
	pkTenants  = "TENANTS"
	skRL       = "RL"
	skChannelP = "CHANNEL#"
)

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: pk},
		AttrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// item marshals v and adds its keys.
func item(pk, sk string, v any) (map[string]types.AttributeValue, error) {
	m, err := attributevalue.MarshalMap(v)
	if err != nil {
		return nil, fmt.Errorf("marshal %s/%s: %w", pk, sk, err)
	}
	m[AttrPK] = &types.AttributeValueMemberS{Value: pk}
	m[AttrSK] = &types.AttributeValueMemberS{Value: sk}
	return m, nil
}

// putNew is a transaction Put that fails if the item exists.
func putNew(table string, m map[string]types.AttributeValue) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{
		TableName:           aws.String(table),
		Item:                m,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	}}
}

// mustExist is a transaction ConditionCheck that the item is there.
func mustExist(table, pk, sk string) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:           aws.String(table),
		Key:                 key(pk, sk),
		ConditionExpression: aws.String("attribute_exists(PK)"),
	}}
}

// failedCondition is the index of the transaction item whose condition
// failed, -1 if none did (or err is not a cancelled transaction).
func failedCondition(err error) int {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for i, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return i
			}
		}
	}
	return -1
}

// isConditionFailure reports a failed condition, alone or inside a transaction.
func isConditionFailure(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return true
			}
		}
	}
	return false
}

// The store's read helpers: every read of one item is getItem, every
// Query is queryItems (queryPrefix for a partition's items by SK prefix).

// getItem reads one item into out (a strongly consistent read when
// consistent); a missing item is notFound. An out that is an itemDecoder
// decodes itself (decode.go); any other goes through attributevalue.
func getItem(ctx context.Context, api API, table, pk, sk string, consistent bool, out any, notFound error) error {
	res, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(pk, sk), ConsistentRead: aws.Bool(consistent)})
	if err != nil {
		return fmt.Errorf("get %s/%s: %w", pk, sk, err)
	}
	if res.Item == nil {
		return notFound
	}
	var err2 error
	if d, ok := out.(itemDecoder); ok {
		err2 = d.decodeItem(res.Item)
	} else {
		err2 = attributevalue.UnmarshalMap(res.Item, out)
	}
	if err2 != nil {
		return fmt.Errorf("unmarshal %s/%s: %w", pk, sk, err2)
	}
	return nil
}

// queryItems runs in page by page until it has limit items (all items if
// limit is 0). Pages may end early at 1 MB, so Limit alone does not give
// limit items.
func queryItems(ctx context.Context, api API, in *dynamodb.QueryInput, limit int) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	for {
		if limit > 0 {
			in.Limit = aws.Int32(int32(min(limit-len(out), maxQueryPage)))
		}
		page, err := api.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.LastEvaluatedKey == nil || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// queryPrefix reads every item of a partition whose SK starts with prefix.
func queryPrefix[T any](ctx context.Context, api API, table, pk, prefix string) ([]T, error) {
	items, err := queryItems(ctx, api, &dynamodb.QueryInput{
		TableName:              aws.String(table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk},
			":p":  &types.AttributeValueMemberS{Value: prefix},
		},
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("query %s %s*: %w", pk, prefix, err)
	}
	var out []T
	if err := attributevalue.UnmarshalListOfMaps(items, &out); err != nil {
		return nil, fmt.Errorf("unmarshal %s %s*: %w", pk, prefix, err)
	}
	return out, nil
}
