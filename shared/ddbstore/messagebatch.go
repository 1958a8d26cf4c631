package ddbstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/messages"
)

// The sender's batch writes. A batch of outbox messages is claimed with one
// TransactWriteItems of their claims (the messages as their outbox tasks
// carried them, or read first with one consistent BatchGetItem), and
// the outcomes of its provider calls are recorded with one
// TransactWriteItems: two rounds of the tables per batch instead of three
// calls per message. The claims are items of the operations table (no
// stream), so the data table takes one write per message: its outcome. Each item keeps its own condition, as the single
// writes (ClaimMessage, RecordSent, ...) do; a transaction is all or
// nothing, so when one item's condition fails the others are written again
// without it (claims are read again first).
//
// What each item costs the local emulator (dynoxide 1.2.1, instructions
// counted by callgrind, per message in transactions of 10): the claim's
// check of the message 0.42 M and its claim item 0.45 M; the sent update
// 1.09 M (of which its GSI1 row 0.14 M and its stream record 0.18 M); the
// pointer 0.39 M; a call 0.11 M besides its items. Each item is one
// guarantee (the claim's check and put: sent at most once; the update: the
// status; the pointer: callbacks find the message, and early statuses are
// kept), and what an item costs is mostly dynoxide's handling of an item
// (the table looked up, the item read and parsed, its JSON written anew),
// not its expressions: dropping a condition saves about 0.1 M (the read it
// needs), trimming the sent update's expression nothing measurable.

// maxTransactItems is DynamoDB's limit of items in one TransactWriteItems.
const maxTransactItems = 100

// batchRounds is how many rounds a batch write gets before its items are
// written alone (outcomes) or reported as contended (claims).
const batchRounds = 3

// ClaimMessages is ClaimMessage for many messages at once, all with token:
// out[i] is keys[i]'s claim (ClaimQueued, each message read first).
func (s *Messages) ClaimMessages(ctx context.Context, keys []messages.Key, token string, now time.Time, lease time.Duration) []messages.Claim {
	reqs := make([]messages.ClaimRequest, len(keys))
	for i, k := range keys {
		reqs[i].Key = k
	}
	return s.ClaimQueued(ctx, reqs, token, now, lease)
}

