package ddbstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
)

// ReindexStats counts what Reindex did.
type ReindexStats struct {
	Contacts int // contacts whose entries were written
	Entries  int // index entries written
	Removed  int // index items removed from the data table
	Retried  int // contacts re-read because they changed meanwhile
}

// reindexAPI is what Reindex needs beyond API: a Scan of the data table
// and batch deletes (*dynamodb.Client has both).
type reindexAPI interface {
	API
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// maxBatchWrite is DynamoDB's limit of requests in one BatchWriteItem.
const maxBatchWrite = 25

// reindexRetries bounds the re-reads of one contact that keeps changing.
const reindexRetries = 8

// Reindex rebuilds the sharded search index (index.go) on the operations
// table from the contacts of the data table: it puts each contact's
// missing entries with their counts, deletes its entries of the unsharded
// layout (IDX#<t>#<c>#<f>#<v>), and removes the index items that versions
// before the operations table kept in the data table. It is one Scan of
// the data table, idempotent and resumable (an entry that is there is
// neither written nor counted again, so a run that stopped half way is
// simply run again), and safe while the API is serving: each contact's
// entries are put in transactions conditioned on the contact's version, so
// an entry of a version that a concurrent write has replaced is never put
// back (the contact is read again and indexed as it now is), and a write
// that meets a contact not reindexed yet repairs its entries itself.
//
// Run it once after upgrading a deployment whose index predates the shards
// (`go run ./infra/reindex`); `make run` runs it when its local data
// predates them. progress, when set, is called after every Scan page.
func (s *Contacts) Reindex(ctx context.Context, progress func(ReindexStats)) (ReindexStats, error) {
	var st ReindexStats
	if s.OpsTable == "" {
		return st, errNoIndex
	}
	api, ok := s.API.(reindexAPI)
	if !ok {
		return st, fmt.Errorf("reindex: %T cannot Scan and BatchWriteItem", s.API)
	}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.Table),
		FilterExpression:          aws.String("begins_with(#pk, :contact) OR begins_with(#pk, :idx)"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":contact": &types.AttributeValueMemberS{Value: "CONTACT#"}, ":idx": &types.AttributeValueMemberS{Value: "IDX#"}},
		ConsistentRead:            aws.Bool(true),
	}
	for {
		page, err := api.Scan(ctx, in)
		if err != nil {
			return st, fmt.Errorf("reindex: scan %s: %w", s.Table, err)
		}
		var stale []map[string]types.AttributeValue
		for _, it := range page.Items {
			pk, _ := it[AttrPK].(*types.AttributeValueMemberS)
			sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
			switch {
			case pk == nil || sk == nil:
			case strings.HasPrefix(pk.Value, "IDX#"):
				stale = append(stale, key(pk.Value, sk.Value))
			case sk.Value == skContact || strings.HasPrefix(sk.Value, skContact+"#"):
				var c contacts.Contact
				if err := attributevalue.UnmarshalMap(it, &c); err != nil {
					return st, fmt.Errorf("reindex: unmarshal %s: %w", pk.Value, err)
				}
				c.LegacyKey = sk.Value == skContact && c.ChannelID != ""
				if err := s.reindexContact(ctx, c, &st); err != nil {
					return st, err
				}
			}
		}
		if err := s.deleteFromTable(ctx, api, stale); err != nil {
			return st, err
		}
		st.Removed += len(stale)
		if progress != nil {
			progress(st)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return st, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// reindexContact puts the sharded entries (and counts) of c that are
// missing, and deletes its entries of the unsharded layout, if it is still
// at c's version, reading it again (up to reindexRetries times) while it is
// not. Entries already there are left as they are (and not counted twice).
func (s *Contacts) reindexContact(ctx context.Context, c contacts.Contact, st *ReindexStats) error {
	for range reindexRetries {
		n, err := s.repairTerms(ctx, c, true)
		if err == nil {
			st.Contacts++
			st.Entries += n
			return nil
		}
		if !errors.Is(err, errVersionMoved) {
			return fmt.Errorf("reindex contact %s: %w", c.ID, err)
		}
		st.Retried++
		if c, err = s.GetContact(ctx, c.TenantID, c.ChannelID, c.ID); apperr.Is(err, apperr.KindNotFound) {
			return nil // deleted meanwhile, with its entries
		} else if err != nil {
			return fmt.Errorf("reindex: %w", err)
		}
	}
	return fmt.Errorf("reindex contact %s: it changed %d times while being indexed", c.ID, reindexRetries)
}

// deleteFromTable deletes keys from the data table, retrying unprocessed
// requests with backoff.
func (s *Contacts) deleteFromTable(ctx context.Context, api reindexAPI, keys []map[string]types.AttributeValue) error {
	for start := 0; start < len(keys); start += maxBatchWrite {
		var reqs []types.WriteRequest
		for _, k := range keys[start:min(start+maxBatchWrite, len(keys))] {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
		}
		for n := 0; len(reqs) > 0; n++ {
			if n > batchRetries {
				return fmt.Errorf("reindex: %d deletes still unprocessed after %d retries", len(reqs), batchRetries)
			}
			if n > 0 {
				if err := sleep(ctx, batchBackoff(n)); err != nil {
					return fmt.Errorf("reindex: %w", err)
				}
			}
			out, err := api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.Table: reqs}})
			if err != nil {
				return fmt.Errorf("reindex: delete old index items: %w", err)
			}
			reqs = out.UnprocessedItems[s.Table]
		}
	}
	return nil
}

// Key of the marker that says the operations table holds the whole search
// index, sharded (see ReindexOnce).
const (
	markerPK      = "SCHEMA"
	markerIndexSK = "INDEX#sharded"
)

// ReindexOnce runs Reindex unless the index table's marker says it already
// ran to the end there, and sets the marker when it completes. It reports
// whether Reindex ran. `make run` calls it on start.
func (s *Contacts) ReindexOnce(ctx context.Context, progress func(ReindexStats)) (bool, ReindexStats, error) {
	return runOnce(ctx, s.API, s.OpsTable, markerIndexSK, "reindex", func() (ReindexStats, error) { return s.Reindex(ctx, progress) })
}
