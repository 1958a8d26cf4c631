package ddbstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/scheduler"
)

// Runs stores automation runs on the operations table (no stream: nothing
// downstream reacts to a run's writes, and a burst of enrollments would
// otherwise pass through the trigger router only to be filtered out):
//
//	PK                        SK                  item
//	RUNC#<t>#<c>#<contactId>  RUN#<runId>         a run (automations.Run, its steps inline, at most
//	                          GSI1PK RUNS#<t>#<automationId>#<shard>, GSI1SK <runId>
//	RUNC#<t>#<c>#<contactId>  ACTIVE#<autoId>     the guard of the contact's active run of the
//	                                              automation: run (its ID)
//
// A run ID starts with its start time (run_<ms:%013d><random>), so both
// listings sort by it. A contact's runs are one partition (newest first:
// a Query backwards); the contact's guard is beside them, so enrollment
// is one transaction of the run, the guard and the first due item. An
// automation's runs are found through GSI1 (keys only), spread over
// RunShards partitions by a hash of the run ID: 10,000 contacts enrolled
// in one automation at once would be 10,000 writes to one partition (a
// hot key) if the automation's runs shared one; spread, each shard takes
// a sixteenth. A listing queries every shard backwards from the cursor
// (the last run ID listed) and merges them. A step's write replaces the
// run but leaves its GSI1 keys as they were, so it writes nothing to the
// index.
type Runs struct {
	API      API
	OpsTable string
}

var _ automations.RunStore = (*Runs)(nil)

// RunShards spread an automation's runs in GSI1.
const RunShards = 16

const (
	runsPKPrefix    = "RUNC#"
	runsGSI1Prefix  = "RUNS#"
	skRunPrefix     = "RUN#"
	skActivePrefix  = "ACTIVE#"
	maxRunListLimit = 100
)

func runsPK(tenantID, channelID, contactID string) string {
	return runsPKPrefix + tenantID + "#" + channelID + "#" + contactID
}

func runGSI1PK(tenantID, automationID string, shard uint32) string {
	return fmt.Sprintf("%s%s#%s#%d", runsGSI1Prefix, tenantID, automationID, shard)
}

func runShard(runID string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(runID))
	return h.Sum32() % RunShards
}

func runItem(r automations.Run) (map[string]types.AttributeValue, error) {
	it, err := item(runsPK(r.TenantID, r.ChannelID, r.ContactID), skRunPrefix+r.ID, r)
	if err != nil {
		return nil, err
	}
	it[AttrGSI1PK] = avS(runGSI1PK(r.TenantID, r.AutomationID, runShard(r.ID)))
	it[AttrGSI1SK] = avS(r.ID)
	return it, nil
}

// StartRun writes the run, its guard and its first due item at once.
func (s *Runs) StartRun(ctx context.Context, r automations.Run, first scheduler.Due) error {
	it, err := runItem(r)
	if err != nil {
		return err
	}
	pk := runsPK(r.TenantID, r.ChannelID, r.ContactID)
	guard := map[string]types.AttributeValue{AttrPK: avS(pk), AttrSK: avS(skActivePrefix + r.AutomationID), "run": avS(r.ID), "at": avN(r.StartedAt)}
	_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		putNew(s.OpsTable, it),
		putNew(s.OpsTable, guard),
		DueItem(s.OpsTable, first),
	}})
	switch failedCondition(err) {
	case -1:
	case 1:
		return apperr.Exists("Contact %s already has an active run of automation %s: it is not enrolled twice.", r.ContactID, r.AutomationID).Wrap(err)
	default:
		return apperr.Exists("Run %s already exists; retry.", r.ID).Wrap(err)
	}
	if err != nil {
		return fmt.Errorf("start run %s: %w", r.ID, err)
	}
	return nil
}

// GetRun reads a run, strongly consistent.
func (s *Runs) GetRun(ctx context.Context, tenantID, channelID, contactID, runID string) (automations.Run, error) {
	var r automations.Run
	err := getItem(ctx, s.API, s.OpsTable, runsPK(tenantID, channelID, contactID), skRunPrefix+runID, true, &r, apperr.NotFound("Run", runID))
	return r, err
}

// SaveRun replaces prev by next, conditioned on prev's Seq and status.
func (s *Runs) SaveRun(ctx context.Context, prev, next automations.Run, due, done *scheduler.Due) error {
	if next.Seq != prev.Seq+1 || next.ID != prev.ID {
		return fmt.Errorf("save run %s: next must be prev's successor (seq %d → %d)", prev.ID, prev.Seq, next.Seq)
	}
	it, err := runItem(next)
	if err != nil {
		return err
	}
	tx := []types.TransactWriteItem{{Put: &types.Put{
		TableName: aws.String(s.OpsTable), Item: it,
		ConditionExpression:       aws.String("seq = :seq AND #st = :active"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":seq": avN(prev.Seq), ":active": avS(string(automations.RunActive))},
	}}}
	if due != nil {
		tx = append(tx, DueItem(s.OpsTable, *due))
	}
	if done != nil {
		tx = append(tx, DueDone(s.OpsTable, *done))
	}
	if !next.Active() {
		tx = append(tx, types.TransactWriteItem{Delete: &types.Delete{
			TableName: aws.String(s.OpsTable), Key: key(runsPK(next.TenantID, next.ChannelID, next.ContactID), skActivePrefix+next.AutomationID),
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR #run = :id"),
			ExpressionAttributeNames:  map[string]string{"#run": "run"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":id": avS(next.ID)},
		}})
	}
	if len(tx) == 1 {
		p := tx[0].Put
		_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
			ExpressionAttributeNames: p.ExpressionAttributeNames, ExpressionAttributeValues: p.ExpressionAttributeValues})
		if isConditionFailure(err) {
			return apperr.Conflict("run").Wrap(err)
		}
	} else {
		_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		if i := failedCondition(err); i == 0 {
			return apperr.Conflict("run").Wrap(err)
		}
	}
	if err != nil {
		return fmt.Errorf("save run %s: %w", next.ID, err)
	}
	return nil
}