// ClaimQueued claims many messages at once, all with token: out[i] is
// reqs[i]'s claim. A key given twice is claimed once; its other copies are
// answered *messages.ClaimedError, as if another sender held it.
//
// A claim is an item of the operations table (claimPK), not an attribute
// of the message: the data table's stream sees none of the claims, and a
// message costs it one write only, its outcome. The claim's transaction
// checks the message (queued, attempted as often as the claim believes,
// no live claim of an older sender on the message item itself) and puts
// the claim where none is live.
//
// A message given as its outbox task carried it (Queued) is not read:
// what the API stored is all a send needs, and only its status and
// attempts change later, which the transaction's check covers. The check
// and the claim's put return the item they found when they fail
// (ReturnValuesOnConditionCheckFailure), so a message sent, failed,
// attempted since or claimed by another sender is answered from the
// transaction's cancellation without another read; the rest are claimed
// again without it. A message given without Queued is read first, with
// its claim item (one consistent BatchGetItem for the batch).
func (s *Messages) ClaimQueued(ctx context.Context, reqs []messages.ClaimRequest, token string, now time.Time, lease time.Duration) []messages.Claim {
	out := make([]messages.Claim, len(reqs))
	keys := make([]messages.Key, len(reqs))
	seen := make(map[messages.Key]bool, len(reqs))
	// known[i] is the message the claim of i checks, attempts[i] its
	// attempts attribute (nil: none).
	known := make(map[int]*messages.Message, len(reqs))
	attempts := map[int]types.AttributeValue{}
	var pending []int
	for i, r := range reqs {
		keys[i] = r.Key
		if seen[r.Key] {
			out[i].Err = &messages.ClaimedError{Until: now.Add(lease)}
			continue
		}
		seen[r.Key] = true
		if q := r.Queued; q != nil && q.ID == r.ID && q.TenantID == r.TenantID && q.Status == messages.StatusQueued {
			m := *q
			known[i], attempts[i] = &m, avN(int64(q.Attempts))
		}
		pending = append(pending, i)
	}
	// judge answers i from its message item as stored: true when it is
	// still to be claimed (known[i] and attempts[i] now as stored).
	judge := func(i int, raw map[string]types.AttributeValue) bool {
		if raw == nil {
			out[i].Err = notFoundMessage(keys[i].ID)
			return false
		}
		var m messages.Message
		if err := attributevalue.UnmarshalMap(raw, &m); err != nil {
			out[i].Err = fmt.Errorf("claim message %s: unmarshal: %w", keys[i].ID, err)
			return false
		}
		if m.Status != messages.StatusQueued {
			out[i] = messages.Claim{Message: m, Done: true}
			return false
		}
		// A claim on the message item itself is an older sender's
		// (before the claims moved to the operations table): it holds
		// as theirs does, until its lease ends.
		if until := claimUntil(raw); until >= now.UnixMilli() {
			out[i].Err = &messages.ClaimedError{Until: time.UnixMilli(until)}
			return false
		}
		known[i], attempts[i] = &m, raw["attempts"]
		return true
	}
	for round := 0; len(pending) > 0; round++ {
		if round == batchRounds {
			for _, i := range pending {
				out[i].Err = fmt.Errorf("claim message %s: its claim was contended %d times", keys[i].ID, batchRounds)
			}
			break
		}
		var cand, read []int
		for _, i := range pending {
			if known[i] != nil {
				cand = append(cand, i)
			} else {
				read = append(read, i)
			}
		}
		if len(read) > 0 {
			items, claims, err := s.getMessageItems(ctx, keys, read)
			if err != nil {
				for _, i := range read {
					out[i].Err = err
				}
			} else {
				for _, i := range read {
					if !judge(i, items[i]) {
						continue
					}
					if until := claimUntil(claims[i]); until >= now.UnixMilli() {
						out[i].Err = &messages.ClaimedError{Until: time.UnixMilli(until)}
						continue
					}
					cand = append(cand, i)
				}
			}
		}
		pending = nil
		for start := 0; start < len(cand); start += maxTransactItems / 2 {
			chunk := cand[start:min(start+maxTransactItems/2, len(cand))]
			tx := make([]types.TransactWriteItem, 0, 2*len(chunk))
			for _, i := range chunk {
				tx = append(tx, s.claimItems(keys[i], token, now, lease, attempts[i])...)
			}
			_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
			var tce *types.TransactionCanceledException
			switch {
			case err == nil:
				for _, i := range chunk {
					out[i] = messages.Claim{Message: *known[i]}
				}
			case errors.As(err, &tce) && len(tce.CancellationReasons) == len(tx):
				// Each message's check, then its claim's put: a failed
				// one names what it found; the others go again.
				for j, i := range chunk {
					check, put := tce.CancellationReasons[2*j], tce.CancellationReasons[2*j+1]
					switch {
					case aws.ToString(check.Code) == "ConditionalCheckFailed":
						if judge(i, check.Item) {
							pending = append(pending, i) // attempted since: claim as it is now
						}
					case aws.ToString(put.Code) == "ConditionalCheckFailed" && claimUntil(put.Item) >= now.UnixMilli():
						out[i].Err = &messages.ClaimedError{Until: time.UnixMilli(claimUntil(put.Item))}
					default:
						pending = append(pending, i)
					}
				}
			case errors.As(err, &tce):
				// Reasons not given item by item: read them all again.
				for _, i := range chunk {
					known[i] = nil
				}
				pending = append(pending, chunk...)
			default:
				for _, i := range chunk {
					out[i] = messages.Claim{Err: fmt.Errorf("claim message %s: %w", keys[i].ID, err)}
				}
			}
		}
	}
	return out
}

