package ddbstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// CountBackfillStats counts what BackfillContactCounts did.
type CountBackfillStats struct {
	Counted int // contacts counted in their tenant's counter now
	Retried int // re-read because they changed meanwhile
}

// attrCountShard is the contact attribute of Contact.CountShard.
const attrCountShard = "count_shard"

// BackfillContactCounts counts the contacts that versions before the
// sharded contact counter created (counts.go) in their tenant's counter: one
// Scan of the data table for contacts without a count shard, then per
// contact one transaction that records its shard in it (count_shard, the
// version one on, so a write that read it before is refused and reads it
// again) on the condition that its version is the one read and it has no
// shard yet, and adds one to that shard of the counter. A contact is thus
// counted exactly once, however often and however concurrently it runs: it
// is idempotent and resumable, and safe while the API serves (a contact
// created meanwhile is counted by its create; one deleted meanwhile is
// skipped; one deleted after it subtracts itself). The counts are not
// conditioned on the limit: a tenant that already has more contacts than
// its limit gets its true count, and its creates are refused until it is
// below it. The version bump fires no webhook (no field changes).
//
// Each contact is counted in the shard with the most room below its share
// of MaxContacts (the fewest contacts when MaxContacts is 0), read afresh
// whenever the run's own tally says the best one is full: the shards fill
// evenly, so that a tenant the backfill brings to its limit has every shard
// at its share and its next create is refused (a create is let in by any
// shard below its share).
// progress, when set, is called after every Scan page.
func (s *Contacts) BackfillContactCounts(ctx context.Context, progress func(CountBackfillStats)) (CountBackfillStats, error) {
	var st CountBackfillStats
	tally := map[string][]int64{} // the run's view of each tenant's shards
	if s.OpsTable == "" {
		return st, errNoIndex
	}
	api, ok := s.API.(reindexAPI)
	if !ok {
		return st, fmt.Errorf("backfill contact counts: %T cannot Scan", s.API)
	}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.Table),
		FilterExpression:          aws.String("begins_with(#pk, :contact) AND begins_with(#sk, :contact) AND attribute_not_exists(#shard)"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK, "#shard": attrCountShard},
		ExpressionAttributeValues: map[string]types.AttributeValue{":contact": &types.AttributeValueMemberS{Value: skContact}},
		ConsistentRead:            aws.Bool(true),
	}
	for {
		page, err := api.Scan(ctx, in)
		if err != nil {
			return st, fmt.Errorf("backfill contact counts: scan %s: %w", s.Table, err)
		}
		for _, it := range page.Items {
			if err := s.countOld(ctx, it, tally, &st); err != nil {
				return st, err
			}
		}
		if progress != nil {
			progress(st)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return st, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// countOld counts one contact item that has no count shard, re-reading it
// (up to reindexRetries times) while it changes under the count.
func (s *Contacts) countOld(ctx context.Context, it map[string]types.AttributeValue, tally map[string][]int64, st *CountBackfillStats) error {
	pk, _ := it[AttrPK].(*types.AttributeValueMemberS)
	sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return nil
	}
	for range reindexRetries {
		if _, has := it[attrCountShard]; has || len(it) == 0 {
			return nil // counted by another run, or deleted
		}
		tenant, _ := it["tenant_id"].(*types.AttributeValueMemberS)
		id, _ := it["id"].(*types.AttributeValueMemberS)
		ver, _ := it["version"].(*types.AttributeValueMemberN)
		if tenant == nil || id == nil || ver == nil || tenant.Value == "" || id.Value == "" {
			return nil // not a contact this version can count
		}
		v, err := strconv.ParseInt(ver.Value, 10, 64)
		if err != nil {
			return fmt.Errorf("backfill contact counts: %s: version %q: %w", pk.Value, ver.Value, err)
		}
		shard, err := s.roomiest(ctx, tenant.Value, tally)
		if err != nil {
			return fmt.Errorf("backfill contact counts: %w", err)
		}
		cond, vals := versionIs(v)
		vals[":s"] = avN(int64(shard + 1))
		vals[":next"] = avN(v + 1)
		err = s.transact(ctx, []types.TransactWriteItem{
			{Update: &types.Update{
				TableName: aws.String(s.Table), Key: key(pk.Value, sk.Value),
				UpdateExpression:          aws.String("SET #shard = :s, version = :next"),
				ConditionExpression:       aws.String(*cond + " AND attribute_not_exists(#shard)"),
				ExpressionAttributeNames:  map[string]string{"#shard": attrCountShard},
				ExpressionAttributeValues: vals,
			}},
			countUpdate(s.OpsTable, tenant.Value, shard),
		})
		if err == nil {
			st.Counted++
			tally[tenant.Value][shard]++
			return nil
		}
		delete(tally, tenant.Value) // read the shards again
		if !cancelled(err) {
			return fmt.Errorf("backfill contact counts: %s: %w", pk.Value, err)
		}
		st.Retried++
		res, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(pk.Value, sk.Value), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("backfill contact counts: read %s: %w", pk.Value, err)
		}
		it = res.Item
	}
	return fmt.Errorf("backfill contact counts: contact %s changed %d times while being counted", pk.Value, reindexRetries)
}

// roomiest is the shard of the tenant's counter with the most room below
// its share (the fewest contacts without a limit), ties to the lowest; the
// shards are read when tally does not know them or says that one is full.
func (s *Contacts) roomiest(ctx context.Context, tenantID string, tally map[string][]int64) (int, error) {
	best := func(counts []int64) (int, int64) {
		b, room := 0, int64(0)
		for i, n := range counts {
			r := -n
			if s.MaxContacts > 0 {
				r += s.countShare(i)
			}
			if i == 0 || r > room {
				b, room = i, r
			}
		}
		return b, room
	}
	counts, ok := tally[tenantID]
	if ok {
		if b, room := best(counts); room > 0 || s.MaxContacts == 0 {
			return b, nil
		}
	}
	counts, err := s.contactCounts(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	if len(tally) > 100000 {
		clear(tally)
	}
	tally[tenantID] = counts
	b, _ := best(counts)
	return b, nil
}

// countUpdate adds one to a shard of the tenant's contact count, whatever
// it holds.
func countUpdate(opsTable, tenantID string, shard int) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(opsTable), Key: countKey(tenantID, shard),
		UpdateExpression:          aws.String("ADD #n :one"),
		ExpressionAttributeNames:  map[string]string{"#n": attrCount},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": avN(1)},
	}}
}

// markerCountsSK is the operations table's marker (under markerPK) that
// BackfillContactCounts ran to the end there.
const markerCountsSK = "COUNTS#contacts"

// BackfillContactCountsOnce runs BackfillContactCounts unless the
// operations table's marker says it already completed, and sets the marker
// when it completes. It reports whether it ran.
func (s *Contacts) BackfillContactCountsOnce(ctx context.Context, progress func(CountBackfillStats)) (bool, CountBackfillStats, error) {
	return runOnce(ctx, s.API, s.OpsTable, markerCountsSK, "backfill contact counts", func() (CountBackfillStats, error) { return s.BackfillContactCounts(ctx, progress) })
}
