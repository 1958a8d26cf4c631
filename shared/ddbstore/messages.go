package ddbstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/messages"
)

// Messages keeps messages on the data table (their stream records hand new
// outbound messages to the sender, through the trigger router and the
// outbox queue), and on the operations table (no stream) the senders'
// claims, the pointers from provider ids to messages and each contact's
// last inbound time.
type Messages struct {
	API      API
	Table    string // the data table
	OpsTable string // the operations table
}

var _ messages.Store = (*Messages)(nil)

// Key layout (schema.go).
const (
	// MessageKeyPrefix starts every message's partition key: the trigger
	// router's stream filter lets these through (routes.KeyMessage).
	MessageKeyPrefix = "MSG#"
	skMessage        = "MSG"
	skProviderID     = "PMSG"
	skWindow         = "WIN"
	skClaim          = "CLAIM"
)

func messagePK(tenantID, id string) string { return MessageKeyPrefix + tenantID + "#" + id }
func messagesGSI1PK(tenantID, channelID, contactID string) string {
	return "MSGS#" + tenantID + "#" + channelID + "#" + contactID
}
func messagesGSI1SK(createdAt int64, id string) string { return fmt.Sprintf("%013d#%s", createdAt, id) }
func channelMessagesGSI2PK(tenantID, channelID string) string {
	return ChannelMessagesPrefix + tenantID + "#" + channelID
}

// ChannelMessagesPrefix starts every message's GSI2PK (routes.KeyChanMsgs).
const ChannelMessagesPrefix = "CHMSGS#"

// indexMessage adds the message's index keys to its item: GSI1 (the
// contact's messages) when it has a contact, GSI2 (the channel's messages)
// always. They ride on the message's own write.
func indexMessage(it map[string]types.AttributeValue, m messages.Message) {
	sk := messagesGSI1SK(m.CreatedAt, m.ID)
	if m.ContactID != "" {
		it[AttrGSI1PK] = avS(messagesGSI1PK(m.TenantID, m.ChannelID, m.ContactID))
		it[AttrGSI1SK] = avS(sk)
	}
	indexChannelMessage(it, m)
}

// indexChannelMessage adds the message's GSI2 keys (the channel's
// messages) to its item.
func indexChannelMessage(it map[string]types.AttributeValue, m messages.Message) {
	if m.ChannelID != "" {
		it[AttrGSI2PK] = avS(channelMessagesGSI2PK(m.TenantID, m.ChannelID))
		it[AttrGSI2SK] = avS(messagesGSI1SK(m.CreatedAt, m.ID))
	}
}

func providerIDPK(kind, providerID string) string { return "PMSG#" + kind + "#" + providerID }

// claimPK is the partition key of a message's claim (operations table).
func claimPK(tenantID, id string) string { return "CLAIM#" + tenantID + "#" + id }
func windowPK(tenantID, channelID, address string) string {
	return "WIN#" + tenantID + "#" + channelID + "#" + address
}

// WindowRecordTTL is how long a contact's last inbound time is kept after
// it: longer than the window it opens.
const WindowRecordTTL = 2 * messages.Window

// Attributes of a message's claim item (operations table): the sender's
// token and its lease end, Unix ms.
const (
	attrClaim      = "claim"
	attrClaimUntil = "claim_until"
)

func notFoundMessage(id string) error { return apperr.NotFound("Message", id) }

// CreateMessage stores a new message (it must not exist).
func (s *Messages) CreateMessage(ctx context.Context, m messages.Message) error {
	it, err := item(messagePK(m.TenantID, m.ID), skMessage, m)
	if err != nil {
		return err
	}
	indexMessage(it, m)
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if isConditionFailure(err) {
		return apperr.Exists("Message %q exists.", m.ID)
	}
	if err != nil {
		return fmt.Errorf("create message %s: %w", m.ID, err)
	}
	return nil
}

// GetMessage reads one message (strongly consistent).
func (s *Messages) GetMessage(ctx context.Context, tenantID, id string) (messages.Message, error) {
	var m messages.Message
	err := getItem(ctx, s.API, s.Table, messagePK(tenantID, id), skMessage, true, &m, notFoundMessage(id))
	return m, err
}

