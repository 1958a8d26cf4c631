package ddbstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/scheduler"
)

// DueItem is the transactional put of a due item on the operations table
// (opsTable), for a store that schedules work together with its own write.
func DueItem(opsTable string, d scheduler.Due) types.TransactWriteItem {
	pk, sk := scheduler.Keys(d)
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(opsTable), Item: dueAttrs(pk, sk, scheduler.Item{Due: d}),
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	}}
}

// DueDone is the transactional delete of a due item being released (its
// handler's own write consumes it: scheduler.MarkCompleted), on the
// operations table; one already gone is no failure.
func DueDone(opsTable string, d scheduler.Due) types.TransactWriteItem {
	pk, sk := scheduler.Keys(d)
	return types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(opsTable), Key: key(pk, sk)}}
}

// The scheduler's own items on the operations table (schema.go).
const (
	dueCursorPK = scheduler.KeyPrefix + "CURSOR"
	dueCursorSK = "CURSOR"
	dueDeadPK   = scheduler.KeyPrefix + "DEAD"
)

// dueAttrs is the item of it under pk, sk.
func dueAttrs(pk, sk string, it scheduler.Item) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{
		AttrPK: avS(pk), AttrSK: avS(sk),
		"kind": avS(it.Kind), "tenant": avS(it.TenantID), "ref": avS(it.Ref),
		"at": avN(it.At.UnixMilli()),
	}
	if len(it.Payload) > 0 {
		m["payload"] = &types.AttributeValueMemberB{Value: it.Payload}
	}
	if it.Attempts > 0 {
		m["attempts"] = avN(int64(it.Attempts))
	}
	if it.LastError != "" {
		m["error"] = avS(it.LastError)
	}
	if !it.DeadAt.IsZero() {
		m["dead_at"] = avN(it.DeadAt.UnixMilli())
	}
	return m
}

// decodeDue reads a due item's attributes.
func decodeDue(m map[string]types.AttributeValue) (scheduler.Item, error) {
	var it scheduler.Item
	str := func(name string) string {
		if v, ok := m[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	num := func(name string) (int64, error) {
		v, ok := m[name].(*types.AttributeValueMemberN)
		if !ok {
			return 0, nil
		}
		return strconv.ParseInt(v.Value, 10, 64)
	}
	it.Kind, it.TenantID, it.Ref, it.LastError = str("kind"), str("tenant"), str("ref"), str("error")
	at, err := num("at")
	if err != nil {
		return it, fmt.Errorf("due item %s: at: %w", str(AttrSK), err)
	}
	it.At = time.UnixMilli(at).UTC()
	n, err := num("attempts")
	if err != nil {
		return it, fmt.Errorf("due item %s: attempts: %w", str(AttrSK), err)
	}
	it.Attempts = int(n)
	if d, _ := num("dead_at"); d > 0 {
		it.DeadAt = time.UnixMilli(d).UTC()
	}
	if b, ok := m["payload"].(*types.AttributeValueMemberB); ok {
		it.Payload = b.Value
	}
	return it, nil
}

// DueStore keeps the scheduler's due items, its cursor and its dead items
// on the operations table (scheduler.Store).
type DueStore struct {
	API      API
	OpsTable string
}

var _ scheduler.Store = (*DueStore)(nil)

// Put schedules d; the same due item put again is no error.
func (s *DueStore) Put(ctx context.Context, d scheduler.Due) error {
	put := DueItem(s.OpsTable, d).Put
	_, err := s.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.TableName, Item: put.Item, ConditionExpression: put.ConditionExpression})
	if err != nil && !isConditionFailure(err) {
		return fmt.Errorf("schedule %s %s: %w", d.Kind, d.Ref, err)
	}
	return nil
}

// Cursor reads the first minute not known to be drained.
func (s *DueStore) Cursor(ctx context.Context) (time.Time, bool, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.OpsTable), Key: key(dueCursorPK, dueCursorSK), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return time.Time{}, false, err
	}
	v, ok := out.Item["minute"].(*types.AttributeValueMemberN)
	if !ok {
		return time.Time{}, false, nil
	}
	sec, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("scheduler cursor: %w", err)
	}
	return time.Unix(sec, 0).UTC(), true, nil
}

// SaveCursor moves the cursor forward to minute; a cursor already at or
// past it is left as it is.
func (s *DueStore) SaveCursor(ctx context.Context, minute time.Time) error {
	_, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.OpsTable),
		Key:                      key(dueCursorPK, dueCursorSK),
		UpdateExpression:         aws.String("SET #m = :m"),
		ConditionExpression:      aws.String("attribute_not_exists(#m) OR #m < :m"),
		ExpressionAttributeNames: map[string]string{"#m": "minute"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":m": avN(minute.Unix()),
		},
	})
	if err != nil && !isConditionFailure(err) {
		return err
	}
	return nil
}

