package ddbstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/connections"
)

// A connection's circuit breaker is an item of its own beside it in the
// tenant's partition of the data table (TENANT#<t> / BRK#<id>), not
// attributes of the connection: the dispatcher updates it without touching
// the connection's version (an owner's edit never conflicts with it), and
// every route that reads the connection may read it (its keys are the
// tenant's settings keys). The trigger router's stream filter passes
// CONTACT# keys only, so its writes wake nothing. It expires breakerTTL
// after its last write (a connection that failed and then fell silent).
//
// The tenant's delivery rate is one item in the operations table
// (CONN#<t> / RATE, beside its connections' attempts, which are
// CONN#<t>#<id>): the time its next delivery may be sent.

const (
	skBreakerP = "BRK#"
	breakerTTL = 7 * 24 * time.Hour
	rateTTL    = 24 * time.Hour
)

func breakerSK(connectionID string) string { return skBreakerP + connectionID }

// deliveryRatePK is a tenant's delivery rate item in the operations table.
func deliveryRatePK(tenantID string) string { return "CONN#" + tenantID }

const skRate = "RATE"

var (
	_ connections.BreakerStore      = (*Connections)(nil)
	_ connections.DeliveryRateStore = (*Connections)(nil)
)

// Breaker reads a connection's breaker (eventually consistent: a dispatcher
// acts on it, and every change of state is a conditional write).
func (c *Connections) Breaker(ctx context.Context, tenantID, connectionID string) (connections.Breaker, error) {
	res, err := c.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(c.Table), Key: key(tenantPK(tenantID), breakerSK(connectionID))})
	if err != nil {
		return connections.Breaker{}, fmt.Errorf("read breaker of connection %s: %w", connectionID, err)
	}
	b, err := decodeBreaker[connections.Breaker](res.Item)
	if err != nil || b.Host == "" {
		return b, err
	}
	// Parked by its host's breaker: that one is read too.
	h, err := c.HostBreaker(ctx, tenantID, b.Host)
	if err != nil {
		return b, err
	}
	if h.Open() {
		b.OnHost = &h
	}
	return b, nil
}