// ListContactMessages lists a channel contact's messages, newest first. It
// reads GSI1, so a message just stored may be missing for a moment. The
// cursor is the GSI1 sort key of the page's last item, base64url-encoded.
func (s *Messages) ListContactMessages(ctx context.Context, tenantID, channelID, contactID string, limit int, cursor string) (messages.Page, error) {
	return s.listMessages(ctx, tenantID, messageIndex{GSI1, AttrGSI1PK, AttrGSI1SK}, messagesGSI1PK(tenantID, channelID, contactID), limit, cursor, contactID)
}

// ListChannelMessages lists a channel's messages (both directions), newest
// first. It reads GSI2, so a message just stored may be missing for a
// moment. The cursor is as ListContactMessages's.
func (s *Messages) ListChannelMessages(ctx context.Context, tenantID, channelID string, limit int, cursor string) (messages.Page, error) {
	return s.listMessages(ctx, tenantID, messageIndex{GSI2, AttrGSI2PK, AttrGSI2SK}, channelMessagesGSI2PK(tenantID, channelID), limit, cursor, "channel "+channelID)
}

// messageIndex names an index that lists messages and its key attributes.
type messageIndex struct{ name, pkAttr, skAttr string }

// listMessages is one page of the messages under pk in idx, newest first
// (of: what the messages are of, for errors). A bad limit or cursor is an
// apperr, returned as it is.
func (s *Messages) listMessages(ctx context.Context, tenantID string, idx messageIndex, pk string, limit int, cursor, of string) (messages.Page, error) {
	if err := checkLimit(limit); err != nil {
		return messages.Page{}, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		IndexName:                 aws.String(idx.name),
		KeyConditionExpression:    aws.String(idx.pkAttr + " = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(pk)},
		ScanIndexForward:          aws.Bool(false),
	}
	if cursor != "" {
		sk, id, err := parseMessageCursor(cursor)
		if err != nil {
			return messages.Page{}, err
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			idx.pkAttr: avS(pk), idx.skAttr: avS(sk), AttrPK: avS(messagePK(tenantID, id)), AttrSK: avS(skMessage),
		}
	}
	items, err := queryItems(ctx, s.API, in, limit+1)
	if err != nil {
		return messages.Page{}, fmt.Errorf("list messages of %s: %w", of, err)
	}
	list, next, err := indexPage[messages.Message](items, limit, idx.skAttr)
	if err != nil {
		return messages.Page{}, fmt.Errorf("list messages of %s: %w", of, err)
	}
	return messages.Page{Items: list, Next: next}, nil
}

// gsi1Page is one page of a GSI1 listing queried for limit+1 items: the
// first limit of them, and the cursor of the next page (the last item's
// GSI1 sort key, base64url) when there was one more.
func gsi1Page[T any](items []map[string]types.AttributeValue, limit int) ([]T, string, error) {
	return indexPage[T](items, limit, AttrGSI1SK)
}

// indexPage is gsi1Page for the index whose sort key is skAttr.
func indexPage[T any](items []map[string]types.AttributeValue, limit int, skAttr string) ([]T, string, error) {
	next := ""
	if len(items) > limit {
		items = items[:limit]
		if last, ok := items[limit-1][skAttr].(*types.AttributeValueMemberS); ok {
			next = base64.RawURLEncoding.EncodeToString([]byte(last.Value))
		}
	}
	out := []T{}
	if err := attributevalue.UnmarshalListOfMaps(items, &out); err != nil {
		return nil, "", fmt.Errorf("unmarshal: %w", err)
	}
	return out, next, nil
}

// parseMessageCursor reads a cursor ListContactMessages made: the GSI1 sort
// key <createdAt:%013d>#<messageId>.
func parseMessageCursor(cursor string) (sk, id string, err error) {
	bad := apperr.Invalid("cursor", "is not a cursor from this listing (pass links.next as it is)")
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", "", bad
	}
	sk = string(b)
	at, id, ok := strings.Cut(sk, "#")
	if !ok || len(at) != 13 || !strings.HasPrefix(id, "msg_") || len(id) > 68 || !utf8.ValidString(id) || strings.ContainsAny(at+id, "+-#") {
		return "", "", bad
	}
	if _, err := strconv.ParseUint(at, 10, 64); err != nil {
		return "", "", bad
	}
	return sk, id, nil
}

