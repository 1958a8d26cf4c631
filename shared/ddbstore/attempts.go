package ddbstore

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
)

// The activity log of a connection, in its partition of the operations
// table (CONN#<t>#<id>; see schema.go), is packed: one item per
// connection per AddAttempts call (a dispatcher's batch),
// ACT#<time>#<random>, its time that of its newest attempt, holding the
// attempts themselves (atts, newest first) and the set of their webhook IDs
// (wids): the attempts as one gzipped JSON array in a binary attribute. A
// batch whose attempts would take an item over packBudget bytes before
// compression (bodies can be large) is split over several items. Attempts reads the
// items newest first, and nothing else. Each failed attempt also gets a
// pointer item, WH#<webhookId>#<time>#<attempt> (the key it had in the
// previous layout), naming its packed item: a batch that all succeeded
// writes one item. FindAttempt (replay) finds a delivery's latest attempt
// with a Query of the packed items newest first, filtered on wids and
// projected to their keys, then one GetItem; a delivery further back than
// that Query reads (maxFindPages) through its latest pointer.
//
// Attempts written before this layout are still read until they expire
// (ActivityTTL after they were made): one item per attempt keyed by
// delivery (WH#<webhookId>#<time>#<attempt>) and one log item per write
// naming them (LOG#<time>#<random>); and before those, ATT#<time>#<webhookId>#<attempt>,
// found by webhook ID through GSI1.
const (
	skPackP    = "ACT#"
	skWebhookP = "WH#"
	skLogP     = "LOG#"
)

// maxFindPages bounds the pages of packed items FindAttempt reads (a page
// is at most 1 MB of items, some 4,000 attempts of small payloads): a
// delivery whose latest attempt is older than that and that never failed
// is not found. (A variable so that tests can make it small.)
var maxFindPages = 64

// packBudget bounds the size of one packed item, as DynamoDB counts it
// (attrSize), well under its 400 KB limit: an attempt that would take an
// item over it starts another. (A variable so that tests can make it
// small.)
var packBudget = 300 << 10

// attemptSK is an attempt's sort key in the previous layout: by delivery,
// then time.
func attemptSK(a connections.Attempt) string {
	return fmt.Sprintf("%s%s#%013d#%02d", skWebhookP, a.WebhookID, a.Time, a.Attempt)
}

// attemptRef names one attempt.
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

// attemptLog is a log item of the previous layout: the attempts one
// AddAttempts call wrote for one connection.
type attemptLog struct {
	Refs []attemptRef `dynamodbav:"refs"`
}

// Attribute names of a packed item.
const (
	attrAtts = "atts"
	attrWids = "wids"
	attrPack = "pack" // of a pointer item
)

// AddAttempt logs an attempt; it expires ActivityTTL after its time.
func (c *Connections) AddAttempt(ctx context.Context, tenantID, connectionID string, a connections.Attempt) error {
	return c.AddAttempts(ctx, []connections.ConnAttempt{{TenantID: tenantID, ConnectionID: connectionID, Attempt: a}})
}

