package ddbstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
)

// The activity log of a connection, in its partition of the operations
// table (CONN#<t>#<id>; see schema.go):
//
//   - one item per attempt, keyed by the delivery it belongs to,
//     WH#<webhookId>#<time>#<attempt>: FindAttempt (replay) reads the
//     latest attempt of a delivery with one strongly consistent Query, and
//     no index is written per attempt;
//   - one log item per AddAttempts call, LOG#<time>#<random>, listing the
//     keys of the attempts it wrote (time, webhook ID, attempt), its time
//     that of its newest attempt: Attempts reads the log newest first and
//     then the attempts it names.
//
// Attempts written before this layout (ATT#<time>#<webhookId>#<attempt>,
// found by webhook ID through GSI1) are still read until they expire
// (ActivityTTL after they were made).
const (
	skWebhookP = "WH#"
	skLogP     = "LOG#"
	// maxLogRefs bounds the attempts one log item lists (about 80 bytes
	// each: far below DynamoDB's 400 KB per item).
	maxLogRefs = 1000
)

// attemptSK is an attempt's sort key: by delivery, then time.
func attemptSK(a connections.Attempt) string {
	return fmt.Sprintf("%s%s#%013d#%02d", skWebhookP, a.WebhookID, a.Time, a.Attempt)
}

// attemptRef names one attempt in a log item.
type attemptRef struct {
	Time      int64  `dynamodbav:"t"`
	WebhookID string `dynamodbav:"w"`
	Attempt   int    `dynamodbav:"n"`
}

func refOf(a connections.Attempt) attemptRef {
	return attemptRef{Time: a.Time, WebhookID: a.WebhookID, Attempt: a.Attempt}
}

// newer orders refs newest first (ties as the legacy sort keys did).
func newer(a, b attemptRef) int {
	return cmp.Or(cmp.Compare(b.Time, a.Time), strings.Compare(b.WebhookID, a.WebhookID), cmp.Compare(b.Attempt, a.Attempt))
}

// attemptLog is a log item: the attempts one AddAttempts call wrote for
// one connection.
type attemptLog struct {
	Refs []attemptRef `dynamodbav:"refs"`
}

// AddAttempt logs an attempt; it expires ActivityTTL after its time. The
// same webhook attempt at the same millisecond overwrites itself.
func (c *Connections) AddAttempt(ctx context.Context, tenantID, connectionID string, a connections.Attempt) error {
	return c.AddAttempts(ctx, []connections.ConnAttempt{{TenantID: tenantID, ConnectionID: connectionID, Attempt: a}})
}

// batchWriter is the client's BatchWriteItem (*dynamodb.Client has it).
type batchWriter interface {
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// AddAttempts logs the attempts of a batch of deliveries, whatever their
// connections: one item per attempt and one log item per connection, in
// BatchWriteItem calls of up to 25 items (one call for a batch of 10
// deliveries on one connection: 11 items); items DynamoDB leaves
// unprocessed are sent again with backoff. With a client that has no
// BatchWriteItem it makes one PutItem per item.
func (c *Connections) AddAttempts(ctx context.Context, as []connections.ConnAttempt) error {
	ops, err := c.ops()
	if err != nil {
		return err
	}
	items, err := attemptItems(as)
	if err != nil {
		return err
	}
	api, ok := c.API.(batchWriter)
	if !ok {
		for _, it := range items {
			if _, err := c.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: ops, Item: it}); err != nil {
				return fmt.Errorf("add attempts: %w", err)
			}
		}
		return nil
	}
	for chunk := range slices.Chunk(items, maxBatchWrite) {
		reqs := make([]types.WriteRequest, len(chunk))
		for i, it := range chunk {
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
		}
		for n := 0; len(reqs) > 0; n++ {
			if n > batchRetries {
				return fmt.Errorf("add attempts: %d still unprocessed after %d retries", len(reqs), batchRetries)
			}
			if n > 0 {
				if err := sleep(ctx, batchBackoff(n)); err != nil {
					return fmt.Errorf("add attempts: %w", err)
				}
			}
			out, err := api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{*ops: reqs}})
			if err != nil {
				return fmt.Errorf("add attempts: %w", err)
			}
			reqs = out.UnprocessedItems[*ops]
		}
	}
	return nil
}

