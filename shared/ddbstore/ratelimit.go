package ddbstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/ratelimit"
)

// RateCounter keeps rate-limit counters as items with a TTL.
type RateCounter struct {
	API      API
	OpsTable string // the operations table
}

var _ ratelimit.Counter = (*RateCounter)(nil)

// Incr adds one to the window's counter in a single UpdateItem.
func (c *RateCounter) Incr(ctx context.Context, key string, windowStart int64, expires time.Time) (int64, error) {
	out, err := c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(c.OpsTable),
		Key:                      map[string]types.AttributeValue{AttrPK: &types.AttributeValueMemberS{Value: rateLimitPK(key, windowStart)}, AttrSK: &types.AttributeValueMemberS{Value: skRL}},
		UpdateExpression:         aws.String("ADD n :one SET #ttl = if_not_exists(#ttl, :ttl)"),
		ExpressionAttributeNames: map[string]string{"#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": &types.AttributeValueMemberN{Value: "1"},
			":ttl": &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)},
		},
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("rate counter %s: %w", key, err)
	}
	n, ok := out.Attributes["n"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("rate counter %s: no count returned", key)
	}
	return strconv.ParseInt(n.Value, 10, 64)
}
