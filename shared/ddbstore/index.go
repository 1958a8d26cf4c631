package ddbstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
)

// The search index, sharded (see schema.go for the keys).
//
// Every value's entries are spread over IndexShards index partitions by a
// hash of the contact ID, whether the value is held by one contact or by
// all of them: a contact's shard never changes, no value has to be
// promoted (and migrated) when it becomes common, and a bulk import of
// contacts that share one value writes each partition at 1/IndexShards of
// its rate (DynamoDB takes about 1,000 writes a second per partition).
//
// Beside the entries, each (tenant, field, value, shard) has a count item:
// attribute n counts the tenant's entries in that shard, attribute
// "c:<channelId>" those of one channel. Each entry is put or deleted in the
// same transaction as the ADD of +1 or -1 to its shard's count, conditioned
// on the entry being absent (put) or present (delete), so a count always
// equals the number of entries of its shard, and a search's total is the
// sum of IndexShards counts read with one BatchGetItem instead of a pass
// over the matches. The count items are spread the same way as the
// entries, so neither becomes a hot key.
//
// A search reads the counts and the first page of every shard at once, in
// one round trip (a shard with no entries costs one empty Query, the
// least DynamoDB bills), and merges the pages in (created_at, ID) order.

// IndexShards is the number of index partitions per value (and of count
// items). Changing it moves every entry: it is a constant of the layout.
//
// 8 takes a value's writes to 8,000 a second (a bulk import of 4,000
// contacts a second that share one value loads each partition to about
// half of DynamoDB's 1,000), while every search makes 8 Queries, in
// parallel: more shards would take more writes and make every search
// wider.
const IndexShards = 8

// shardCount is the number of shards this store writes and reads:
// IndexShards unless a test set another.
func (s *Contacts) shardCount() int {
	if s.shards > 0 {
		return s.shards
	}
	return IndexShards
}

// shardOf is the shard of a contact's entries: FNV-1a of its ID.
func shardOf(contactID string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(contactID))
	return int(h.Sum32() % uint32(n))
}

// shardTag starts the keys of a shard's entries ("~" never starts a tenant
// ID, so these keys never meet the unsharded layout's IDX#<t>#…).
func shardTag(shard int) string { return fmt.Sprintf("~%02d", shard) }

// shardPK is the partition of one shard of one value of one field in one
// channel.
func shardPK(shard int, tenantID, channelID, fieldKey, valueKey string) string {
	return "IDX#" + shardTag(shard) + "#" + tenantID + "#" + channelID + "#" + fieldKey + "#" + indexValue(valueKey)
}

// shardGSI1PK is the GSI1 partition of one shard of one value tenant-wide.
func shardGSI1PK(shard int, tenantID, fieldKey, valueKey string) string {
	return "IDX#" + shardTag(shard) + "#" + tenantID + "#*#" + fieldKey + "#" + indexValue(valueKey)
}

// countPK is the partition of the count item of one shard of one value.
func countPK(shard int, tenantID, fieldKey, valueKey string) string {
	return fmt.Sprintf("IDX#=%02d#%s#%s#%s", shard, tenantID, fieldKey, indexValue(valueKey))
}

// Count items: sort key, tenant-wide attribute, channel attribute prefix.
const (
	skCount          = "N"
	attrCountTenant  = "n"
	attrCountChannel = "c:"
)

// term is one (field key, value key) a contact can be found by.
type term struct{ field, value string }

// termsOf lists c's search terms in a stable order.
func termsOf(c contacts.Contact) []term {
	m := contacts.SearchTerms(c)
	out := make([]term, 0, len(m))
	for _, f := range slices.Sorted(maps.Keys(m)) {
		out = append(out, term{f, m[f]})
	}
	return out
}