// attemptItems are the items AddAttempts writes: the attempts (the same
// attempt twice, a message the queue handed out twice and tried in the
// same millisecond, once: DynamoDB refuses a batch that names a key twice),
// then each connection's log items.
func attemptItems(as []connections.ConnAttempt) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	seen := map[string]int{}
	refs := map[string][]attemptRef{} // by partition key
	var pks []string
	for _, a := range as {
		it, err := attemptItem(a.TenantID, a.ConnectionID, a.Attempt)
		if err != nil {
			return nil, err
		}
		pk := attemptPK(a.TenantID, a.ConnectionID)
		k := pk + "\x00" + attemptSK(a.Attempt)
		if i, dup := seen[k]; dup {
			items[i] = it
			continue
		}
		seen[k] = len(items)
		items = append(items, it)
		if _, ok := refs[pk]; !ok {
			pks = append(pks, pk)
		}
		refs[pk] = append(refs[pk], refOf(a.Attempt))
	}
	for _, pk := range pks {
		for chunk := range slices.Chunk(refs[pk], maxLogRefs) {
			it, err := logItem(pk, chunk)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
	}
	return items, nil
}

// attemptItem is an attempt's item in the operations table.
func attemptItem(tenantID, connectionID string, a connections.Attempt) (map[string]types.AttributeValue, error) {
	it, err := item(attemptPK(tenantID, connectionID), attemptSK(a), a)
	if err != nil {
		return nil, err
	}
	it[TTLAttribute] = avN(expiry(a.Time))
	return it, nil
}

// expiry is the TTL of what was logged at ms.
func expiry(ms int64) int64 { return time.UnixMilli(ms).Add(connections.ActivityTTL).Unix() }

// logItem lists refs (newest first) under the time of the newest, which
// no attempt it names is later than.
func logItem(pk string, refs []attemptRef) (map[string]types.AttributeValue, error) {
	refs = slices.Clone(refs)
	slices.SortFunc(refs, newer)
	var r [6]byte
	_, _ = rand.Read(r[:])
	top := refs[0].Time
	it, err := item(pk, fmt.Sprintf("%s%013d#%s", skLogP, top, hex.EncodeToString(r[:])), attemptLog{Refs: refs})
	if err != nil {
		return nil, err
	}
	it[TTLAttribute] = avN(expiry(top))
	return it, nil
}

// logTime reads the time out of a log item's sort key.
func logTime(sk string) (int64, bool) {
	rest, ok := strings.CutPrefix(sk, skLogP)
	if !ok || len(rest) < 13 {
		return 0, false
	}
	ms, err := strconv.ParseInt(rest[:13], 10, 64)
	return ms, err == nil
}

