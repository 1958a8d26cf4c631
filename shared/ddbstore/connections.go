package ddbstore

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
)

// Connections stores webhook connections, their delivery attempts (the
// activity log) and dead deliveries (see schema.go for the keys).
//
// A connection is one item in its tenant's partition, stored whole, signing
// secrets included as plain attributes: the table is encrypted at rest
// (DynamoDB always is), but whoever may read the item reads the secrets.
// Attempts live in the operations table, a partition per connection, and
// expire by TTL; dead deliveries live in the tenant's partition, listed
// newest first through GSI1, and expire by TTL too.
type Connections struct {
	API      API
	Table    string // the data table
	OpsTable string // the operations table (attempts)

	// rateEnds holds, by tenant, the end of the last slots
	// ReserveDeliveries took (unix µs): see reserve.
	rateEnds sync.Map
	// rateQueues are the reservations waiting for the one under way, by
	// tenant and rate (ReserveDeliveries).
	rateMu     sync.Mutex
	rateQueues map[string]*rateQueue

	// hourly holds the counters of attempts not yet added to their
	// connections' hourly items (hourly.go).
	hourly hourlyBuffer
}

// ops is the operations table's name, or an error naming the missing
// setting (a store built without it cannot log or read attempts).
func (c *Connections) ops() (*string, error) {
	if c.OpsTable == "" {
		return nil, errors.New("ddbstore: Connections.OpsTable (the operations table) is not set")
	}
	return aws.String(c.OpsTable), nil
}

var _ connections.Store = (*Connections)(nil)

// Key builders of connections, attempts and dead deliveries (see schema.go).
func connSK(id string) string { return skConnP + id }
func attemptPK(tenantID, connectionID string) string {
	return "CONN#" + tenantID + "#" + connectionID
}
func deadSK(deliveryID string) string { return skDeadP + deliveryID }

// attemptGSI1PK grouped the attempts of one delivery (webhook ID) of one
// connection in the operations table's GSI1, before they were keyed by
// webhook ID (read for those still kept).
func attemptGSI1PK(tenantID, connectionID, webhookID string) string {
	return "WH#" + tenantID + "#" + connectionID + "#" + webhookID
}
func deadGSI1PK(tenantID string) string { return "DEAD#" + tenantID }
func deadGSI1SK(diedAt int64, deliveryID string) string {
	return fmt.Sprintf("%010d#%s", diedAt, deliveryID)
}

const (
	skConnP    = "CONN#"
	skAttemptP = "ATT#"
	skDeadP    = "DEAD#"
	// maxQueryPage bounds the Limit of one Query page.
	maxQueryPage = 1000
)