// termsDiff is what an update removes and adds: the terms of prev that
// next no longer has with the same value, and those of next that prev had
// not.
func termsDiff(prev, next contacts.Contact) (removed, added []term) {
	p, n := contacts.SearchTerms(prev), contacts.SearchTerms(next)
	for _, f := range slices.Sorted(maps.Keys(p)) {
		if v, ok := n[f]; !ok || v != p[f] {
			removed = append(removed, term{f, p[f]})
		}
	}
	for _, f := range slices.Sorted(maps.Keys(n)) {
		if v, ok := p[f]; !ok || v != n[f] {
			added = append(added, term{f, n[f]})
		}
	}
	return removed, added
}

// actionsPerTerm is what one term's move costs in a transaction: the entry
// and its count.
const actionsPerTerm = 2

// termActions are the transaction actions that add (or remove) c's entry
// of t: the entry's Put (Delete) conditioned on its absence (presence), and
// the ADD of +1 (-1) to its shard's count, tenant-wide and for c's channel.
func (s *Contacts) termActions(c contacts.Contact, t term, add bool) []types.TransactWriteItem {
	shard := shardOf(c.ID, s.shardCount())
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	pk, sk := shardPK(shard, c.TenantID, c.ChannelID, t.field, t.value), indexSK(c.CreatedAt, c.ID)
	var entry types.TransactWriteItem
	delta := "1"
	if add {
		entry.Put = &types.Put{
			TableName: aws.String(s.OpsTable),
			Item: map[string]types.AttributeValue{
				AttrPK: str(pk), AttrSK: str(sk),
				AttrGSI1PK: str(shardGSI1PK(shard, c.TenantID, t.field, t.value)), AttrGSI1SK: str(sk),
			},
			ConditionExpression: aws.String("attribute_not_exists(PK)"),
		}
	} else {
		delta = "-1"
		entry.Delete = &types.Delete{
			TableName: aws.String(s.OpsTable), Key: key(pk, sk),
			ConditionExpression: aws.String("attribute_exists(PK)"),
		}
	}
	count := types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(s.OpsTable),
		Key:                       key(countPK(shard, c.TenantID, t.field, t.value), skCount),
		UpdateExpression:          aws.String("ADD #n :d, #c :d"),
		ExpressionAttributeNames:  map[string]string{"#n": attrCountTenant, "#c": attrCountChannel + c.ChannelID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberN{Value: delta}},
	}}
	return []types.TransactWriteItem{entry, count}
}

// termsActions is termActions of every term, in order.
func (s *Contacts) termsActions(c contacts.Contact, ts []term, add bool) []types.TransactWriteItem {
	var out []types.TransactWriteItem
	for _, t := range ts {
		out = append(out, s.termActions(c, t, add)...)
	}
	return out
}

// errIndexOutOfStep means a contact write found one of its entries not as
// the contact's previous version implies (an entry to delete absent, or one
// to put present): the contact was written before the index was sharded
// and not migrated yet. The write repairs the contact's entries and tries
// again once.
var errIndexOutOfStep = errors.New("search index out of step with the contact")

// conditionFailures lists the indexes of the actions whose condition
// failed in a cancelled transaction (none if err is not one).
func conditionFailures(err error) []int {
	var tce *types.TransactionCanceledException
	var out []int
	if errors.As(err, &tce) {
		for i, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				out = append(out, i)
			}
		}
	}
	return out
}

// indexFailed reports whether a cancelled transaction failed on a
// condition of an index entry (an action at or after firstTerm whose
// offset from it is a multiple of actionsPerTerm) and on nothing before.
func indexFailed(err error, firstTerm int) bool {
	fs := conditionFailures(err)
	if len(fs) == 0 {
		return false
	}
	for _, i := range fs {
		if i < firstTerm || (i-firstTerm)%actionsPerTerm != 0 {
			return false
		}
	}
	return true
}