// LastInbound reads when the contact at address last wrote to the channel.
func (s *Messages) LastInbound(ctx context.Context, tenantID, channelID, address string) (int64, error) {
	var w struct {
		At int64 `dynamodbav:"at"`
	}
	err := getItem(ctx, s.API, s.OpsTable, windowPK(tenantID, channelID, address), skWindow, false, &w, errNoWindow)
	if errors.Is(err, errNoWindow) {
		return 0, nil
	}
	return w.At, err
}

var errNoWindow = errors.New("no inbound message")

// RecordInbound notes an inbound message's time, unless a later one is
// recorded; the record expires WindowRecordTTL after it.
func (s *Messages) RecordInbound(ctx context.Context, tenantID, channelID, address string, t time.Time) error {
	_, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.OpsTable),
		Key:                      key(windowPK(tenantID, channelID, address), skWindow),
		UpdateExpression:         aws.String("SET #at = :t, #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(#at) OR #at < :t"),
		ExpressionAttributeNames: map[string]string{"#at": "at", "#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": avN(t.UnixMilli()), ":ttl": avN(t.Add(WindowRecordTTL).Unix()),
		},
	})
	if err != nil && !isConditionFailure(err) {
		return fmt.Errorf("record inbound message: %w", err)
	}
	return nil
}

// statusTime is the attribute that holds the time a status was reached.
var statusTime = map[messages.Status]string{
	messages.StatusSent: "sent_at", messages.StatusDelivered: "delivered_at", messages.StatusRead: "read_at", messages.StatusFailed: "failed_at",
	messages.StatusCompleted: "completed_at",
}

