package ddbstore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/connections"
)

// The batches (workers) holding attempts to a slow connection, across
// every dispatcher instance, are one item beside its breaker (TENANT#<t> /
// INF#<id>): n, the leases taken, and at, when one was last taken or given
// back (unix ms). Only slow connections (Breaker.SlowUntil, set on the
// breaker item, which every batch reads anyway) use it, so a healthy
// connection's attempts cost nothing more; a slow one's cost two
// UpdateItems per batch holding it (take, give back; its attempts in the
// batch share the lease), and a slow endpoint takes few batches a second
// by definition.

const skInFlightP = "INF#"

var _ connections.InFlightStore = (*Connections)(nil)

func inFlightKey(tenantID, connectionID string) map[string]types.AttributeValue {
	return key(tenantPK(tenantID), skInFlightP+connectionID)
}

// MarkSlow sets the breaker item's slow_until (creating the item when the
// breaker is plainly closed; it expires with the breaker's TTL).
func (c *Connections) MarkSlow(ctx context.Context, tenantID, connectionID string, until time.Time) error {
	_, err := c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(c.Table),
		Key:                       key(tenantPK(tenantID), breakerSK(connectionID)),
		UpdateExpression:          aws.String("SET slow_until = :u, #ttl = :ttl"),
		ExpressionAttributeNames:  map[string]string{"#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": avN(until.UnixMilli()), ":ttl": avN(until.Add(breakerTTL).Unix())},
	})
	if err != nil {
		return fmt.Errorf("mark connection %s slow: %w", connectionID, err)
	}
	return nil
}

// MarkHung sets the breaker item's slow_until and hung_until (creating the
// item when the breaker is plainly closed; it expires with the breaker's
// TTL).
func (c *Connections) MarkHung(ctx context.Context, tenantID, connectionID string, until time.Time) error {
	_, err := c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(c.Table),
		Key:                       key(tenantPK(tenantID), breakerSK(connectionID)),
		UpdateExpression:          aws.String("SET slow_until = :u, hung_until = :u, #ttl = :ttl"),
		ExpressionAttributeNames:  map[string]string{"#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": avN(until.UnixMilli()), ":ttl": avN(until.Add(breakerTTL).Unix())},
	})
	if err != nil {
		return fmt.Errorf("mark connection %s hung: %w", connectionID, err)
	}
	return nil
}

// AcquireInFlight adds one to n if it is below max (one UpdateItem); when
// it is not and the count is stale (connections.InFlightStale), it starts
// the count again at one (a second, conditional one).
func (c *Connections) AcquireInFlight(ctx context.Context, tenantID, connectionID string, max int, now time.Time) (bool, error) {
	k := inFlightKey(tenantID, connectionID)
	ttl := avN(now.Add(connections.InFlightStale + time.Hour).Unix())
	_, err := c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(c.Table), Key: k,
		UpdateExpression:         aws.String("ADD n :one SET #at = :now, #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(n) OR n < :max"),
		ExpressionAttributeNames: map[string]string{"#at": "at", "#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": avN(1), ":max": avN(int64(max)), ":now": avN(now.UnixMilli()), ":ttl": ttl,
		},
	})
	if err == nil {
		return true, nil
	}
	if !isConditionFailure(err) {
		return false, fmt.Errorf("take an in-flight slot of connection %s: %w", connectionID, err)
	}
	_, err = c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(c.Table), Key: k,
		UpdateExpression:         aws.String("SET n = :one, #at = :now, #ttl = :ttl"),
		ConditionExpression:      aws.String("#at < :stale"),
		ExpressionAttributeNames: map[string]string{"#at": "at", "#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": avN(1), ":now": avN(now.UnixMilli()), ":stale": avN(now.Add(-connections.InFlightStale).UnixMilli()), ":ttl": ttl,
		},
	})
	switch {
	case err == nil:
		return true, nil
	case isConditionFailure(err):
		return false, nil
	}
	return false, fmt.Errorf("take an in-flight slot of connection %s: %w", connectionID, err)
}

// ReleaseInFlight takes one off n, never below zero (a count started again
// while the slot was held).
func (c *Connections) ReleaseInFlight(ctx context.Context, tenantID, connectionID string, now time.Time) error {
	_, err := c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(c.Table), Key: inFlightKey(tenantID, connectionID),
		UpdateExpression:         aws.String("ADD n :minus SET #at = :now"),
		ConditionExpression:      aws.String("n > :zero"),
		ExpressionAttributeNames: map[string]string{"#at": "at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":minus": avN(-1), ":zero": avN(0), ":now": avN(now.UnixMilli()),
		},
	})
	if err != nil && !isConditionFailure(err) {
		return fmt.Errorf("give back an in-flight slot of connection %s: %w", connectionID, err)
	}
	return nil
}