// DueIn lists minute's items due at or before now, from all its shards
// (read at once), oldest first, at most limit: each shard's oldest, up to
// its share of limit (a shard with more reports more; the next call reads
// on). A shard is not read past its share: under a backlog every shard
// has limit items due, and reading them all to keep a tenth would read
// ten times what is released.
func (s *DueStore) DueIn(ctx context.Context, minute, now time.Time, limit int) ([]scheduler.Item, bool, error) {
	if limit <= 0 {
		return nil, true, nil
	}
	prefix := scheduler.KeyPrefix + minute.UTC().Format("2006-01-02T15:04") + "#"
	upTo := fmt.Sprintf("%013d", now.UnixMilli()+1) // SKs before it: at ≤ now
	type shard struct {
		items []map[string]types.AttributeValue
		more  bool
		err   error
	}
	shards := make([]shard, scheduler.Shards)
	per := (limit + scheduler.Shards - 1) / scheduler.Shards
	var wg sync.WaitGroup
	for i := range shards {
		wg.Go(func() {
			out, err := s.API.Query(ctx, &dynamodb.QueryInput{
				TableName:                 aws.String(s.OpsTable),
				KeyConditionExpression:    aws.String("PK = :pk AND SK < :upto"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(prefix + strconv.Itoa(i)), ":upto": avS(upTo)},
				ConsistentRead:            aws.Bool(true),
				Limit:                     aws.Int32(int32(min(per, 1000))),
			})
			if err != nil {
				shards[i].err = err
				return
			}
			shards[i].items, shards[i].more = out.Items, len(out.LastEvaluatedKey) > 0
		})
	}
	wg.Wait()
	var raw []map[string]types.AttributeValue
	more := false
	for _, sh := range shards {
		if sh.err != nil {
			return nil, false, sh.err
		}
		raw = append(raw, sh.items...)
		more = more || sh.more
	}
	slices.SortFunc(raw, func(a, b map[string]types.AttributeValue) int {
		return cmpS(a[AttrSK], b[AttrSK])
	})
	if len(raw) > limit {
		raw, more = raw[:limit], true
	}
	items := make([]scheduler.Item, 0, len(raw))
	for _, m := range raw {
		it, err := decodeDue(m)
		if err != nil {
			return nil, false, err
		}
		items = append(items, it)
	}
	return items, more, nil
}

func cmpS(a, b types.AttributeValue) int {
	x, _ := a.(*types.AttributeValueMemberS)
	y, _ := b.(*types.AttributeValueMemberS)
	if x == nil || y == nil {
		return 0
	}
	switch {
	case x.Value < y.Value:
		return -1
	case x.Value > y.Value:
		return 1
	}
	return 0
}

// deleteDue is the delete of it, on condition that it is still there.
func (s *DueStore) deleteDue(it scheduler.Item) *types.Delete {
	pk, sk := scheduler.Keys(it.Due)
	return &types.Delete{TableName: aws.String(s.OpsTable), Key: key(pk, sk), ConditionExpression: aws.String("attribute_exists(PK)")}
}

// Complete deletes it; one already gone is no error.
func (s *DueStore) Complete(ctx context.Context, it scheduler.Item) error {
	d := s.deleteDue(it)
	_, err := s.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: d.TableName, Key: d.Key, ConditionExpression: d.ConditionExpression})
	if err != nil && !isConditionFailure(err) {
		return err
	}
	return nil
}

// Move deletes it and puts to in one transaction; when it is gone already
// (another tick moved or completed it) nothing is written.
func (s *DueStore) Move(ctx context.Context, it, to scheduler.Item) error {
	pk, sk := scheduler.Keys(to.Due)
	return s.replace(ctx, it, dueAttrs(pk, sk, to))
}

// Bury deletes it and keeps it under DUE#DEAD (the same sort key) with
// its attempts, last error and dead_at.
func (s *DueStore) Bury(ctx context.Context, it scheduler.Item) error {
	_, sk := scheduler.Keys(it.Due)
	return s.replace(ctx, it, dueAttrs(dueDeadPK, sk, it))
}

func (s *DueStore) replace(ctx context.Context, it scheduler.Item, item map[string]types.AttributeValue) error {
	_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: s.deleteDue(it)},
		{Put: &types.Put{TableName: aws.String(s.OpsTable), Item: item}},
	}})
	if err != nil && failedCondition(err) == 0 {
		return nil // gone already
	}
	return err
}

// DeadItems lists the dead items, oldest due time first, at most limit.
func (s *DueStore) DeadItems(ctx context.Context, limit int) ([]scheduler.Item, error) {
	raw, err := queryItems(ctx, s.API, &dynamodb.QueryInput{
		TableName:                 aws.String(s.OpsTable),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(dueDeadPK)},
	}, limit)
	if err != nil {
		return nil, err
	}
	out := make([]scheduler.Item, 0, len(raw))
	for _, m := range raw {
		it, err := decodeDue(m)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}