// avN is a number attribute value.
func avN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// avS is a string attribute value.
func avS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// notFoundIf maps a failed "item exists" condition to notFound and wraps
// any other error with what was being done.
func notFoundIf(err error, what string, notFound *apperr.Error) error {
	switch {
	case err == nil:
		return nil
	case isConditionFailure(err):
		return notFound.Wrap(err)
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// checkLimit rejects a page size below 1.
func checkLimit(limit int) error {
	if limit < 1 {
		return apperr.Invalid("limit", "must be at least 1")
	}
	return nil
}

// CreateConnection writes a new connection; an existing ID is an apperr.KindExists.
func (c *Connections) CreateConnection(ctx context.Context, conn connections.Connection) error {
	it, err := item(tenantPK(conn.TenantID), connSK(conn.ID), conn)
	if err != nil {
		return err
	}
	_, err = c.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(c.Table), Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if isConditionFailure(err) {
		return apperr.Exists("Connection %s already exists; retry.", conn.ID).Wrap(err)
	}
	if err != nil {
		return fmt.Errorf("create connection %s: %w", conn.ID, err)
	}
	return nil
}

// GetConnection reads a connection of a tenant (strongly consistent).
func (c *Connections) GetConnection(ctx context.Context, tenantID, id string) (connections.Connection, error) {
	var conn connections.Connection
	err := getItem(ctx, c.API, c.Table, tenantPK(tenantID), connSK(id), true, &conn, apperr.NotFound("Connection", id))
	return conn, err
}

// ListConnections reads every connection of a tenant (strongly consistent),
// oldest first, ties by ID.
func (c *Connections) ListConnections(ctx context.Context, tenantID string) ([]connections.Connection, error) {
	items, err := queryItems(ctx, c.API, &dynamodb.QueryInput{
		TableName:              aws.String(c.Table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(tenantPK(tenantID)), ":p": avS(skConnP),
		},
		ConsistentRead: aws.Bool(true),
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("list connections of %s: %w", tenantID, err)
	}
	out := []connections.Connection{}
	if err := attributevalue.UnmarshalListOfMaps(items, &out); err != nil {
		return nil, fmt.Errorf("list connections of %s: unmarshal: %w", tenantID, err)
	}
	slices.SortFunc(out, func(a, b connections.Connection) int {
		return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// PutConnection replaces a connection whose stored version is the one
// before conn.Version: a change made meanwhile (RecordResult, Disable,
// another edit) makes it an apperr.KindConflict, so the caller reads again.
func (c *Connections) PutConnection(ctx context.Context, conn connections.Connection) error {
	it, err := item(tenantPK(conn.TenantID), connSK(conn.ID), conn)
	if err != nil {
		return err
	}
	_, err = c.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(c.Table), Item: it,
		ConditionExpression:                 aws.String("attribute_exists(PK) AND #v = :prev"),
		ExpressionAttributeNames:            map[string]string{"#v": "version"},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":prev": avN(conn.Version - 1)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && len(ccf.Item) > 0 {
		return apperr.Conflict("connection").Wrap(err)
	}
	return notFoundIf(err, "put connection "+conn.ID, apperr.NotFound("Connection", conn.ID))
}

// DeleteConnection deletes a connection. Its attempts and dead deliveries
// are left to expire by TTL (ActivityTTL, DeadTTL).
func (c *Connections) DeleteConnection(ctx context.Context, tenantID, id string) error {
	_, err := c.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(c.Table), Key: key(tenantPK(tenantID), connSK(id)),
		ConditionExpression: aws.String("attribute_exists(PK)"),
	})
	return notFoundIf(err, "delete connection "+id, apperr.NotFound("Connection", id))
}

// RecordResult notes an attempt's effect in one conditional update: a
// success removes failing_since, a failure sets it to at unless set. It
// returns the connection as the update left it.
func (c *Connections) RecordResult(ctx context.Context, tenantID, id string, success bool, at time.Time) (connections.Connection, error) {
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(c.Table),
		Key:                       key(tenantPK(tenantID), connSK(id)),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		UpdateExpression:          aws.String("REMOVE #f ADD #v :one"),
		ExpressionAttributeNames:  map[string]string{"#f": "failing_since", "#v": "version"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": avN(1)},
		ReturnValues:              types.ReturnValueAllNew,
	}
	if !success {
		in.UpdateExpression = aws.String("SET #f = if_not_exists(#f, :at) ADD #v :one")
		in.ExpressionAttributeValues[":at"] = avN(at.Unix())
	}
	var conn connections.Connection
	what := "record result on connection " + id
	res, err := c.API.UpdateItem(ctx, in)
	if err != nil {
		return conn, notFoundIf(err, what, apperr.NotFound("Connection", id))
	}
	if err := attributevalue.UnmarshalMap(res.Attributes, &conn); err != nil {
		return conn, fmt.Errorf("%s: unmarshal: %w", what, err)
	}
	return conn, nil
}

// Disable switches a connection off with a reason.
func (c *Connections) Disable(ctx context.Context, tenantID, id, reason string, at time.Time) error {
	_, err := c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(c.Table),
		Key:                      key(tenantPK(tenantID), connSK(id)),
		ConditionExpression:      aws.String("attribute_exists(PK)"),
		UpdateExpression:         aws.String("SET #e = :false, #r = :r, #u = :at ADD #v :one"),
		ExpressionAttributeNames: map[string]string{"#e": "enabled", "#r": "disabled_reason", "#u": "updated_at", "#v": "version"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":false": &types.AttributeValueMemberBOOL{Value: false}, ":r": avS(reason), ":at": avN(at.Unix()), ":one": avN(1),
		},
	})
	return notFoundIf(err, "disable connection "+id, apperr.NotFound("Connection", id))
}

// AddDead stores a dead delivery, replacing an earlier death of the same
// delivery; it expires DeadTTL after DiedAt. The payload is stored as
// binary, byte for byte.
func (c *Connections) AddDead(ctx context.Context, d connections.Dead) error {
	it, err := attributevalue.MarshalMap(d)
	if err != nil {
		return fmt.Errorf("add dead delivery %s: marshal: %w", d.ID, err)
	}
	it[AttrPK], it[AttrSK] = avS(tenantPK(d.TenantID)), avS(deadSK(d.ID))
	it[AttrGSI1PK], it[AttrGSI1SK] = avS(deadGSI1PK(d.TenantID)), avS(deadGSI1SK(d.DiedAt, d.ID))
	it[TTLAttribute] = avN(time.Unix(d.DiedAt, 0).Add(connections.DeadTTL).Unix())
	_, err = c.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(c.Table), Item: it})
	if err != nil {
		return fmt.Errorf("add dead delivery %s: %w", d.ID, err)
	}
	return nil
}