// Attempts returns the last limit attempts of a connection, newest first
// (strongly consistent). Expired attempts not yet swept by TTL are included.
// It reads the log items newest first until limit attempts are known to be
// the newest (a log item's attempts are no later than its time), then the
// attempts themselves (BatchGetItem).
func (c *Connections) Attempts(ctx context.Context, tenantID, connectionID string, limit int) ([]connections.Attempt, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	ops, err := c.ops()
	if err != nil {
		return nil, err
	}
	pk := attemptPK(tenantID, connectionID)
	fail := func(err error) error { return fmt.Errorf("attempts of connection %s: %w", connectionID, err) }
	refs, err := c.logRefs(ctx, ops, pk, limit)
	if err != nil {
		return nil, fail(err)
	}
	legacy, err := c.legacyAttempts(ctx, ops, pk, limit)
	if err != nil {
		return nil, fail(err)
	}
	byRef := make(map[attemptRef]connections.Attempt, len(legacy))
	for _, a := range legacy {
		r := refOf(a)
		if _, dup := byRef[r]; !dup {
			refs = append(refs, r)
		}
		byRef[r] = a
	}
	slices.SortFunc(refs, newer)
	refs = slices.Compact(refs)
	refs = refs[:min(limit, len(refs))]
	var keys []map[string]types.AttributeValue
	for _, r := range refs {
		if _, ok := byRef[r]; !ok {
			keys = append(keys, key(pk, attemptSK(connections.Attempt{Time: r.Time, WebhookID: r.WebhookID, Attempt: r.Attempt})))
		}
	}
	got, err := c.batchGetAttempts(ctx, *ops, keys)
	if err != nil {
		return nil, fail(err)
	}
	for _, a := range got {
		byRef[refOf(a)] = a
	}
	out := make([]connections.Attempt, 0, len(refs))
	for _, r := range refs {
		if a, ok := byRef[r]; ok { // else expired and swept meanwhile
			out = append(out, a)
		}
	}
	return out, nil
}

// logRefs reads a partition's log items newest first until limit of the
// attempts they name are known to be the newest, and returns every attempt
// named by the items read.
func (c *Connections) logRefs(ctx context.Context, ops *string, pk string, limit int) ([]attemptRef, error) {
	in := &dynamodb.QueryInput{
		TableName:              ops,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(pk), ":p": avS(skLogP),
		},
		ScanIndexForward: aws.Bool(false),
		ConsistentRead:   aws.Bool(true),
		Limit:            aws.Int32(int32(min(limit, maxQueryPage))),
	}
	var refs []attemptRef
	seen := map[attemptRef]bool{}
	for {
		page, err := c.API.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			var l attemptLog
			if err := attributevalue.UnmarshalMap(it, &l); err != nil {
				return nil, fmt.Errorf("unmarshal log: %w", err)
			}
			for _, r := range l.Refs {
				if !seen[r] { // the same attempt logged twice
					seen[r] = true
					refs = append(refs, r)
				}
			}
			sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
			if sk == nil {
				return nil, errors.New("a log item without its sort key")
			}
			top, ok := logTime(sk.Value)
			if !ok {
				return nil, fmt.Errorf("log item %q: no time in its key", sk.Value)
			}
			// Every log item not read yet is no later than top, and
			// neither is any attempt it names: those later than top are
			// the newest (one at top may tie with one not read yet).
			settled := 0
			for _, r := range refs {
				if r.Time > top {
					settled++
				}
			}
			if settled >= limit {
				return refs, nil
			}
		}
		if page.LastEvaluatedKey == nil {
			return refs, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// legacyAttempts reads the last limit attempts written before attempts were
// keyed by webhook ID, newest first.
func (c *Connections) legacyAttempts(ctx context.Context, ops *string, pk string, limit int) ([]connections.Attempt, error) {
	items, err := queryItems(ctx, c.API, &dynamodb.QueryInput{
		TableName:              ops,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(pk), ":p": avS(skAttemptP),
		},
		ScanIndexForward: aws.Bool(false),
		ConsistentRead:   aws.Bool(true),
	}, limit)
	if err != nil {
		return nil, err
	}
	var out []connections.Attempt
	if err := attributevalue.UnmarshalListOfMaps(items, &out); err != nil {
		return nil, fmt.Errorf("unmarshal: %w", err)
	}
	return out, nil
}