// repairTerms puts the entries (and counts) of c's terms that are missing
// on the sharded index, as the contact's version v is: a transaction per
// chunk, each conditioned on the contact's version and on every entry's
// absence; entries that are there already are left out and the chunk is
// tried again. It also deletes c's entries of the unsharded layout, when
// there are (old is then true). It returns the number of entries put, and
// errVersionMoved when the contact is no longer at version v.
func (s *Contacts) repairTerms(ctx context.Context, c contacts.Contact, old bool) (int, error) {
	ts := termsOf(c)
	put := 0
	// Each chunk: the version check, then per term its two actions and,
	// for the old layout, the old entry's delete.
	per := actionsPerTerm
	if old {
		per++
	}
	chunk := (MaxTransactItems - 1) / per
	for start := 0; start < len(ts); start += chunk {
		part := ts[start:min(start+chunk, len(ts))]
		for attempt := 0; len(part) > 0; attempt++ {
			if attempt > len(ts) {
				return put, fmt.Errorf("repair index of contact %s: entries keep changing", c.ID)
			}
			items := []types.TransactWriteItem{s.versionCheck(c)}
			for _, t := range part {
				items = append(items, s.termActions(c, t, true)...)
				if old {
					items = append(items, types.TransactWriteItem{Delete: &types.Delete{
						TableName: aws.String(s.OpsTable), Key: key(indexPK(c.TenantID, c.ChannelID, t.field, t.value), indexSK(c.CreatedAt, c.ID)),
					}})
				}
			}
			err := s.transact(ctx, items)
			if err == nil {
				put += len(part)
				break
			}
			fs := conditionFailures(err)
			if len(fs) == 0 {
				if cancelled(err) {
					continue // a concurrent transaction: try again
				}
				return put, fmt.Errorf("repair index of contact %s: %w", c.ID, err)
			}
			if fs[0] == 0 {
				return put, errVersionMoved
			}
			// Leave out the terms whose entry is there.
			there := map[int]bool{}
			for _, i := range fs {
				there[(i-1)/per] = true
			}
			var rest []term
			for i, t := range part {
				if !there[i] {
					rest = append(rest, t)
				} else if old {
					// Its old entry still goes.
					if _, err := s.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.OpsTable),
						Key: key(indexPK(c.TenantID, c.ChannelID, t.field, t.value), indexSK(c.CreatedAt, c.ID))}); err != nil {
						return put, fmt.Errorf("repair index of contact %s: %w", c.ID, err)
					}
				}
			}
			part = rest
		}
	}
	return put, nil
}

// errVersionMoved means the contact changed while its entries were being
// repaired or migrated.
var errVersionMoved = errors.New("contact changed meanwhile")

// shardCounts reads the count items of a search's value: one strongly
// consistent BatchGetItem of every shard's count (the tenant's, or one
// channel's). counts[i] is shard i's.
func (s *Contacts) shardCounts(ctx context.Context, q contacts.Query) ([]int, error) {
	n := s.shardCount()
	attr := attrCountTenant
	if q.ChannelID != "" {
		attr = attrCountChannel + q.ChannelID
	}
	keys := make([]map[string]types.AttributeValue, n)
	for i := range n {
		keys[i] = key(countPK(i, q.TenantID, q.FieldKey, q.ValueKey), skCount)
	}
	counts := make([]int, n)
	req := map[string]types.KeysAndAttributes{s.OpsTable: {Keys: keys}}
	byPK := map[string]int{}
	for i := range n {
		byPK[countPK(i, q.TenantID, q.FieldKey, q.ValueKey)] = i
	}
	left := n
	for try := 0; len(req) > 0; try++ {
		if try > 0 {
			if try > batchRetries {
				return nil, fmt.Errorf("search counts: keys still unprocessed after %d retries", batchRetries)
			}
			if err := sleep(ctx, batchBackoff(try)); err != nil {
				return nil, fmt.Errorf("search counts: %w", err)
			}
		}
		for t, ka := range req {
			ka.ConsistentRead = aws.Bool(true)
			ka.ProjectionExpression = aws.String("#pk, #v")
			ka.ExpressionAttributeNames = map[string]string{"#pk": AttrPK, "#v": attr}
			req[t] = ka
		}
		out, err := s.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("search counts: %w", err)
		}
		for _, it := range out.Responses[s.OpsTable] {
			pk, _ := it[AttrPK].(*types.AttributeValueMemberS)
			v, _ := it[attr].(*types.AttributeValueMemberN)
			if pk == nil || v == nil {
				continue
			}
			if i, ok := byPK[pk.Value]; ok {
				if c, err := strconv.Atoi(v.Value); err == nil && c > 0 {
					counts[i] = c
				}
			}
		}
		req = out.UnprocessedKeys
		if now := len(req[s.OpsTable].Keys); now < left {
			left, try = now, 0 // progress: the retries start again
		}
	}
	return counts, nil
}