// ListDead returns up to limit dead deliveries of a tenant, newest first,
// from cursor on. It reads GSI1, so a delivery that just died may be missing
// for a moment. The cursor is the GSI1 sort key of the page's last item,
// base64url-encoded; Next is set only when more items follow (one extra
// item is read to know).
func (c *Connections) ListDead(ctx context.Context, tenantID string, limit int, cursor string) (connections.DeadPage, error) {
	if err := checkLimit(limit); err != nil {
		return connections.DeadPage{}, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(c.Table),
		IndexName:                 aws.String(GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(deadGSI1PK(tenantID))},
		ScanIndexForward:          aws.Bool(false),
	}
	if cursor != "" {
		sk, id, err := parseDeadCursor(cursor)
		if err != nil {
			return connections.DeadPage{}, err
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			AttrGSI1PK: avS(deadGSI1PK(tenantID)), AttrGSI1SK: avS(sk),
			AttrPK: avS(tenantPK(tenantID)), AttrSK: avS(deadSK(id)),
		}
	}
	items, err := queryItems(ctx, c.API, in, limit+1)
	if err != nil {
		return connections.DeadPage{}, fmt.Errorf("list dead deliveries of %s: %w", tenantID, err)
	}
	list, next, err := gsi1Page[connections.Dead](items, limit)
	if err != nil {
		return connections.DeadPage{}, fmt.Errorf("list dead deliveries of %s: %w", tenantID, err)
	}
	return connections.DeadPage{Items: list, Next: next}, nil
}

// parseDeadCursor reads a cursor ListDead made: the GSI1 sort key
// <diedAt:%010d>#<deliveryId>, and the delivery ID in it.
func parseDeadCursor(cursor string) (sk, id string, err error) {
	bad := apperr.Invalid("cursor", "is not a cursor from this listing (pass links.next as it is)")
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", "", bad
	}
	sk = string(b)
	at, id, ok := strings.Cut(sk, "#")
	if !ok || len(at) != 10 || id == "" || !utf8.ValidString(id) || strings.ContainsAny(at, "+-") {
		return "", "", bad
	}
	if _, err := strconv.ParseUint(at, 10, 64); err != nil {
		return "", "", bad
	}
	return sk, id, nil
}

// GetDead reads one dead delivery (strongly consistent).
func (c *Connections) GetDead(ctx context.Context, tenantID, deliveryID string) (connections.Dead, error) {
	var d connections.Dead
	err := getItem(ctx, c.API, c.Table, tenantPK(tenantID), deadSK(deliveryID), true, &d, apperr.NotFound("Dead delivery", deliveryID))
	return d, err
}

// DeleteDead deletes a dead delivery (after a redrive, or on request).
func (c *Connections) DeleteDead(ctx context.Context, tenantID, deliveryID string) error {
	_, err := c.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(c.Table), Key: key(tenantPK(tenantID), deadSK(deliveryID)),
		ConditionExpression: aws.String("attribute_exists(PK)"),
	})
	return notFoundIf(err, "delete dead delivery "+deliveryID, apperr.NotFound("Dead delivery", deliveryID))
}
