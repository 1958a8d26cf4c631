package ddbstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/connections"
)

// A tenant's breaker of one endpoint host (connections.HostBreaker) is an
// item beside its connections' breakers (TENANT#<t> / BRK#HOST#<host:port>;
// connection IDs are "conn_…", so no connection's breaker has that key),
// so that the Query that reads a tenant's breakers reads its host
// breakers too. The connections it parks carry the host's key on their own
// breaker items (host), which every batch reads anyway: a connection whose
// item has no host mark pays nothing for host breakers; a marked one's
// read reads the host's item too. It expires breakerTTL after its last
// write, as a connection's breaker does.

const skHostBreakerP = skBreakerP + "HOST#"

func hostBreakerKey(tenantID, host string) map[string]types.AttributeValue {
	return key(tenantPK(tenantID), skHostBreakerP+host)
}

var _ connections.HostBreakerStore = (*Connections)(nil)

// HostBreaker reads a tenant's breaker of one host.
func (c *Connections) HostBreaker(ctx context.Context, tenantID, host string) (connections.HostBreaker, error) {
	res, err := c.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(c.Table), Key: hostBreakerKey(tenantID, host)})
	if err != nil {
		return connections.HostBreaker{}, fmt.Errorf("read breaker of host %s: %w", host, err)
	}
	return decodeBreaker[connections.HostBreaker](res.Item)
}

// updateHostBreaker runs one UpdateItem on a host breaker and returns the
// item as it left it; ok is false when its condition failed.
func (c *Connections) updateHostBreaker(ctx context.Context, tenantID, host string, in *dynamodb.UpdateItemInput) (connections.HostBreaker, bool, error) {
	return updateDecoded[connections.HostBreaker](ctx, c, hostBreakerKey(tenantID, host), "host "+host, in)
}

// HostFailed counts a failure in one UpdateItem (the count, the
// connection's ID and the time) and, when that reaches the threshold on a
// closed breaker, opens it with a second, conditional one, as
// BreakerFailed does. A closed breaker's run whose last failure is
// connections.HostFailureWindow old starts again at this one (a second
// UpdateItem, on that failure path only).
func (c *Connections) HostFailed(ctx context.Context, tenantID, host, connectionID string, at time.Time) (connections.HostBreaker, bool, error) {
	ttl := avN(at.Add(breakerTTL).Unix())
	cut := avN(at.Add(-connections.HostFailureWindow).UnixMilli())
	update := func(expr, cond string) (connections.HostBreaker, bool, error) {
		in := &dynamodb.UpdateItemInput{
			UpdateExpression:         aws.String(expr),
			ExpressionAttributeNames: map[string]string{"#ttl": TTLAttribute},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": avN(1), ":ttl": ttl, ":at": avN(at.UnixMilli()),
				":c": &types.AttributeValueMemberSS{Value: []string{connectionID}}},
		}
		if cond != "" {
			in.ConditionExpression = aws.String(cond)
			in.ExpressionAttributeValues[":cut"] = cut
		}
		return c.updateHostBreaker(ctx, tenantID, host, in)
	}
	const add = "ADD failures :one, conns :c SET last_fail = :at, #ttl = :ttl"
	h, ok, err := update(add, "attribute_not_exists(last_fail) OR last_fail >= :cut OR attribute_exists(open_since)")
	if err == nil && !ok {
		// The run went stale: this failure starts a new one, unless
		// another dispatcher started it meanwhile (then it counts there).
		h, ok, err = update("SET failures = :one, conns = :c, last_fail = :at, #ttl = :ttl",
			"last_fail < :cut AND attribute_not_exists(open_since)")
		if err == nil && !ok {
			h, _, err = update(add, "")
		}
	}
	if err != nil || h.Open() || h.Failures < connections.BreakerThreshold || len(h.Conns) < connections.HostMinConnections {
		return h, false, err
	}
	opened, ok, err := c.updateHostBreaker(ctx, tenantID, host, &dynamodb.UpdateItemInput{
		UpdateExpression:         aws.String("SET open_since = :at, next_probe = :np, interval_ms = :iv, #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(open_since)"),
		ExpressionAttributeNames: map[string]string{"#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at": avN(at.UnixMilli()), ":np": avN(at.Add(connections.ProbeFirst).UnixMilli()),
			":iv": avN(connections.ProbeFirst.Milliseconds()), ":ttl": ttl,
		},
	})
	if err != nil {
		return h, false, err
	}
	if !ok {
		// Another dispatcher opened it first.
		h, err = c.HostBreaker(ctx, tenantID, host)
		return h, false, err
	}
	return opened, true, nil
}