// Breakers reads the breakers of a tenant's connections in one Query, which
// reads its host breakers too (hostbreaker.go).
func (c *Connections) Breakers(ctx context.Context, tenantID string) (map[string]connections.Breaker, error) {
	items, err := queryItems(ctx, c.API, &dynamodb.QueryInput{
		TableName:              aws.String(c.Table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(tenantPK(tenantID)), ":p": avS(skBreakerP),
		},
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("read breakers of %s: %w", tenantID, err)
	}
	out := make(map[string]connections.Breaker, len(items))
	hosts := map[string]connections.HostBreaker{}
	for _, it := range items {
		sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
		if sk == nil {
			continue
		}
		if host, ok := strings.CutPrefix(sk.Value, skHostBreakerP); ok {
			h, err := decodeBreaker[connections.HostBreaker](it)
			if err != nil {
				return nil, err
			}
			hosts[host] = h
			continue
		}
		b, err := decodeBreaker[connections.Breaker](it)
		if err != nil {
			return nil, err
		}
		out[strings.TrimPrefix(sk.Value, skBreakerP)] = b
	}
	for id, b := range out {
		if h, ok := hosts[b.Host]; ok && b.Host != "" && h.Open() {
			b.OnHost = &h
			out[id] = b
		}
	}
	return out, nil
}

// decodeBreaker decodes a breaker item, a connection's or a host's; no
// item is a closed breaker.
func decodeBreaker[T connections.Breaker | connections.HostBreaker](it map[string]types.AttributeValue) (T, error) {
	var b T
	if len(it) == 0 {
		return b, nil
	}
	if err := attributevalue.UnmarshalMap(it, &b); err != nil {
		return b, fmt.Errorf("unmarshal breaker: %w", err)
	}
	return b, nil
}

// updateBreaker runs one UpdateItem on a breaker and returns the item as
// it left it; ok is false when its condition failed.
func (c *Connections) updateBreaker(ctx context.Context, tenantID, connectionID string, in *dynamodb.UpdateItemInput) (connections.Breaker, bool, error) {
	return updateDecoded[connections.Breaker](ctx, c, key(tenantPK(tenantID), breakerSK(connectionID)), "connection "+connectionID, in)
}

// updateDecoded runs in on the item at k (of c's table) and decodes the
// item as it is after: false, no error, when in's condition failed.
func updateDecoded[T connections.Breaker | connections.HostBreaker](ctx context.Context, c *Connections, k map[string]types.AttributeValue, what string, in *dynamodb.UpdateItemInput) (T, bool, error) {
	var zero T
	in.TableName = aws.String(c.Table)
	in.Key = k
	in.ReturnValues = types.ReturnValueAllNew
	res, err := c.API.UpdateItem(ctx, in)
	if isConditionFailure(err) {
		return zero, false, nil
	}
	if err != nil {
		return zero, false, fmt.Errorf("update breaker of %s: %w", what, err)
	}
	v, err := decodeBreaker[T](res.Attributes)
	return v, err == nil, err
}

// BreakerFailed counts a failure in one UpdateItem and, when that reaches
// the threshold on a closed breaker, opens it with a second, conditional
// one (so concurrent dispatchers open it once).
func (c *Connections) BreakerFailed(ctx context.Context, tenantID, connectionID string, at time.Time) (connections.Breaker, error) {
	ttl := avN(at.Add(breakerTTL).Unix())
	b, _, err := c.updateBreaker(ctx, tenantID, connectionID, &dynamodb.UpdateItemInput{
		UpdateExpression:          aws.String("ADD failures :one SET #ttl = :ttl"),
		ExpressionAttributeNames:  map[string]string{"#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": avN(1), ":ttl": ttl},
	})
	if err != nil || b.Open() || b.Failures < connections.BreakerThreshold {
		return b, err
	}
	opened, ok, err := c.updateBreaker(ctx, tenantID, connectionID, &dynamodb.UpdateItemInput{
		UpdateExpression:         aws.String("SET open_since = :at, next_probe = :np, interval_ms = :iv, #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(open_since)"),
		ExpressionAttributeNames: map[string]string{"#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at": avN(at.UnixMilli()), ":np": avN(at.Add(connections.ProbeFirst).UnixMilli()),
			":iv": avN(connections.ProbeFirst.Milliseconds()), ":ttl": ttl,
		},
	})
	if err != nil {
		return b, err
	}
	if !ok {
		// Another dispatcher opened it first.
		return c.Breaker(ctx, tenantID, connectionID)
	}
	return opened, nil
}

// ClaimProbe moves next_probe on from the value the caller saw, on the
// condition that it still is that value: one caller wins.
func (c *Connections) ClaimProbe(ctx context.Context, tenantID, connectionID string, seen connections.Breaker, at time.Time) (bool, error) {
	_, ok, err := c.updateBreaker(ctx, tenantID, connectionID, claimProbe(seen.OpenSince, seen.NextProbe, seen.Interval, at))
	return ok, err
}

// claimProbe is the update (key and table left out) that claims the probe
// of a breaker, a connection's or a host's, seen open since openSince with
// its probe due at nextProbe, every interval ms.
func claimProbe(openSince, nextProbe, interval int64, at time.Time) *dynamodb.UpdateItemInput {
	iv := max(interval, connections.ProbeFirst.Milliseconds())
	return &dynamodb.UpdateItemInput{
		UpdateExpression:         aws.String("SET next_probe = :np, #ttl = :ttl"),
		ConditionExpression:      aws.String("open_since = :os AND next_probe = :seen AND next_probe <= :now"),
		ExpressionAttributeNames: map[string]string{"#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":np": avN(at.UnixMilli() + iv), ":os": avN(openSince), ":seen": avN(nextProbe),
			":now": avN(at.UnixMilli()), ":ttl": avN(at.Add(breakerTTL).Unix()),
		},
	}
}

// ProbeFailed doubles the interval of the breaker opened at seen.OpenSince;
// a breaker closed or opened again meanwhile is left alone.
func (c *Connections) ProbeFailed(ctx context.Context, tenantID, connectionID string, seen connections.Breaker, at time.Time) (connections.Breaker, error) {
	b, ok, err := c.updateBreaker(ctx, tenantID, connectionID, probeFailed(seen.OpenSince, seen.Interval, at))
	if err != nil || ok {
		return b, err
	}
	return c.Breaker(ctx, tenantID, connectionID)
}

// probeFailed is the update (key and table left out) that doubles the
// probe interval of a breaker, a connection's or a host's, opened at
// openSince; one closed or opened again meanwhile fails its condition.
func probeFailed(openSince, interval int64, at time.Time) *dynamodb.UpdateItemInput {
	iv := connections.NextInterval(time.Duration(interval) * time.Millisecond)
	return &dynamodb.UpdateItemInput{
		UpdateExpression:         aws.String("SET interval_ms = :iv, next_probe = :np, #ttl = :ttl ADD failures :one"),
		ConditionExpression:      aws.String("open_since = :os"),
		ExpressionAttributeNames: map[string]string{"#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":iv": avN(iv.Milliseconds()), ":np": avN(at.Add(iv).UnixMilli()), ":os": avN(openSince),
			":one": avN(1), ":ttl": avN(at.Add(breakerTTL).Unix()),
		},
	}
}

// CloseBreaker deletes the breaker: closed, no failures, and no longer
// parked by its host's breaker (an owner's change of the connection tries
// it again at once; its host's breaker, if open, parks it again at its
// next failure to answer, see dispatch.noteResult).
func (c *Connections) CloseBreaker(ctx context.Context, tenantID, connectionID string) error {
	k := key(tenantPK(tenantID), breakerSK(connectionID))
	// A hung mark outlives the closing: an endpoint that answers some
	// requests and hangs on others is closed by every answer. The item
	// keeps the marks only (one write either way).
	_, err := c.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(c.Table), Key: k,
		ConditionExpression:       aws.String("attribute_not_exists(hung_until) OR hung_until < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": avN(time.Now().UnixMilli())}})
	if isConditionFailure(err) {
		_, err = c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(c.Table), Key: k,
			UpdateExpression: aws.String("REMOVE failures, open_since, next_probe, interval_ms, host")})
	}
	if err != nil {
		return fmt.Errorf("close breaker of connection %s: %w", connectionID, err)
	}
	return nil
}