// shardQuery is the Query of one shard of a search's value.
func (s *Contacts) shardQuery(q contacts.Query, shard int) dynamodb.QueryInput {
	in := dynamodb.QueryInput{
		TableName: aws.String(s.OpsTable),
		Select:    types.SelectSpecificAttributes,
		// The sort key holds the contact ID, the partition key its channel
		// (entryRef); GSI1 projects the table's keys.
		ProjectionExpression: aws.String(AttrPK + ", " + AttrSK),
	}
	if q.ChannelID != "" {
		in.KeyConditionExpression = aws.String(AttrPK + " = :pk")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: shardPK(shard, q.TenantID, q.ChannelID, q.FieldKey, q.ValueKey)}}
		in.ConsistentRead = aws.Bool(true)
		return in
	}
	in.IndexName = aws.String(GSI1)
	in.KeyConditionExpression = aws.String(AttrGSI1PK + " = :pk")
	in.ExpressionAttributeValues = map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: shardGSI1PK(shard, q.TenantID, q.FieldKey, q.ValueKey)}}
	return in
}

// indexHit is an entry a shard Query read: its sort key (the merge's
// order) and the contact it points to.
type indexHit struct {
	sk  string
	ref contactRef
}

// shardCursor is a position in one shard: the sort keys read and not yet
// merged, and where its next Query starts.
type shardCursor struct {
	in   dynamodb.QueryInput
	buf  []indexHit // in sort key order
	next map[string]types.AttributeValue
	left int // entries not read yet, by the shard's count
	done bool
}

// fill reads the shard's next page of up to n entries.
func (c *shardCursor) fill(ctx context.Context, api API, n int) error {
	in := c.in
	in.ExclusiveStartKey = c.next
	in.Limit = aws.Int32(int32(min(max(n, 1), c.left, maxShardPage)))
	out, err := api.Query(ctx, &in)
	if err != nil {
		return fmt.Errorf("search index: %w", err)
	}
	for _, it := range out.Items {
		sk, ok := it[AttrSK].(*types.AttributeValueMemberS)
		ref, rok := entryRef(it)
		if ok && rok {
			c.buf = append(c.buf, indexHit{sk: sk.Value, ref: ref})
		}
	}
	c.next = out.LastEvaluatedKey
	c.left -= len(out.Items)
	// A shard whose count is read is done: a Query that stops at its
	// Limit has a LastEvaluatedKey even when nothing follows. (A
	// tenant-wide search reads GSI1, eventually consistent: should it
	// have fewer entries than counted, the shard ends with its last page.)
	c.done = len(c.next) == 0 || c.left <= 0
	return nil
}

// maxShardPage bounds one shard Query's Limit.
const maxShardPage = 1000