// batchGetAttempts reads attempts by key, strongly consistent, retrying
// unprocessed keys with backoff; keys that name nothing are left out.
func (c *Connections) batchGetAttempts(ctx context.Context, table string, keys []map[string]types.AttributeValue) ([]connections.Attempt, error) {
	var out []connections.Attempt
	for chunk := range slices.Chunk(keys, maxBatchGet) {
		req := map[string]types.KeysAndAttributes{table: {Keys: chunk, ConsistentRead: aws.Bool(true)}}
		for n := 0; len(req) > 0; n++ {
			if n > 0 {
				if n > batchRetries {
					return nil, fmt.Errorf("keys still unprocessed after %d retries", batchRetries)
				}
				if err := sleep(ctx, batchBackoff(n)); err != nil {
					return nil, err
				}
			}
			res, err := c.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, err
			}
			var as []connections.Attempt
			if err := attributevalue.UnmarshalListOfMaps(res.Responses[table], &as); err != nil {
				return nil, fmt.Errorf("unmarshal: %w", err)
			}
			out = append(out, as...)
			req = res.UnprocessedKeys
			for t, ka := range req {
				ka.ConsistentRead = aws.Bool(true)
				req[t] = ka
			}
		}
	}
	return out, nil
}

// FindAttempt returns the latest logged attempt of a delivery (by its
// webhook ID) on a connection, whenever it was made while attempts are kept
// (ActivityTTL): one strongly consistent Query of the connection's
// partition. An apperr.KindNotFound if none is logged. (An attempt logged
// before attempts were keyed by webhook ID is found through GSI1, which is
// eventually consistent.)
func (c *Connections) FindAttempt(ctx context.Context, tenantID, connectionID, webhookID string) (connections.Attempt, error) {
	ops, err := c.ops()
	if err != nil {
		return connections.Attempt{}, err
	}
	notFound := apperr.NotFound("Delivery", webhookID)
	if webhookID == "" {
		return connections.Attempt{}, notFound
	}
	page, err := c.API.Query(ctx, &dynamodb.QueryInput{
		TableName:              ops,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(attemptPK(tenantID, connectionID)), ":p": avS(skWebhookP + webhookID + "#"),
		},
		ScanIndexForward: aws.Bool(false),
		ConsistentRead:   aws.Bool(true),
		Limit:            aws.Int32(1),
	})
	if err != nil {
		return connections.Attempt{}, fmt.Errorf("find attempt of %s: %w", webhookID, err)
	}
	if len(page.Items) == 1 {
		var a connections.Attempt
		if err := attributevalue.UnmarshalMap(page.Items[0], &a); err != nil {
			return connections.Attempt{}, fmt.Errorf("find attempt of %s: unmarshal: %w", webhookID, err)
		}
		// A webhook ID holding "#" could name the prefix of another's keys.
		if a.WebhookID == webhookID {
			return a, nil
		}
	}
	return c.findLegacyAttempt(ctx, ops, tenantID, connectionID, webhookID, notFound)
}

// findLegacyAttempt is FindAttempt for attempts written before attempts
// were keyed by webhook ID: one Query on GSI1 (keys only) and one GetItem.
func (c *Connections) findLegacyAttempt(ctx context.Context, ops *string, tenantID, connectionID, webhookID string, notFound *apperr.Error) (connections.Attempt, error) {
	page, err := c.API.Query(ctx, &dynamodb.QueryInput{
		TableName:                 ops,
		IndexName:                 aws.String(GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(attemptGSI1PK(tenantID, connectionID, webhookID))},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
	})
	if err != nil {
		return connections.Attempt{}, fmt.Errorf("find attempt of %s: %w", webhookID, err)
	}
	if len(page.Items) == 0 {
		return connections.Attempt{}, notFound
	}
	pk, _ := page.Items[0][AttrPK].(*types.AttributeValueMemberS)
	sk, _ := page.Items[0][AttrSK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return connections.Attempt{}, fmt.Errorf("find attempt of %s: the index answered an item without its keys", webhookID)
	}
	// notFound if it expired and was swept between the two reads.
	var a connections.Attempt
	if err := getItem(ctx, c.API, aws.ToString(ops), pk.Value, sk.Value, false, &a, notFound); err != nil {
		return connections.Attempt{}, err
	}
	return a, nil
}