// batchWriter is the client's BatchWriteItem (*dynamodb.Client has it).
type batchWriter interface {
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// AddAttempts logs the attempts of a batch of deliveries, whatever their
// connections: one packed item per connection (more when its attempts
// would take it over packBudget, and a pointer item per failed attempt),
// in BatchWriteItem calls of up to 25 items; items DynamoDB leaves
// unprocessed are sent again with backoff. A single item (a batch of
// deliveries on one connection that all succeeded) is one PutItem, as is
// each item with a client that has no BatchWriteItem. Then it adds them
// to their connections' hourly counters (hourly.go): one UpdateItem per
// connection and hour.
func (c *Connections) AddAttempts(ctx context.Context, as []connections.ConnAttempt) error {
	ops, err := c.ops()
	if err != nil {
		return err
	}
	if err := c.putAttempts(ctx, ops, as); err != nil {
		return err
	}
	// Counted once they are logged: a batch whose log write failed is
	// logged again (and counted then) by the dispatcher.
	return c.addHourly(ctx, ops, as)
}

// putAttempts writes the items of AddAttempts.
func (c *Connections) putAttempts(ctx context.Context, ops *string, as []connections.ConnAttempt) error {
	items, err := packItems(as)
	if err != nil {
		return err
	}
	api, ok := c.API.(batchWriter)
	if !ok || len(items) == 1 {
		// One item (a batch on one connection that all succeeded): a
		// PutItem writes it the same, on the store's lean path.
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

// packItems are the items AddAttempts writes: per connection, its attempts
// newest first (the same attempt twice, a message the queue handed out
// twice and tried in the same millisecond, once), packed into as few items
// as packBudget allows.
func packItems(as []connections.ConnAttempt) ([]map[string]types.AttributeValue, error) {
	byPK := map[string][]connections.Attempt{}
	var pks []string
	seen := map[string]bool{}
	for _, a := range as {
		pk := attemptPK(a.TenantID, a.ConnectionID)
		r := refOf(a.Attempt)
		k := fmt.Sprintf("%s\x00%d\x00%s\x00%d", pk, r.Time, r.WebhookID, r.Attempt)
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := byPK[pk]; !ok {
			pks = append(pks, pk)
		}
		byPK[pk] = append(byPK[pk], a.Attempt)
	}
	var items []map[string]types.AttributeValue
	for _, pk := range pks {
		atts := byPK[pk]
		slices.SortStableFunc(atts, func(a, b connections.Attempt) int { return newer(refOf(a), refOf(b)) })
		// Each item: its keys, TTL and names (about 100 bytes), "[" and
		// "]", and per attempt its JSON, a comma and its webhook ID.
		var (
			body   []byte
			refs   []attemptRef
			failed []bool
			flush  = func() {
				if len(refs) > 0 {
					it := packItem(pk, refs, gzipped(append(body, ']')))
					items = append(items, it)
					items = append(items, pointerItems(pk, it, refs, failed)...)
				}
				body, refs, failed = nil, nil, nil
			}
		)
		for _, a := range atts {
			j, err := json.Marshal(a)
			if err != nil {
				return nil, fmt.Errorf("marshal attempt %s: %w", a.WebhookID, err)
			}
			if len(refs) > 0 && 100+len(pk)+len(body)+1+len(j)+1+len(a.WebhookID)*(len(refs)+1) > packBudget {
				flush()
			}
			if len(refs) == 0 {
				body = append(body, '[')
			} else {
				body = append(body, ',')
			}
			body = append(body, j...)
			refs = append(refs, refOf(a))
			failed = append(failed, a.Outcome != connections.OutcomeSuccess)
		}
		flush()
	}
	return items, nil
}

// packItem is one packed item: the attempts as a gzipped JSON array
// (newest first, as refs name them) under the time of the newest, which no attempt
// it holds is later than, and the set of their webhook IDs. (One binary
// attribute rather than a list of maps: DynamoDB reads none of the
// attempts' fields, and the local emulator writes a nested item four times
// slower than the same bytes as one value.)
func packItem(pk string, refs []attemptRef, atts []byte) map[string]types.AttributeValue {
	var r [6]byte
	_, _ = rand.Read(r[:])
	top := refs[0].Time
	var wids []string
	for _, ref := range refs {
		if !slices.Contains(wids, ref.WebhookID) {
			wids = append(wids, ref.WebhookID)
		}
	}
	return map[string]types.AttributeValue{
		AttrPK:       avS(pk),
		AttrSK:       avS(fmt.Sprintf("%s%013d#%s", skPackP, top, hex.EncodeToString(r[:]))),
		attrAtts:     &types.AttributeValueMemberB{Value: atts},
		attrWids:     &types.AttributeValueMemberSS{Value: wids},
		TTLAttribute: avN(expiry(top)),
	}
}

// pointerItems are the pointers to pack (a packed item) of the attempts
// of refs that failed: WH#<webhookId>#<time>#<attempt>, the key an attempt
// had in the previous layout, holding the packed item's sort key (attrPack).
// Replay finds a failed delivery through them whenever it was attempted
// (FindAttempt); a successful one, which the receiver has, needs none.
func pointerItems(pk string, pack map[string]types.AttributeValue, refs []attemptRef, failed []bool) []map[string]types.AttributeValue {
	var out []map[string]types.AttributeValue
	for i, r := range refs {
		if failed[i] {
			out = append(out, map[string]types.AttributeValue{
				AttrPK:       avS(pk),
				AttrSK:       avS(attemptSK(connections.Attempt{Time: r.Time, WebhookID: r.WebhookID, Attempt: r.Attempt})),
				attrPack:     pack[AttrSK],
				TTLAttribute: pack[TTLAttribute],
			})
		}
	}
	return out
}

// gzippers are gzip writers at BestSpeed, reused.
var gzippers = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// gzipped is b compressed: the attempts' JSON (bodies much alike, and
// their quotes escaped) takes a fraction of the bytes, so that one
// attempt fits an item whatever its body's characters, and a batch's
// attempts take fewer write units.
func gzipped(b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b)/3 + 64)
	w := gzippers.Get().(*gzip.Writer)
	w.Reset(&out)
	_, _ = w.Write(b)
	_ = w.Close()
	gzippers.Put(w)
	return out.Bytes()
}

// attrSize is the size of an attribute value as DynamoDB counts item
// sizes (its name apart), rounded up where DynamoDB's rules are not
// exact: strings and binaries their length, numbers at most 21 bytes,
// lists and maps 3 bytes and 1 per element besides their elements (and a
// map's names).
func attrSize(av types.AttributeValue) int {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return 21
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + attrSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + attrSize(e)
		}
		return n
	}
	return 0
}