// ParkOnHost sets host on each connection's breaker item (creating it when
// the breaker is plainly closed), a few UpdateItems at once.
func (c *Connections) ParkOnHost(ctx context.Context, tenantID, host string, connectionIDs []string, at time.Time) error {
	ttl := avN(at.Add(breakerTTL).Unix())
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, 8)
	)
	for _, id := range connectionIDs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, err := c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String(c.Table), Key: key(tenantPK(tenantID), breakerSK(id)),
				UpdateExpression:          aws.String("SET host = :h, #ttl = :ttl"),
				ExpressionAttributeNames:  map[string]string{"#ttl": TTLAttribute},
				ExpressionAttributeValues: map[string]types.AttributeValue{":h": avS(host), ":ttl": ttl},
			})
			if err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("park connection %s on host %s: %w", id, host, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// ClaimHostProbe moves next_probe on from the value the caller saw, on the
// condition that it still is that value: one caller wins.
func (c *Connections) ClaimHostProbe(ctx context.Context, tenantID, host string, seen connections.HostBreaker, at time.Time) (bool, error) {
	_, ok, err := c.updateHostBreaker(ctx, tenantID, host, claimProbe(seen.OpenSince, seen.NextProbe, seen.Interval, at))
	return ok, err
}

// HostProbeFailed doubles the interval of the host breaker opened at
// seen.OpenSince; one closed or opened again meanwhile is left alone.
func (c *Connections) HostProbeFailed(ctx context.Context, tenantID, host string, seen connections.HostBreaker, at time.Time) (connections.HostBreaker, error) {
	h, ok, err := c.updateHostBreaker(ctx, tenantID, host, probeFailed(seen.OpenSince, seen.Interval, at))
	if err != nil || ok {
		return h, err
	}
	return c.HostBreaker(ctx, tenantID, host)
}

// CloseHost deletes the host's breaker (one DeleteItem); when it was open,
// the connections it parked are found with one Query of the tenant's
// breakers and their marks removed.
func (c *Connections) CloseHost(ctx context.Context, tenantID, host string) error {
	res, err := c.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(c.Table), Key: hostBreakerKey(tenantID, host),
		ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		return fmt.Errorf("close breaker of host %s: %w", host, err)
	}
	if _, wasOpen := res.Attributes["open_since"]; !wasOpen {
		return nil
	}
	items, err := queryItems(ctx, c.API, &dynamodb.QueryInput{
		TableName:                aws.String(c.Table),
		KeyConditionExpression:   aws.String("PK = :pk AND begins_with(SK, :p)"),
		FilterExpression:         aws.String("#host = :h"),
		ExpressionAttributeNames: map[string]string{"#host": "host"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(tenantPK(tenantID)), ":p": avS(skBreakerP), ":h": avS(host),
		},
	}, 0)
	if err != nil {
		return fmt.Errorf("close breaker of host %s: %w", host, err)
	}
	for _, it := range items {
		sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
		if sk == nil {
			continue
		}
		if err := c.unpark(ctx, tenantID, sk.Value, host); err != nil {
			return err
		}
	}
	return nil
}

// UnparkFromHost removes the connection's mark of host, if it has it.
func (c *Connections) UnparkFromHost(ctx context.Context, tenantID, connectionID, host string) error {
	return c.unpark(ctx, tenantID, breakerSK(connectionID), host)
}

func (c *Connections) unpark(ctx context.Context, tenantID, sk, host string) error {
	_, err := c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(c.Table), Key: key(tenantPK(tenantID), sk),
		UpdateExpression:          aws.String("REMOVE #host"),
		ConditionExpression:       aws.String("#host = :h"),
		ExpressionAttributeNames:  map[string]string{"#host": "host"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": avS(host)},
	})
	if err != nil && !isConditionFailure(err) {
		return fmt.Errorf("unpark %s from host %s: %w", sk, host, err)
	}
	return nil
}
