package ddbstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
)

// A channel's connection guard (TENANT#<t> / GUARD#CONN#<channel>,
// attribute v) makes the connections-per-channel limit exact
// (connections.ChannelGuard): each create moves v on, conditioned on the
// value read before the channel's connections were counted. Deletes leave
// it alone (they only make room). Channels without one start at 0.

const skConnGuardP = "GUARD#CONN#"

var _ connections.ChannelGuard = (*Connections)(nil)

// ChannelVersion reads the channel's guard (strongly consistent).
func (c *Connections) ChannelVersion(ctx context.Context, tenantID, channelID string) (int64, error) {
	res, err := c.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(c.Table),
		Key: key(tenantPK(tenantID), skConnGuardP+channelID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, fmt.Errorf("read the connection guard of channel %s: %w", channelID, err)
	}
	v, _ := res.Item["v"].(*types.AttributeValueMemberN)
	if v == nil {
		return 0, nil
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read the connection guard of channel %s: %w", channelID, err)
	}
	return n, nil
}

// CreateConnectionIf puts the connection (its ID not taken) and moves the
// guard from seen to seen+1 in one transaction.
func (c *Connections) CreateConnectionIf(ctx context.Context, conn connections.Connection, seen int64) error {
	it, err := item(tenantPK(conn.TenantID), connSK(conn.ID), conn)
	if err != nil {
		return err
	}
	cond := "v = :seen"
	vals := map[string]types.AttributeValue{":seen": avN(seen), ":next": avN(seen + 1)}
	if seen == 0 {
		cond = "attribute_not_exists(v) OR v = :seen"
	}
	_, err = c.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(c.Table), Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Update: &types.Update{TableName: aws.String(c.Table), Key: key(tenantPK(conn.TenantID), skConnGuardP+conn.ChannelID),
			UpdateExpression: aws.String("SET v = :next"), ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}},
	}})
	switch {
	case err == nil:
		return nil
	case failedCondition(err) == 0:
		return apperr.Exists("Connection %s already exists; retry.", conn.ID).Wrap(err)
	case failedCondition(err) == 1 || onlyConflicts(err):
		return apperr.Conflict("connection").Wrap(err)
	}
	return fmt.Errorf("create connection %s: %w", conn.ID, err)
}