// UpdateStatus moves a message forward to status st in one conditional
// write: the condition lists the statuses st advances from, so no
// interleaving of callbacks ever moves a message back.
func (s *Messages) UpdateStatus(ctx context.Context, tenantID, id string, st messages.Status, t time.Time, f *messages.Failure) (messages.Message, bool, error) {
	at, ok := statusTime[st]
	if !ok {
		return messages.Message{}, false, apperr.Invalidf("status", "a message cannot be moved to %q", st)
	}
	var from []string
	vals := map[string]types.AttributeValue{":s": avS(string(st)), ":t": avN(t.UnixMilli())}
	for _, prev := range []messages.Status{messages.StatusQueued, messages.StatusSent, messages.StatusDelivered, messages.StatusRead} {
		if messages.Advances(prev, st) {
			k := ":f" + strconv.Itoa(len(from))
			from = append(from, k)
			vals[k] = avS(string(prev))
		}
	}
	set := "SET #status = :s, " + at + " = :t"
	if f != nil {
		fv, err := attributevalue.Marshal(f)
		if err != nil {
			return messages.Message{}, false, err
		}
		vals[":failure"] = fv
		set += ", failure = :failure"
	}
	out, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key(messagePK(tenantID, id), skMessage),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String("#status IN (" + strings.Join(from, ", ") + ")"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: vals,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if isConditionFailure(err) {
		m, err := s.GetMessage(ctx, tenantID, id)
		return m, false, err
	}
	if err != nil {
		return messages.Message{}, false, fmt.Errorf("update status of message %s: %w", id, err)
	}
	var m messages.Message
	if err := attributevalue.UnmarshalMap(out.Attributes, &m); err != nil {
		return messages.Message{}, false, fmt.Errorf("update status of message %s: unmarshal: %w", id, err)
	}
	return m, true, nil
}

// providerRef is the pointer from a provider's id of a message to it.
type providerRef struct {
	TenantID  string `dynamodbav:"tenant_id"`
	ChannelID string `dynamodbav:"channel_id"`
	MessageID string `dynamodbav:"message_id"`
}

// MessageByProviderID finds the message the provider knows by providerID:
// its pointer on the operations table (no stream: a message sent costs the
// data table one write), or on the data table where pointers were kept
// before.
func (s *Messages) MessageByProviderID(ctx context.Context, kind, providerID string) (tenantID, messageID string, err error) {
	var ref providerRef
	err = getItem(ctx, s.API, s.OpsTable, providerIDPK(kind, providerID), skProviderID, false, &ref, apperr.NotFound("Message", providerID))
	if apperr.Is(err, apperr.KindNotFound) {
		// A pointer written before they moved to the operations table.
		err = getItem(ctx, s.API, s.Table, providerIDPK(kind, providerID), skProviderID, false, &ref, apperr.NotFound("Message", providerID))
	}
	if err != nil {
		return "", "", err
	}
	if ref.MessageID == "" {
		// An early status waiting for its message (RecordEarlyStatus).
		return "", "", apperr.NotFound("Message", providerID)
	}
	return ref.TenantID, ref.MessageID, nil
}

// UpdateStatusByProviderID is UpdateStatus for a provider's callback.
func (s *Messages) UpdateStatusByProviderID(ctx context.Context, kind, providerID string, st messages.Status, t time.Time, f *messages.Failure) (messages.Message, bool, error) {
	tenantID, id, err := s.MessageByProviderID(ctx, kind, providerID)
	if err != nil {
		return messages.Message{}, false, err
	}
	return s.UpdateStatus(ctx, tenantID, id, st, t, f)
}

// The sender's writes. A sender claims a queued message before calling the
// provider (a token and a lease), so that two copies of its queue message
// handled at once call the provider once; it then records the outcome.

// ClaimMessage claims a queued message for one call to the provider, for
// lease (ClaimMessages for one message). It returns the message as
// claimed; a message that is no longer queued is returned as stored with
// done true; a live claim of another sender is *messages.ClaimedError.
func (s *Messages) ClaimMessage(ctx context.Context, tenantID, id, token string, now time.Time, lease time.Duration) (m messages.Message, done bool, err error) {
	c := s.ClaimMessages(ctx, []messages.Key{{TenantID: tenantID, ID: id}}, token, now, lease)[0]
	return c.Message, c.Done, c.Err
}

// RecordSent records that the provider accepted a message: status sent, its
// provider id, one more attempt, the claim gone; and the pointer from the
// provider id to the message, in the same transaction. A message no
// longer queued is left as it is (done by another sender).
func (s *Messages) RecordSent(ctx context.Context, m messages.Message, providerID string, at time.Time) error {
	items, err := s.sentItems(m, providerID, at)
	if err != nil {
		return err
	}
	_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	switch failedCondition(err) {
	case 0:
		return nil // no longer queued: done by another sender
	case 1:
		return s.recordSentEarly(ctx, m, providerID, at)
	}
	if err != nil {
		return fmt.Errorf("record message %s sent: %w", m.ID, err)
	}
	return nil
}

// sentItems are RecordSent's transaction items: the message's update
// first, then the provider id's pointer (when there is an id).
func (s *Messages) sentItems(m messages.Message, providerID string, at time.Time) ([]types.TransactWriteItem, error) {
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                aws.String(s.Table),
			Key:                      key(messagePK(m.TenantID, m.ID), skMessage),
			UpdateExpression:         aws.String("SET #status = :sent, provider_id = :pid, sent_at = :t, attempts = attempts + :one REMOVE last_error"),
			ConditionExpression:      aws.String("#status = :queued"),
			ExpressionAttributeNames: map[string]string{"#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":sent": avS(string(messages.StatusSent)), ":queued": avS(string(messages.StatusQueued)),
				":pid": avS(providerID), ":t": avN(at.UnixMilli()), ":one": avN(1),
			},
		}},
	}
	if providerID != "" {
		ref, err := item(providerIDPK(m.ChannelKind, providerID), skProviderID, providerRef{TenantID: m.TenantID, ChannelID: m.ChannelID, MessageID: m.ID})
		if err != nil {
			return nil, err
		}
		// An early status (RecordEarlyStatus) on the pointer's key fails
		// this write: RecordSent then applies it (recordSentEarly).
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.OpsTable), Item: ref,
			ConditionExpression:      aws.String("attribute_not_exists(#early)"),
			ExpressionAttributeNames: map[string]string{"#early": attrEarlyStatus}}})
	}
	return items, nil
}