// claimItems are the claim of one message believed to have attempts (its
// attempts attribute; nil when it has none): a check that the message is
// queued, not attempted since and without a live claim of an older sender
// on its own item (claim_until, as senders claimed before the claim
// items), and the claim item put where no claim is live. Both return what
// they found when their condition fails.
func (s *Messages) claimItems(k messages.Key, token string, now time.Time, lease time.Duration, attempts types.AttributeValue) []types.TransactWriteItem {
	cond := "#status = :queued AND (attribute_not_exists(#until) OR #until < :now)"
	vals := map[string]types.AttributeValue{":queued": avS(string(messages.StatusQueued)), ":now": avN(now.UnixMilli())}
	names := map[string]string{"#status": "status", "#att": "attempts", "#until": attrClaimUntil}
	if attempts != nil {
		cond += " AND #att = :att"
		vals[":att"] = attempts
	} else {
		cond += " AND attribute_not_exists(#att)"
	}
	until := now.Add(lease)
	claim := map[string]types.AttributeValue{
		AttrPK: avS(claimPK(k.TenantID, k.ID)), AttrSK: avS(skClaim),
		attrClaim: avS(token), attrClaimUntil: avN(until.UnixMilli()),
		TTLAttribute: avN(until.Add(claimKeep).Unix()),
	}
	return []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{
			TableName:                           aws.String(s.Table),
			Key:                                 key(messagePK(k.TenantID, k.ID), skMessage),
			ConditionExpression:                 aws.String(cond),
			ExpressionAttributeNames:            names,
			ExpressionAttributeValues:           vals,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		{Put: &types.Put{
			TableName:                           aws.String(s.OpsTable),
			Item:                                claim,
			ConditionExpression:                 aws.String("attribute_not_exists(#until) OR #until < :now"),
			ExpressionAttributeNames:            map[string]string{"#until": attrClaimUntil},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": avN(now.UnixMilli())},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
	}
}

// claimKeep is how long a claim item is kept after its lease ends (TTL): a
// claim not released (the message sent or failed, or its sender gone) is
// forgotten on its own.
const claimKeep = time.Hour

// claimUntil is a claim's lease end in an item (a claim item, or a message
// item claimed by an older sender), Unix ms (0: none).
func claimUntil(item map[string]types.AttributeValue) int64 {
	if n, ok := item[attrClaimUntil].(*types.AttributeValueMemberN); ok {
		until, _ := strconv.ParseInt(n.Value, 10, 64)
		return until
	}
	return 0
}

// getMessageItems reads the message items of keys[idx...] and their claim
// items (strongly consistent, in one BatchGetItem of both tables), by
// index; a message that does not exist has none, nor has a message
// without a claim.
func (s *Messages) getMessageItems(ctx context.Context, keys []messages.Key, idx []int) (msgs, claims map[int]map[string]types.AttributeValue, err error) {
	byPK := make(map[string]int, 2*len(idx))
	msgs = make(map[int]map[string]types.AttributeValue, len(idx))
	claims = make(map[int]map[string]types.AttributeValue, len(idx))
	for start := 0; start < len(idx); start += 50 {
		var ks, cs []map[string]types.AttributeValue
		for _, i := range idx[start:min(start+50, len(idx))] {
			pk, cpk := messagePK(keys[i].TenantID, keys[i].ID), claimPK(keys[i].TenantID, keys[i].ID)
			byPK[pk], byPK[cpk] = i, i
			ks = append(ks, key(pk, skMessage))
			cs = append(cs, key(cpk, skClaim))
		}
		req := map[string]types.KeysAndAttributes{
			s.Table:    {Keys: ks, ConsistentRead: aws.Bool(true)},
			s.OpsTable: {Keys: cs, ConsistentRead: aws.Bool(true)},
		}
		for try := 0; len(req) > 0; try++ {
			if try > 0 {
				if try > 8 {
					return nil, nil, fmt.Errorf("read messages: %d keys left unprocessed", len(req[s.Table].Keys)+len(req[s.OpsTable].Keys))
				}
				if err := sleep(ctx, time.Duration(try*try)*20*time.Millisecond); err != nil {
					return nil, nil, err
				}
			}
			res, err := s.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, nil, fmt.Errorf("read messages: %w", err)
			}
			for table, into := range map[string]map[int]map[string]types.AttributeValue{s.Table: msgs, s.OpsTable: claims} {
				for _, it := range res.Responses[table] {
					if pk, ok := it[AttrPK].(*types.AttributeValueMemberS); ok {
						if i, ok := byPK[pk.Value]; ok {
							into[i] = it
						}
					}
				}
			}
			req = res.UnprocessedKeys
		}
	}
	return msgs, claims, nil
}

// RecordOutcomes records the outcomes of a batch's provider calls, each as
// its single write does (RecordSent, RecordFailed, RecordRetry,
// ReleaseClaim: a sent message's update and its provider id's pointer
// together), in TransactWriteItems of up to 100 items: errs[i] is
// os[i]'s error. An outcome whose condition fails is left, as the single
// writes leave it (nil error), and the others written again without it;
// what is still unwritten after batchRounds rounds is written alone.
func (s *Messages) RecordOutcomes(ctx context.Context, os []messages.Outcome) []error {
	errs := make([]error, len(os))
	items := make([][]types.TransactWriteItem, len(os))
	var pending []int
	for i, o := range os {
		its, err := s.outcomeItems(o)
		if err != nil {
			errs[i] = err
			continue
		}
		items[i] = its
		pending = append(pending, i)
	}
	for round := 0; round < batchRounds && len(pending) > 0; round++ {
		var again []int
		for len(pending) > 0 {
			// A chunk: whole outcomes, at most maxTransactItems items.
			var chunk []int
			var tx []types.TransactWriteItem
			var owner []int // owner[j]: the outcome tx[j] belongs to
			for len(pending) > 0 && len(tx)+len(items[pending[0]]) <= maxTransactItems {
				i := pending[0]
				pending = pending[1:]
				chunk = append(chunk, i)
				tx = append(tx, items[i]...)
				for range items[i] {
					owner = append(owner, i)
				}
			}
			_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
			var tce *types.TransactionCanceledException
			switch {
			case err == nil:
			case errors.As(err, &tce) && len(tce.CancellationReasons) == len(tx):
				settled, alone := map[int]bool{}, map[int]bool{}
				for j, r := range tce.CancellationReasons {
					if aws.ToString(r.Code) != "ConditionalCheckFailed" {
						continue
					}
					if j > 0 && owner[j-1] == owner[j] {
						// A sent outcome's pointer: an early status waits
						// on its key (RecordSent applies it).
						alone[owner[j]] = true
					} else {
						settled[owner[j]] = true // left as it is
					}
				}
				for _, i := range chunk {
					switch {
					case settled[i]:
					case alone[i]:
						errs[i] = s.recordOutcome(ctx, os[i])
					default:
						again = append(again, i)
					}
				}
			case errors.As(err, &tce):
				again = append(again, chunk...)
			default:
				for _, i := range chunk {
					errs[i] = fmt.Errorf("record outcome of message %s: %w", os[i].Message.ID, err)
				}
			}
		}
		pending = again
	}
	for _, i := range pending {
		errs[i] = s.recordOutcome(ctx, os[i])
	}
	return errs
}

// recordOutcome is one outcome's single write.
func (s *Messages) recordOutcome(ctx context.Context, o messages.Outcome) error {
	m := o.Message
	switch o.Kind {
	case messages.OutcomeSent:
		return s.RecordSent(ctx, m, o.ProviderID, o.At)
	case messages.OutcomeFailed:
		return s.RecordFailed(ctx, m.TenantID, m.ID, o.Failure, o.At, o.Attempted)
	case messages.OutcomeRetry:
		return s.RecordRetry(ctx, m.TenantID, m.ID, o.Token, o.Failure)
	case messages.OutcomeRelease:
		return s.ReleaseClaim(ctx, m.TenantID, m.ID, o.Token)
	}
	return fmt.Errorf("record outcome of message %s: unknown kind %d", m.ID, o.Kind)
}

// outcomeItems are one outcome's transaction items: the message's
// conditional update first (none for a release), then the claim's
// release (retry, release) or the provider id's pointer (sent). A sent or
// failed message keeps its claim item until its TTL: no claim is taken on
// a message that is not queued.
func (s *Messages) outcomeItems(o messages.Outcome) ([]types.TransactWriteItem, error) {
	m := o.Message
	switch o.Kind {
	case messages.OutcomeSent:
		return s.sentItems(m, o.ProviderID, o.At)
	case messages.OutcomeFailed:
		u, err := s.failedUpdate(m.TenantID, m.ID, o.Failure, o.At, o.Attempted)
		return []types.TransactWriteItem{{Update: u}}, err
	case messages.OutcomeRetry:
		return s.retryItems(m.TenantID, m.ID, o.Token, o.Failure)
	case messages.OutcomeRelease:
		return []types.TransactWriteItem{{Delete: s.releaseDelete(m.TenantID, m.ID, o.Token)}}, nil
	}
	return nil, fmt.Errorf("record outcome of message %s: unknown kind %d", m.ID, o.Kind)
}

// updateInput is the UpdateItem of a transaction's update.
func updateInput(u *types.Update) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
		ConditionExpression: u.ConditionExpression, ExpressionAttributeNames: u.ExpressionAttributeNames,
		ExpressionAttributeValues: u.ExpressionAttributeValues}
}