// ReserveDeliveries reserves n send times of a tenant, every apart, and
// returns the first (unix ms). Calls for one tenant made while another is
// under way in this store (a dispatcher's batches handled at once) wait
// for it and are then made as one: a single reservation of their slots
// together (see reserve), made by the first of them and shared out in
// order of arrival, each caller's slots one after another. Each caller
// makes at most one call.
func (c *Connections) ReserveDeliveries(ctx context.Context, tenantID string, n int, every time.Duration, now time.Time) (int64, error) {
	k := tenantID + "#" + strconv.FormatInt(int64(every), 10)
	c.rateMu.Lock()
	if c.rateQueues == nil {
		c.rateQueues = map[string]*rateQueue{}
	}
	q := c.rateQueues[k]
	if q == nil {
		// None under way: this call goes now; the calls that come
		// meanwhile wait for it.
		q = &rateQueue{}
		c.rateQueues[k] = q
		c.rateMu.Unlock()
		first, err := c.reserve(ctx, tenantID, n, every, now)
		c.handOn(k, q)
		return first, err
	}
	me := &rateWaiter{n: n, now: now, done: make(chan struct{})}
	q.waiting = append(q.waiting, me)
	c.rateMu.Unlock()
	<-me.done
	if me.group != nil {
		// The first of its group: it makes the group's call.
		g := me.group
		n, now := 0, g[0].now
		for _, w := range g {
			n += w.n
			if w.now.After(now) {
				now = w.now
			}
		}
		first, err := c.reserve(context.WithoutCancel(ctx), tenantID, n, every, now)
		at := time.UnixMilli(first)
		for _, w := range g {
			w.first, w.err = at.UnixMilli(), err
			at = at.Add(time.Duration(w.n) * every)
			if w != me {
				close(w.ready)
			}
		}
		c.handOn(k, q)
		return me.first, me.err
	}
	<-me.ready
	return me.first, me.err
}

