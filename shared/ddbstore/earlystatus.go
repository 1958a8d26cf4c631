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

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/messages"
)

// Early statuses. A provider may report a message's status (WhatsApp's
// webhook "statuses") before the sender has recorded the message sent,
// and with it the pointer from the provider's id to the message: the
// callback finds no message. Its status is then kept on the pointer's
// key, an early status item (the highest status reported, the time of
// each, the failure), until the sender's sent write: that write's pointer
// put is conditioned on no early status, so a sender that finds one reads
// it and records the message sent with the early status applied, in one
// transaction conditioned on the early status being as read. The early
// write is conditioned on no pointer, so each of the two writes sees the
// other: whichever comes second applies the status. An early status item
// no sender claims (a message sent from elsewhere, WhatsApp Manager) expires
// after EarlyStatusTTL.

// EarlyStatusTTL is how long an early status waits for its message: as
// long as a send of ours can take to record its "sent" after the
// provider accepted it. The sender records it in the invocation that made
// the call (within queue.SenderTimeout, 30 s); when the store refuses that
// write, the sender's process keeps the provider's id and records it at
// the message's next receive, hidden for its fault backoff (5 s, 10 s,
// 20 s, ...): 30 minutes cover the invocation and eight such receives in
// a row (21 min 15 s of backoff), a store outage of some 20 minutes. An
// early status older than that is a message sent from elsewhere, never
// ours (a provider's ids are not reused). DynamoDB deletes an expired
// item some time after its TTL, not at once: a sent write that comes
// later still applies a status it finds.
const EarlyStatusTTL = 30 * time.Minute

// Attributes of an early status item.
const (
	attrEarlyStatus  = "early_status"
	attrEarlyTenant  = "early_tenant_id"
	attrEarlyChannel = "early_channel_id"
	attrEarlyFailure = "early_failure"
	earlyTimePrefix  = "early_"
)

// RecordEarlyStatus keeps status st of the message the provider knows by
// providerID, reported by tenantID's channelID before the message was
// recorded sent. It reports false, keeping nothing, when the pointer to
// the message exists by now, with the message's tenant and ID as the
// pointer holds them (read strongly consistent: the caller then applies
// st to that message).
// An early status never moves back: a lower one than kept is dropped.
func (s *Messages) RecordEarlyStatus(ctx context.Context, kind, providerID, tenantID, channelID string, st messages.Status, t time.Time, f *messages.Failure) (kept bool, ownerID, messageID string, err error) {
	at, ok := statusTime[st]
	if !ok {
		return false, "", "", apperr.Invalidf("status", "a message cannot be moved to %q", st)
	}
	names := map[string]string{"#mid": "message_id", "#es": attrEarlyStatus, "#et": attrEarlyTenant, "#ec": attrEarlyChannel,
		"#at": earlyTimePrefix + at, "#ttl": TTLAttribute}
	vals := map[string]types.AttributeValue{":s": avS(string(st)), ":ten": avS(tenantID), ":ch": avS(channelID),
		":t": avN(t.UnixMilli()), ":ttl": avN(t.Add(EarlyStatusTTL).Unix())}
	set := "SET #es = :s, #et = :ten, #ec = :ch, #at = :t, #ttl = :ttl"
	var from []string
	for _, prev := range []messages.Status{messages.StatusQueued, messages.StatusSent, messages.StatusDelivered, messages.StatusRead} {
		if messages.Advances(prev, st) {
			k := ":f" + strconv.Itoa(len(from))
			from = append(from, k)
			vals[k] = avS(string(prev))
		}
	}
	cond := "attribute_not_exists(#mid) AND (attribute_not_exists(#es)"
	if len(from) > 0 {
		cond += " OR #es IN (" + strings.Join(from, ", ") + ")"
	}
	cond += ")"
	if f != nil {
		fv, err := attributevalue.Marshal(f)
		if err != nil {
			return false, "", "", err
		}
		vals[":failure"] = fv
		names["#fail"] = attrEarlyFailure
		set += ", #fail = :failure"
	}
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.OpsTable), Key: key(providerIDPK(kind, providerID), skProviderID),
		UpdateExpression: aws.String(set), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
	})
	if err == nil {
		return true, "", "", nil
	}
	if !isConditionFailure(err) {
		return false, "", "", fmt.Errorf("record early status of %s: %w", providerID, err)
	}
	// The pointer is there (apply to the message), or a status as high
	// or higher is kept already.
	res, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.OpsTable),
		Key: key(providerIDPK(kind, providerID), skProviderID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, "", "", fmt.Errorf("record early status of %s: %w", providerID, err)
	}
	if id := earlyStr(res.Item["message_id"]); id != "" {
		return false, earlyStr(res.Item["tenant_id"]), id, nil
	}
	return true, "", "", nil
}

// recordSentEarly is RecordSent when an early status waits on the
// pointer's key: the message is recorded sent with the early status
// applied (if it is the same channel's and a step forward), and the
// pointer replaces the early status, if that is still as read.
func (s *Messages) recordSentEarly(ctx context.Context, m messages.Message, providerID string, at time.Time) error {
	pk := providerIDPK(m.ChannelKind, providerID)
	for range 5 {
		res, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.OpsTable), Key: key(pk, skProviderID), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("record message %s sent: %w", m.ID, err)
		}
		items, err := s.sentItems(m, providerID, at)
		if err != nil {
			return err
		}
		es, ok := res.Item[attrEarlyStatus].(*types.AttributeValueMemberS)
		if ok {
			// The pointer replaces this early status, and only this one.
			put := items[1].Put
			put.ConditionExpression = aws.String("#early = :es")
			put.ExpressionAttributeValues = map[string]types.AttributeValue{":es": avS(es.Value)}
			if earlyStr(res.Item[attrEarlyTenant]) == m.TenantID && earlyStr(res.Item[attrEarlyChannel]) == m.ChannelID {
				applyEarly(items[0].Update, messages.Status(es.Value), res.Item)
			}
		}
		_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		switch failedCondition(err) {
		case -1:
			if err != nil {
				return fmt.Errorf("record message %s sent: %w", m.ID, err)
			}
			return nil
		case 0:
			return nil // no longer queued: done by another sender
		}
		// Another early status came in between: read it again.
	}
	return apperr.Conflict("message " + m.ID)
}

// applyEarly adds an early status to the sent update u: the status if it
// is a step forward from sent, and the time of each status reported.
func applyEarly(u *types.Update, st messages.Status, it map[string]types.AttributeValue) {
	expr := aws.ToString(u.UpdateExpression)
	set, rest, _ := strings.Cut(expr, " REMOVE ")
	if messages.Advances(messages.StatusSent, st) {
		// The status the sent write sets becomes the early one.
		u.ExpressionAttributeValues[":sent"] = avS(string(st))
	}
	for _, s := range []messages.Status{messages.StatusDelivered, messages.StatusRead, messages.StatusCompleted, messages.StatusFailed} {
		a := statusTime[s]
		if v, ok := it[earlyTimePrefix+a]; ok && messages.Advances(messages.StatusSent, s) {
			set += ", " + a + " = :early_" + a
			u.ExpressionAttributeValues[":early_"+a] = v
		}
	}
	if v, ok := it[attrEarlyFailure]; ok && st == messages.StatusFailed {
		set += ", failure = :early_failure"
		u.ExpressionAttributeValues[":early_failure"] = v
	}
	u.UpdateExpression = aws.String(set + " REMOVE " + rest)
}

func earlyStr(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