// mergeShards returns the contact IDs of the entries [offset, offset+limit)
// of the union of the shards in sort key order, and the shards' counts.
// The counts (one BatchGetItem) and the first page of every shard (its
// expected share of offset+limit with room for the hash's unevenness) are
// read all at once, in one round trip: a shard that the counts show has no
// more entries is not read again, and one whose page runs out before the
// merge is done is read again.
func (s *Contacts) mergeShards(ctx context.Context, q contacts.Query) ([]contactRef, []int, error) {
	need := q.Offset + q.Limit
	n := s.shardCount()
	exp := float64(need) / float64(n)
	size := int(exp+2*math.Sqrt(exp)) + 3
	cur := make([]*shardCursor, n)
	for i := range n {
		cur[i] = &shardCursor{in: s.shardQuery(q, i), left: math.MaxInt32}
	}
	var counts []int
	var cerr error
	countsRead := make(chan struct{})
	go func() {
		defer close(countsRead)
		counts, cerr = s.shardCounts(ctx, q)
	}()
	ferr := parallelFill(ctx, s.API, cur, size)
	<-countsRead
	if err := errors.Join(cerr, ferr); err != nil {
		return nil, nil, err
	}
	total := 0
	for i, c := range cur {
		total += counts[i]
		c.left = counts[i] - len(c.buf)
		c.done = c.done || c.left <= 0
	}
	var ids []contactRef
	for pos := 0; pos < min(need, total); pos++ {
		best := -1
		for i, c := range cur {
			if len(c.buf) == 0 && !c.done {
				if err := c.fill(ctx, s.API, size); err != nil {
					return nil, nil, err
				}
			}
			if len(c.buf) > 0 && (best < 0 || c.buf[0].sk < cur[best].buf[0].sk) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		hit := cur[best].buf[0]
		cur[best].buf = cur[best].buf[1:]
		if pos >= q.Offset {
			ids = append(ids, hit.ref)
		}
	}
	return ids, counts, nil
}

// maxParallelQueries bounds the shard Queries a search has in flight: the
// SDK's HTTP client keeps 10 idle connections per host, and every request
// beyond what it keeps would dial a new one (and close it after).
const maxParallelQueries = IndexShards

// parallelFill reads the first page (of size entries) of every cursor, up
// to maxParallelQueries at once.
func parallelFill(ctx context.Context, api API, cur []*shardCursor, size int) error {
	if len(cur) == 1 {
		return cur[0].fill(ctx, api, size)
	}
	errs := make([]error, len(cur))
	var wg sync.WaitGroup
	var next atomic.Int32
	for range min(len(cur), maxParallelQueries) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(cur); i = int(next.Add(1) - 1) {
				errs[i] = cur[i].fill(ctx, api, size)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// searchSharded is Search on the sharded index: the counts and the shards
// at once, merged.
func (s *Contacts) searchSharded(ctx context.Context, q contacts.Query) (contacts.Page, error) {
	var ids []contactRef
	var counts []int
	var err error
	if q.Limit > 0 {
		ids, counts, err = s.mergeShards(ctx, q)
	} else {
		counts, err = s.shardCounts(ctx, q)
	}
	if err != nil {
		return contacts.Page{}, err
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	cs, err := s.getContacts(ctx, q.TenantID, ids)
	if err == nil && len(cs) < len(ids) {
		cs, err = s.withLegacy(ctx, q.TenantID, ids, cs)
	}
	if err != nil {
		return contacts.Page{}, err
	}
	return contacts.Page{Contacts: cs, Total: total}, nil
}

// versionCheck is the transaction action that c is still at its version.
func (s *Contacts) versionCheck(c contacts.Contact) types.TransactWriteItem {
	cond, vals := versionIs(c.Version)
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(s.Table), Key: storedKey(c),
		ConditionExpression: cond, ExpressionAttributeValues: vals,
	}}
}

// indexedWrite runs a contact write, head (the contact's own action,
// conditioned on prev's version, and its Once mark), with the moves of its
// entries: the removed terms of prev and the added ones of next (nil for a
// delete).
//
// When everything fits in one transaction it is one. Otherwise the
// removals go first, in transactions of their own conditioned on prev's
// version, and the write with the additions last (a contact write moves at
// most contacts.MaxFieldsPerWrite values, so the additions fit beside it);
// should the last fail, the removed entries are put back (repairTerms).
// Either way every count stays equal to its entries.
//
// When an entry is not as prev implies (prev predates the sharded index
// and Reindex has not reached it yet), prev's entries are repaired and the
// write is tried once more.
func (s *Contacts) indexedWrite(ctx context.Context, prev contacts.Contact, next *contacts.Contact, head []types.TransactWriteItem, removed, added []term) error {
	err := s.indexedTry(ctx, prev, next, head, removed, added)
	if !errors.Is(err, errIndexOutOfStep) {
		return err
	}
	if _, rerr := s.repairTerms(ctx, prev, true); errors.Is(rerr, errVersionMoved) {
		return apperr.Conflict("contact")
	} else if rerr != nil {
		return rerr
	}
	return s.indexedTry(ctx, prev, next, head, removed, added)
}

// indexedTry is one attempt of indexedWrite.
func (s *Contacts) indexedTry(ctx context.Context, prev contacts.Contact, next *contacts.Contact, head []types.TransactWriteItem, removed, added []term) error {
	outOfStep := func(err error, first int) error {
		if indexFailed(err, first) {
			return fmt.Errorf("%w: contact %s: %s", errIndexOutOfStep, prev.ID, err.Error())
		}
		return err
	}
	fits := func(rm []term) bool {
		return len(head)+actionsPerTerm*(len(rm)+len(added)) <= MaxTransactItems
	}
	if len(head)+actionsPerTerm*len(added) > MaxTransactItems {
		return fmt.Errorf("%w (%d needed)", ErrTooManyActions, len(head)+actionsPerTerm*(len(removed)+len(added)))
	}
	rm, early := removed, false
	for !fits(rm) && len(rm) > 0 {
		part := rm[:min(len(rm), (MaxTransactItems-1)/actionsPerTerm)]
		items := append([]types.TransactWriteItem{s.versionCheck(prev)}, s.termsActions(prev, part, false)...)
		if err := s.transact(ctx, items); err != nil {
			return outOfStep(err, 1)
		}
		rm, early = rm[len(part):], true
	}
	items := slices.Clone(head)
	items = append(items, s.termsActions(prev, rm, false)...)
	if next != nil {
		items = append(items, s.termsActions(*next, added, true)...)
	}
	err := s.transact(ctx, items)
	if err != nil && early {
		// Put back what went first; if prev has changed meanwhile, the
		// writer that changed it repairs it (its removals find entries
		// missing).
		if _, rerr := s.repairTerms(ctx, prev, false); rerr != nil && !errors.Is(rerr, errVersionMoved) {
			return errors.Join(err, rerr)
		}
	}
	if err != nil {
		return outOfStep(err, len(head))
	}
	return nil
}

// conflictRetries bounds the tries of a transaction that DynamoDB cancels
// only because another one was writing one of its items at the same time.
const conflictRetries = 4

// transactRetrying runs a transaction, again (after a short wait) while
// it is cancelled for conflicts with concurrent transactions alone: the
// count items (index.go) are shared by every contact of a value's shard,
// and DynamoDB cancels a transaction that meets another one on an item. A
// cancelled transaction wrote nothing, so trying it again is safe.
func (s *Contacts) transactRetrying(ctx context.Context, items []types.TransactWriteItem) error {
	for n := 0; ; n++ {
		_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil || n+1 >= conflictRetries || !onlyConflicts(err) {
			return err
		}
		if err := sleep(ctx, time.Duration(5<<n)*time.Millisecond+time.Duration(rand.IntN(5))*time.Millisecond); err != nil {
			return err
		}
	}
}

// onlyConflicts reports a transaction cancelled for conflicts with other
// transactions and for nothing else.
func onlyConflicts(err error) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false
	}
	conflict := false
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "TransactionConflict":
			conflict = true
		case "", "None":
		default:
			return false
		}
	}
	return conflict
}