// rateQueue is a tenant's reservations waiting for the one under way.
type rateQueue struct{ waiting []*rateWaiter }

type rateWaiter struct {
	n    int
	now  time.Time
	done chan struct{} // closed when its group is to be reserved
	// group is set on the first of a group: it reserves for all of it.
	group []*rateWaiter
	ready chan struct{} // closed once its slots are known (not the first)
	first int64
	err   error
}

// handOn ends the call under way: the reservations that waited for it
// become one group, which the first of them makes; with none, the next
// call goes at once.
func (c *Connections) handOn(k string, q *rateQueue) {
	c.rateMu.Lock()
	defer c.rateMu.Unlock()
	g := q.waiting
	q.waiting = nil
	if len(g) == 0 {
		delete(c.rateQueues, k)
		return
	}
	for _, w := range g {
		w.ready = make(chan struct{})
	}
	g[0].group = g
	for _, w := range g {
		close(w.done)
	}
}

// reserve reserves n send times of a tenant, every apart: the
// item holds the time of the tenant's next free slot (tat, unix ms). An
// idle tenant's slot is in the past: the first UpdateItem restarts it from
// now; a busy tenant's is not (that condition fails), and the second
// appends n slots to it. One call for an idle tenant; for a busy one, one
// too when this store's last reservation for the tenant ended after now
// (the item's time only moves on, so the first's condition would fail:
// the second is made at once), else two.
func (c *Connections) reserve(ctx context.Context, tenantID string, n int, every time.Duration, now time.Time) (int64, error) {
	ops, err := c.ops()
	if err != nil {
		return 0, err
	}
	span := int64(n) * every.Microseconds()
	k := key(deliveryRatePK(tenantID), skRate)
	ttl := avN(now.Add(rateTTL).Unix())
	nowUS := now.UnixMicro()
	if last, ok := c.rateEnds.Load(tenantID); !ok || last.(int64) <= nowUS {
		err = c.reserveIdle(ctx, ops, k, span, nowUS, ttl)
		if err == nil {
			c.rateEnds.Store(tenantID, nowUS+span)
			return now.UnixMilli(), nil
		}
		if !isConditionFailure(err) {
			return 0, fmt.Errorf("reserve deliveries of %s: %w", tenantID, err)
		}
	}
	res, err := c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: ops, Key: k,
		UpdateExpression:          aws.String("SET tat = if_not_exists(tat, :now) + :span, #ttl = :ttl"),
		ExpressionAttributeNames:  map[string]string{"#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": avN(nowUS), ":span": avN(span), ":ttl": ttl},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("reserve deliveries of %s: %w", tenantID, err)
	}
	v, _ := res.Attributes["tat"].(*types.AttributeValueMemberN)
	if v == nil {
		return 0, fmt.Errorf("reserve deliveries of %s: no tat in the answer", tenantID)
	}
	end, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reserve deliveries of %s: %w", tenantID, err)
	}
	c.rateEnds.Store(tenantID, end)
	return (end - span) / 1000, nil
}

// reserveIdle is ReserveDeliveries' first UpdateItem: n slots from now,
// on the condition that the tenant's next free slot is not later.
func (c *Connections) reserveIdle(ctx context.Context, ops *string, k map[string]types.AttributeValue, span, nowUS int64, ttl types.AttributeValue) error {
	_, err := c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: ops, Key: k,
		UpdateExpression:         aws.String("SET tat = :end, #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(tat) OR tat <= :now"),
		ExpressionAttributeNames: map[string]string{"#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":end": avN(nowUS + span), ":now": avN(nowUS), ":ttl": ttl,
		},
	})
	return err
}