// ContactRuns lists a contact's runs newest first; the cursor is the last
// run ID listed.
func (s *Runs) ContactRuns(ctx context.Context, tenantID, channelID, contactID string, limit int, cursor string) (automations.RunPage, error) {
	limit = max(1, min(limit, maxRunListLimit))
	after, err := parseRunCursor(cursor)
	if err != nil {
		return automations.RunPage{}, err
	}
	pk := runsPK(tenantID, channelID, contactID)
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.OpsTable),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(pk), ":p": avS(skRunPrefix)},
		ScanIndexForward:          aws.Bool(false),
		ConsistentRead:            aws.Bool(true),
	}
	if after != "" {
		in.ExclusiveStartKey = key(pk, skRunPrefix+after)
	}
	items, err := queryItems(ctx, s.API, in, limit+1)
	if err != nil {
		return automations.RunPage{}, fmt.Errorf("list contact runs: %w", err)
	}
	return runPage(items, limit)
}

func runPage(items []map[string]types.AttributeValue, limit int) (automations.RunPage, error) {
	var page automations.RunPage
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	page.Runs = []automations.Run{}
	if err := attributevalue.UnmarshalListOfMaps(items, &page.Runs); err != nil {
		return page, fmt.Errorf("unmarshal runs: %w", err)
	}
	if more && len(page.Runs) > 0 {
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(page.Runs[len(page.Runs)-1].ID))
	}
	return page, nil
}

// parseRunCursor reads a cursor a listing made: the last run ID listed.
func parseRunCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	id := string(b)
	if err != nil || !strings.HasPrefix(id, "run_") || len(id) > 64 || strings.ContainsAny(id, "#") {
		return "", apperr.Invalid("cursor", "is not a cursor from this listing (pass next as it is)")
	}
	return id, nil
}

// AutomationRuns lists an automation's runs newest first: every shard of
// GSI1 read backwards from the cursor at once, merged, and the page's
// runs read by key.
func (s *Runs) AutomationRuns(ctx context.Context, tenantID, automationID string, limit int, cursor string) (automations.RunPage, error) {
	limit = max(1, min(limit, maxRunListLimit))
	after, err := parseRunCursor(cursor)
	if err != nil {
		return automations.RunPage{}, err
	}
	type shard struct {
		keys []map[string]types.AttributeValue
		err  error
	}
	shards := make([]shard, RunShards)
	var wg sync.WaitGroup
	for i := range shards {
		wg.Go(func() {
			in := &dynamodb.QueryInput{
				TableName:                 aws.String(s.OpsTable),
				IndexName:                 aws.String(GSI1),
				KeyConditionExpression:    aws.String("GSI1PK = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(runGSI1PK(tenantID, automationID, uint32(i)))},
				ScanIndexForward:          aws.Bool(false),
			}
			if after != "" {
				in.KeyConditionExpression = aws.String("GSI1PK = :pk AND GSI1SK < :after")
				in.ExpressionAttributeValues[":after"] = avS(after)
			}
			shards[i].keys, shards[i].err = queryItems(ctx, s.API, in, limit+1)
		})
	}
	wg.Wait()
	var keys []map[string]types.AttributeValue
	for _, sh := range shards {
		if sh.err != nil {
			return automations.RunPage{}, fmt.Errorf("list automation runs: %w", sh.err)
		}
		keys = append(keys, sh.keys...)
	}
	gsk := func(m map[string]types.AttributeValue) string {
		v, _ := m[AttrGSI1SK].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	slices.SortFunc(keys, func(a, b map[string]types.AttributeValue) int { return strings.Compare(gsk(b), gsk(a)) })
	more := len(keys) > limit
	if more {
		keys = keys[:limit]
	}
	got := map[string]map[string]types.AttributeValue{}
	for chunk := range slices.Chunk(keys, maxBatchGet) {
		req := map[string]types.KeysAndAttributes{s.OpsTable: {ConsistentRead: aws.Bool(true)}}
		ka := req[s.OpsTable]
		for _, k := range chunk {
			ka.Keys = append(ka.Keys, map[string]types.AttributeValue{AttrPK: k[AttrPK], AttrSK: k[AttrSK]})
		}
		req[s.OpsTable] = ka
		for n := 0; len(req) > 0; n++ {
			if n > batchRetries {
				return automations.RunPage{}, fmt.Errorf("read runs: keys still unprocessed after %d retries", batchRetries)
			}
			if n > 0 {
				if err := sleep(ctx, batchBackoff(n)); err != nil {
					return automations.RunPage{}, err
				}
			}
			out, err := s.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return automations.RunPage{}, fmt.Errorf("read runs: %w", err)
			}
			for _, m := range out.Responses[s.OpsTable] {
				got[gsk(m)] = m
			}
			req = out.UnprocessedKeys
		}
	}
	items := make([]map[string]types.AttributeValue, 0, len(keys))
	for _, k := range keys {
		if m, ok := got[gsk(k)]; ok {
			items = append(items, m)
		}
	}
	page, err := runPage(items, len(items))
	if err == nil && more && len(keys) > 0 {
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(gsk(keys[len(keys)-1])))
	}
	return page, err
}