// RecordRetry records an attempt to be made again (the provider timed out,
// throttled or failed): one more attempt and its error on the message, the
// claim released, in one transaction that holds only while the claim is
// token's.
func (s *Messages) RecordRetry(ctx context.Context, tenantID, id, token string, f messages.Failure) error {
	items, err := s.retryItems(tenantID, id, token, f)
	if err != nil {
		return err
	}
	_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err != nil && failedCondition(err) < 0 {
		return fmt.Errorf("record retry of message %s: %w", id, err)
	}
	return nil
}

// retryItems are RecordRetry's transaction items: the message's update
// first, then the claim's release.
func (s *Messages) retryItems(tenantID, id, token string, f messages.Failure) ([]types.TransactWriteItem, error) {
	fv, err := attributevalue.Marshal(f)
	if err != nil {
		return nil, err
	}
	return []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                aws.String(s.Table),
			Key:                      key(messagePK(tenantID, id), skMessage),
			UpdateExpression:         aws.String("SET attempts = attempts + :one, last_error = :f"),
			ConditionExpression:      aws.String("#status = :queued"),
			ExpressionAttributeNames: map[string]string{"#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":one": avN(1), ":f": fv, ":queued": avS(string(messages.StatusQueued)),
			},
		}},
		{Delete: s.releaseDelete(tenantID, id, token)},
	}, nil
}

// RecordFailed records that a message failed for good: the provider
// refused it, or its attempts ran out. attempted says whether the failure
// was a call to the provider (counted as an attempt).
func (s *Messages) RecordFailed(ctx context.Context, tenantID, id string, f messages.Failure, at time.Time, attempted bool) error {
	u, err := s.failedUpdate(tenantID, id, f, at, attempted)
	if err != nil {
		return err
	}
	_, err = s.API.UpdateItem(ctx, updateInput(u))
	if err != nil && !isConditionFailure(err) {
		return fmt.Errorf("record message %s failed: %w", id, err)
	}
	return nil
}

func (s *Messages) failedUpdate(tenantID, id string, f messages.Failure, at time.Time, attempted bool) (*types.Update, error) {
	fv, err := attributevalue.Marshal(f)
	if err != nil {
		return nil, err
	}
	n := int64(0)
	if attempted {
		n = 1
	}
	return &types.Update{
		TableName:                aws.String(s.Table),
		Key:                      key(messagePK(tenantID, id), skMessage),
		UpdateExpression:         aws.String("SET #status = :failed, failure = :f, failed_at = :t, attempts = attempts + :n REMOVE last_error"),
		ConditionExpression:      aws.String("#status = :queued"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":failed": avS(string(messages.StatusFailed)), ":queued": avS(string(messages.StatusQueued)),
			":f": fv, ":t": avN(at.UnixMilli()), ":n": avN(n),
		},
	}, nil
}

// ReleaseClaim gives a claim up without an attempt (the sender's own
// fault): the claim item goes if it is still token's.
func (s *Messages) ReleaseClaim(ctx context.Context, tenantID, id, token string) error {
	d := s.releaseDelete(tenantID, id, token)
	_, err := s.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: d.TableName, Key: d.Key, ConditionExpression: d.ConditionExpression,
		ExpressionAttributeNames: d.ExpressionAttributeNames, ExpressionAttributeValues: d.ExpressionAttributeValues})
	if err != nil && !isConditionFailure(err) {
		return fmt.Errorf("release claim on message %s: %w", id, err)
	}
	return nil
}

func (s *Messages) releaseDelete(tenantID, id, token string) *types.Delete {
	return &types.Delete{
		TableName:                 aws.String(s.OpsTable),
		Key:                       key(claimPK(tenantID, id), skClaim),
		ConditionExpression:       aws.String("#claim = :tok"),
		ExpressionAttributeNames:  map[string]string{"#claim": attrClaim},
		ExpressionAttributeValues: map[string]types.AttributeValue{":tok": avS(token)},
	}
}