// expiry is the TTL of what was logged at ms.
func expiry(ms int64) int64 { return time.UnixMilli(ms).Add(connections.ActivityTTL).Unix() }

// packTime reads the time out of a packed item's sort key.
func packTime(sk string) (int64, bool) {
	rest, ok := strings.CutPrefix(sk, skPackP)
	if !ok || len(rest) < 13 {
		return 0, false
	}
	ms, err := strconv.ParseInt(rest[:13], 10, 64)
	return ms, err == nil
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
// It reads the packed items newest first until limit attempts are known to
// be the newest (a packed item's attempts are no later than its time), and
// the attempts of the previous layouts (see the top of this file).
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
	packed, err := c.packedAttempts(ctx, ops, pk, limit)
	if err != nil {
		return nil, fail(err)
	}
	refs, err := c.logRefs(ctx, ops, pk, limit)
	if err != nil {
		return nil, fail(err)
	}
	legacy, err := c.legacyAttempts(ctx, ops, pk, limit)
	if err != nil {
		return nil, fail(err)
	}
	byRef := make(map[attemptRef]connections.Attempt, len(legacy)+len(packed))
	stored := map[attemptRef]bool{} // read already: not to be fetched
	for _, a := range slices.Concat(legacy, packed) {
		r := refOf(a)
		if !stored[r] {
			refs = append(refs, r)
		}
		stored[r] = true
		byRef[r] = a
	}
	slices.SortFunc(refs, newer)
	refs = slices.Compact(refs)
	refs = refs[:min(limit, len(refs))]
	var keys []map[string]types.AttributeValue
	for _, r := range refs {
		if !stored[r] {
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

// packedAttempts reads a partition's packed items newest first until limit
// of the attempts they hold are known to be the newest, and returns every
// attempt of the items read.
func (c *Connections) packedAttempts(ctx context.Context, ops *string, pk string, limit int) ([]connections.Attempt, error) {
	in := &dynamodb.QueryInput{
		TableName:              ops,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(pk), ":p": avS(skPackP),
		},
		ScanIndexForward: aws.Bool(false),
		ConsistentRead:   aws.Bool(true),
		Limit:            aws.Int32(int32(min(limit, maxQueryPage))),
	}
	var out []connections.Attempt
	for {
		page, err := c.API.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			top, atts, err := decodePack(it)
			if err != nil {
				return nil, err
			}
			out = append(out, atts...)
			// Every packed item not read yet is no later than top, and
			// neither is any attempt it holds: those later than top are
			// the newest (one at top may tie with one not read yet).
			settled := 0
			for _, a := range out {
				if a.Time > top {
					settled++
				}
			}
			if settled >= limit {
				return out, nil
			}
		}
		if page.LastEvaluatedKey == nil {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// decodePack reads a packed item: its time and its attempts.
func decodePack(it map[string]types.AttributeValue) (int64, []connections.Attempt, error) {
	sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
	if sk == nil {
		return 0, nil, errors.New("a packed item without its sort key")
	}
	top, ok := packTime(sk.Value)
	if !ok {
		return 0, nil, fmt.Errorf("packed item %q: no time in its key", sk.Value)
	}
	b, _ := it[attrAtts].(*types.AttributeValueMemberB)
	if b == nil {
		return 0, nil, fmt.Errorf("packed item %q: no attempts", sk.Value)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b.Value))
	if err != nil {
		return 0, nil, fmt.Errorf("packed item %q: %w", sk.Value, err)
	}
	var atts []connections.Attempt
	if err := json.NewDecoder(zr).Decode(&atts); err != nil {
		return 0, nil, fmt.Errorf("packed item %q: unmarshal: %w", sk.Value, err)
	}
	return top, atts, nil
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
// (ActivityTTL) and within the newest maxFindPages pages of the
// connection's packed items: a strongly consistent Query of those items
// newest first, filtered on their webhook IDs and projected to their keys,
// which stops at the first that holds the delivery (one page when its
// latest attempt is recent), then one GetItem of that item. Attempts of the
// previous layouts are found as before (one Query; through GSI1, eventually
// consistent, for the oldest). An apperr.KindNotFound if none is logged.
func (c *Connections) FindAttempt(ctx context.Context, tenantID, connectionID, webhookID string) (connections.Attempt, error) {
	ops, err := c.ops()
	if err != nil {
		return connections.Attempt{}, err
	}
	notFound := apperr.NotFound("Delivery", webhookID)
	if webhookID == "" {
		return connections.Attempt{}, notFound
	}
	pk := attemptPK(tenantID, connectionID)
	a, found, err := c.findPacked(ctx, ops, pk, webhookID)
	if err != nil {
		return connections.Attempt{}, fmt.Errorf("find attempt of %s: %w", webhookID, err)
	}
	if found {
		return a, nil
	}
	page, err := c.API.Query(ctx, &dynamodb.QueryInput{
		TableName:              ops,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(pk), ":p": avS(skWebhookP + webhookID + "#"),
		},
		ScanIndexForward: aws.Bool(false),
		ConsistentRead:   aws.Bool(true),
		Limit:            aws.Int32(1),
	})
	if err != nil {
		return connections.Attempt{}, fmt.Errorf("find attempt of %s: %w", webhookID, err)
	}
	if len(page.Items) == 1 {
		if p, ok := page.Items[0][attrPack].(*types.AttributeValueMemberS); ok {
			a, found, err := c.fromPointer(ctx, ops, pk, p.Value, page.Items[0], webhookID)
			if err != nil {
				return connections.Attempt{}, fmt.Errorf("find attempt of %s: %w", webhookID, err)
			}
			if found {
				return a, nil
			}
		} else {
			var a connections.Attempt
			if err := attributevalue.UnmarshalMap(page.Items[0], &a); err != nil {
				return connections.Attempt{}, fmt.Errorf("find attempt of %s: unmarshal: %w", webhookID, err)
			}
			// A webhook ID holding "#" could name the prefix of another's keys.
			if a.WebhookID == webhookID {
				return a, nil
			}
		}
	}
	return c.findLegacyAttempt(ctx, ops, tenantID, connectionID, webhookID, notFound)
}

// fromPointer reads the attempt a pointer item names (see pointerItems)
// from its packed item; found is false when the item is gone (expired) or
// the pointer names another delivery (a webhook ID holding "#" can be the
// prefix of another's keys).
func (c *Connections) fromPointer(ctx context.Context, ops *string, pk, packSK string, ptr map[string]types.AttributeValue, webhookID string) (connections.Attempt, bool, error) {
	sk, _ := ptr[AttrSK].(*types.AttributeValueMemberS)
	if sk == nil {
		return connections.Attempt{}, false, errors.New("a pointer item without its sort key")
	}
	res, err := c.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: ops, Key: key(pk, packSK), ConsistentRead: aws.Bool(true)})
	if err != nil || len(res.Item) == 0 {
		return connections.Attempt{}, false, err
	}
	_, atts, err := decodePack(res.Item)
	if err != nil {
		return connections.Attempt{}, false, err
	}
	for _, a := range atts {
		if a.WebhookID == webhookID && attemptSK(a) == sk.Value {
			return a, true, nil
		}
	}
	return connections.Attempt{}, false, nil
}

// findPacked finds the latest attempt of a delivery in a partition's packed
// items (see FindAttempt).
func (c *Connections) findPacked(ctx context.Context, ops *string, pk, webhookID string) (connections.Attempt, bool, error) {
	in := &dynamodb.QueryInput{
		TableName:                ops,
		KeyConditionExpression:   aws.String("PK = :pk AND begins_with(SK, :p)"),
		FilterExpression:         aws.String("contains(#w, :w)"),
		ProjectionExpression:     aws.String("#sk"),
		ExpressionAttributeNames: map[string]string{"#w": attrWids, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(pk), ":p": avS(skPackP), ":w": avS(webhookID),
		},
		ScanIndexForward: aws.Bool(false),
		ConsistentRead:   aws.Bool(true),
	}
	var (
		best  connections.Attempt
		found bool
	)
	for range maxFindPages {
		page, err := c.API.Query(ctx, in)
		if err != nil {
			return best, false, err
		}
		for _, k := range page.Items {
			sk, _ := k[AttrSK].(*types.AttributeValueMemberS)
			if sk == nil {
				return best, false, errors.New("a packed item without its sort key")
			}
			top, ok := packTime(sk.Value)
			if !ok {
				return best, false, fmt.Errorf("packed item %q: no time in its key", sk.Value)
			}
			// Items are read newest first, and none holds an attempt later
			// than its time: once an item's time is not after the attempt
			// found, no later attempt of the delivery is left.
			if found && top <= best.Time {
				return best, true, nil
			}
			res, err := c.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: ops, Key: key(pk, sk.Value), ConsistentRead: aws.Bool(true)})
			if err != nil {
				return best, false, err
			}
			if len(res.Item) == 0 {
				continue // expired and swept meanwhile
			}
			_, atts, err := decodePack(res.Item)
			if err != nil {
				return best, false, err
			}
			for _, a := range atts {
				if a.WebhookID == webhookID && (!found || newer(refOf(a), refOf(best)) < 0) {
					best, found = a, true
				}
			}
		}
		if page.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return best, found, nil
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
