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

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/hours"
	"github.com/startmsg/chatbackend/shared/installations"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/scheduler"
)

// Installations keeps seed 004's sender installations: the installation on
// the data table (by UUID, listed per channel in GSI1), its messages as
// messages (MSG#, with installation_id) on the data table, and on the
// operations table its queue (one entry per message not yet acked, by
// sequence number) and its state (the sequence counter, the last pull).
type Installations struct {
	API      API
	Table    string // the data table
	OpsTable string // the operations table
}

var _ installations.Store = (*Installations)(nil)

// Key layout (schema.go).
const (
	InstallationKeyPrefix = "INSTALL#"
	skInstallation        = "INSTALL"
	skInstallState        = "STATE"
	skInstallHoursPrefix  = "INSTALLHOURS#"
	// attrInstallSeq is a message's place in its installation's queue.
	attrInstallSeq = "install_seq"
	// attrAckLease is the lease that acked a message (a repeated ack).
	attrAckLease = "ack_lease"
)

func installationPK(uuid string) string { return InstallationKeyPrefix + uuid }
func installationsGSI1PK(tenantID, channelID string) string {
	return "INSTALLS#" + tenantID + "#" + channelID
}
func installQueuePK(uuid string) string { return "INSTALLQ#" + uuid }
func installStatePK(uuid string) string { return "INSTALLST#" + uuid }
func installSeqSK(seq int64) string     { return fmt.Sprintf("%016d", seq) }

// CreateInstallation stores a new installation.
func (s *Installations) CreateInstallation(ctx context.Context, in installations.Installation) error {
	it, err := s.installationItem(in)
	if err != nil {
		return err
	}
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if isConditionFailure(err) {
		return apperr.Exists("Installation %q exists.", in.UUID)
	}
	if err != nil {
		return fmt.Errorf("create installation: %w", err)
	}
	return nil
}

func (s *Installations) installationItem(in installations.Installation) (map[string]types.AttributeValue, error) {
	it, err := item(installationPK(in.UUID), skInstallation, in)
	if err != nil {
		return nil, err
	}
	it[AttrGSI1PK] = avS(installationsGSI1PK(in.TenantID, in.ChannelID))
	it[AttrGSI1SK] = avS(fmt.Sprintf("%013d#%s", in.CreatedAt, in.UUID))
	return it, nil
}

// UpdateInstallation replaces an existing installation.
func (s *Installations) UpdateInstallation(ctx context.Context, in installations.Installation) error {
	it, err := s.installationItem(in)
	if err != nil {
		return err
	}
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: it, ConditionExpression: aws.String("attribute_exists(PK)")})
	if isConditionFailure(err) {
		return apperr.NotFound("Installation", in.UUID)
	}
	if err != nil {
		return fmt.Errorf("update installation: %w", err)
	}
	return nil
}

// GetInstallation reads one installation.
func (s *Installations) GetInstallation(ctx context.Context, uuid string) (installations.Installation, error) {
	var in installations.Installation
	err := getItem(ctx, s.API, s.Table, installationPK(uuid), skInstallation, false, &in, apperr.NotFound("Installation", uuid))
	return in, err
}

// ListInstallations reads a channel's installations from GSI1.
func (s *Installations) ListInstallations(ctx context.Context, tenantID, channelID string) ([]installations.Installation, error) {
	items, err := queryItems(ctx, s.API, &dynamodb.QueryInput{
		TableName: aws.String(s.Table), IndexName: aws.String(GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(installationsGSI1PK(tenantID, channelID))},
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("list installations: %w", err)
	}
	out := []installations.Installation{}
	if err := attributevalue.UnmarshalListOfMaps(items, &out); err != nil {
		return nil, fmt.Errorf("list installations: %w", err)
	}
	return out, nil
}

type installState struct {
	Seen int64 `dynamodbav:"seen"`
	Seq  int64 `dynamodbav:"seq"`
}

var errNoState = errors.New("no state")

// LastSeen reads the installation's last pull.
func (s *Installations) LastSeen(ctx context.Context, uuid string) (int64, error) {
	var st installState
	err := getItem(ctx, s.API, s.OpsTable, installStatePK(uuid), skInstallState, false, &st, errNoState)
	if errors.Is(err, errNoState) {
		return 0, nil
	}
	return st.Seen, err
}

// Seen records a pull.
func (s *Installations) Seen(ctx context.Context, uuid string, now time.Time) error {
	_, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.OpsTable), Key: key(installStatePK(uuid), skInstallState),
		UpdateExpression:          aws.String("SET seen = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": avN(now.UnixMilli())},
	})
	if err != nil {
		return fmt.Errorf("record pull: %w", err)
	}
	return nil
}

type channelHours struct {
	Hours hours.Schedule `dynamodbav:"hours"`
}

// ChannelHours reads the channel's allowed hours (TENANT#<t>,
// INSTALLHOURS#<c>); none set is always open.
func (s *Installations) ChannelHours(ctx context.Context, tenantID, channelID string) (hours.Schedule, error) {
	var h channelHours
	err := getItem(ctx, s.API, s.Table, tenantPK(tenantID), skInstallHoursPrefix+channelID, false, &h, errNoState)
	if errors.Is(err, errNoState) {
		return hours.Schedule{}, nil
	}
	return h.Hours, err
}

// SetChannelHours sets the channel's allowed hours.
func (s *Installations) SetChannelHours(ctx context.Context, tenantID, channelID string, sch hours.Schedule) error {
	it, err := item(tenantPK(tenantID), skInstallHoursPrefix+channelID, channelHours{Hours: sch})
	if err != nil {
		return err
	}
	if _, err := s.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: it}); err != nil {
		return fmt.Errorf("set channel hours: %w", err)
	}
	return nil
}

// Enqueue takes the installation's next sequence number, then stores the
// message, its queue entry and its release (if held) in one transaction.
// A failed transaction leaves a gap in the sequence, which costs nothing.
func (s *Installations) Enqueue(ctx context.Context, uuid string, m messages.Message, e installations.Entry, release *scheduler.Due) (installations.Entry, error) {
	out, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.OpsTable), Key: key(installStatePK(uuid), skInstallState),
		UpdateExpression:          aws.String("ADD seq :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": avN(1)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return e, fmt.Errorf("queue message: sequence: %w", err)
	}
	n, ok := out.Attributes["seq"].(*types.AttributeValueMemberN)
	if !ok {
		return e, errors.New("queue message: sequence: no number returned")
	}
	if e.Seq, err = strconv.ParseInt(n.Value, 10, 64); err != nil {
		return e, fmt.Errorf("queue message: sequence: %w", err)
	}
	mi, err := item(messagePK(m.TenantID, m.ID), skMessage, m)
	if err != nil {
		return e, err
	}
	mi[attrInstallSeq] = avN(e.Seq)
	ei, err := item(installQueuePK(uuid), installSeqSK(e.Seq), e)
	if err != nil {
		return e, err
	}
	items := []types.TransactWriteItem{putNew(s.Table, mi), putNew(s.OpsTable, ei)}
	if release != nil {
		items = append(items, DueItem(s.OpsTable, *release))
	}
	if _, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		return e, fmt.Errorf("queue message %s: %w", m.ID, err)
	}
	return e, nil
}

// Head reads the first limit entries of the queue (strongly consistent).
func (s *Installations) Head(ctx context.Context, uuid string, limit int) ([]installations.Entry, error) {
	items, err := queryItems(ctx, s.API, &dynamodb.QueryInput{
		TableName:                 aws.String(s.OpsTable),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(installQueuePK(uuid))},
		ConsistentRead:            aws.Bool(true),
	}, limit)
	if err != nil {
		return nil, fmt.Errorf("read queue: %w", err)
	}
	out := []installations.Entry{}
	if err := attributevalue.UnmarshalListOfMaps(items, &out); err != nil {
		return nil, fmt.Errorf("read queue: %w", err)
	}
	return out, nil
}

// Lease leases every entry or none: each must still be there, not held,
// and not leased (or its lease ended).
func (s *Installations) Lease(ctx context.Context, uuid string, entries []installations.Entry, _ string, now, until time.Time) (bool, error) {
	items := make([]types.TransactWriteItem, len(entries))
	for i, e := range entries {
		items[i] = types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(s.OpsTable), Key: key(installQueuePK(uuid), installSeqSK(e.Seq)),
			UpdateExpression:    aws.String("SET lease = :tok, lease_until = :until"),
			ConditionExpression: aws.String("attribute_exists(PK) AND attribute_not_exists(hold_until) AND (attribute_not_exists(lease_until) OR lease_until <= :now)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":tok": avS(e.Lease), ":until": avN(until.UnixMilli()), ":now": avN(now.UnixMilli()),
			},
		}}
	}
	_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if isConditionFailure(err) || isTransactionConflict(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lease messages: %w", err)
	}
	return true, nil
}

// isTransactionConflict reports a transaction cancelled because another
// one was changing the same items.
func isTransactionConflict(err error) bool {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "TransactionConflict" {
				return true
			}
		}
	}
	return false
}

// Ack deletes the entry under its lease and records the message's status,
// in one transaction.
func (s *Installations) Ack(ctx context.Context, tenantID, uuid, messageID string, seq int64, token string, st messages.Status, f *messages.Failure, now time.Time) (messages.Message, error) {
	at := statusTime[st]
	vals := map[string]types.AttributeValue{
		":s": avS(string(st)), ":t": avN(now.UnixMilli()), ":queued": avS(string(messages.StatusQueued)),
		":inst": avS(uuid), ":tok": avS(token), ":msg": avS(messageID),
	}
	set := "SET #status = :s, " + at + " = :t, " + attrAckLease + " = :tok, attempts = attempts + :one"
	vals[":one"] = avN(1)
	if f != nil {
		fv, err := attributevalue.Marshal(f)
		if err != nil {
			return messages.Message{}, err
		}
		vals[":failure"] = fv
		set += ", failure = :failure"
	}
	items := []types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName: aws.String(s.OpsTable), Key: key(installQueuePK(uuid), installSeqSK(seq)),
			ConditionExpression:       aws.String("lease = :tok AND msg = :msg"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":tok": vals[":tok"], ":msg": vals[":msg"]},
		}},
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: key(messagePK(tenantID, messageID), skMessage),
			UpdateExpression:          aws.String(set),
			ConditionExpression:       aws.String("#status = :queued AND installation_id = :inst"),
			ExpressionAttributeNames:  map[string]string{"#status": "status"},
			ExpressionAttributeValues: without(vals, ":msg"),
		}},
	}
	_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return messages.Message{ID: messageID, TenantID: tenantID, Status: st}, nil
	}
	if isTransactionConflict(err) {
		return messages.Message{}, apperr.Conflict("Message")
	}
	if !isConditionFailure(err) {
		return messages.Message{}, fmt.Errorf("ack message %s: %w", messageID, err)
	}
	// Why: the entry's lease is another's, or the entry is gone (acked).
	res, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.OpsTable), Key: key(installQueuePK(uuid), installSeqSK(seq)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return messages.Message{}, fmt.Errorf("ack message %s: %w", messageID, err)
	}
	if res.Item != nil {
		return messages.Message{}, installations.ErrStaleLease
	}
	mres, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(messagePK(tenantID, messageID), skMessage), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return messages.Message{}, fmt.Errorf("ack message %s: %w", messageID, err)
	}
	var m messages.Message
	if mres.Item == nil {
		return m, apperr.NotFound("Message", messageID)
	}
	if err := attributevalue.UnmarshalMap(mres.Item, &m); err != nil {
		return m, fmt.Errorf("ack message %s: %w", messageID, err)
	}
	if m.InstallationID != uuid {
		return messages.Message{}, apperr.NotFound("Message", messageID)
	}
	if l, ok := mres.Item[attrAckLease].(*types.AttributeValueMemberS); ok && l.Value == token && m.Status == st {
		return m, nil // the same ack again
	}
	return m, installations.ErrNoEntry
}

// AckMany acks several leased messages in one transaction: all or none
// (a stale lease or a gone entry fails the whole; the caller then acks
// them one by one). At most 50 (a transaction's 100 items).
func (s *Installations) AckMany(ctx context.Context, tenantID, uuid string, acks []installations.AckItem, now time.Time) error {
	items := make([]types.TransactWriteItem, 0, 2*len(acks))
	for _, a := range acks {
		at := statusTime[a.Status]
		vals := map[string]types.AttributeValue{
			":s": avS(string(a.Status)), ":t": avN(now.UnixMilli()), ":queued": avS(string(messages.StatusQueued)),
			":inst": avS(uuid), ":tok": avS(a.Lease), ":one": avN(1),
		}
		set := "SET #status = :s, " + at + " = :t, " + attrAckLease + " = :tok, attempts = attempts + :one"
		if a.Failure != nil {
			fv, err := attributevalue.Marshal(a.Failure)
			if err != nil {
				return err
			}
			vals[":failure"] = fv
			set += ", failure = :failure"
		}
		items = append(items,
			types.TransactWriteItem{Delete: &types.Delete{
				TableName: aws.String(s.OpsTable), Key: key(installQueuePK(uuid), installSeqSK(a.Seq)),
				ConditionExpression:       aws.String("lease = :tok AND msg = :msg"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":tok": vals[":tok"], ":msg": avS(a.ID)},
			}},
			types.TransactWriteItem{Update: &types.Update{
				TableName: aws.String(s.Table), Key: key(messagePK(tenantID, a.ID), skMessage),
				UpdateExpression:          aws.String(set),
				ConditionExpression:       aws.String("#status = :queued AND installation_id = :inst"),
				ExpressionAttributeNames:  map[string]string{"#status": "status"},
				ExpressionAttributeValues: vals,
			}})
	}
	if _, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		if isConditionFailure(err) || isTransactionConflict(err) {
			return installations.ErrStaleLease
		}
		return fmt.Errorf("ack %d messages: %w", len(acks), err)
	}
	return nil
}

func without(m map[string]types.AttributeValue, k string) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(m))
	for kk, v := range m {
		if kk != k {
			out[kk] = v
		}
	}
	return out
}

// Release makes a held message queued and its entry pullable, in one
// transaction; a message not held is left as it is.
func (s *Installations) Release(ctx context.Context, tenantID, messageID string) (string, bool, error) {
	res, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(messagePK(tenantID, messageID), skMessage), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", false, fmt.Errorf("release message %s: %w", messageID, err)
	}
	if res.Item == nil {
		return "", false, nil
	}
	var m messages.Message
	if err := attributevalue.UnmarshalMap(res.Item, &m); err != nil {
		return "", false, fmt.Errorf("release message %s: %w", messageID, err)
	}
	n, ok := res.Item[attrInstallSeq].(*types.AttributeValueMemberN)
	if m.Status != messages.StatusHeld || m.InstallationID == "" || !ok {
		return m.InstallationID, false, nil
	}
	seq, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return "", false, fmt.Errorf("release message %s: %w", messageID, err)
	}
	_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: key(messagePK(tenantID, messageID), skMessage),
			UpdateExpression:          aws.String("SET #status = :queued REMOVE held_until"),
			ConditionExpression:       aws.String("#status = :held"),
			ExpressionAttributeNames:  map[string]string{"#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":queued": avS(string(messages.StatusQueued)), ":held": avS(string(messages.StatusHeld))},
		}},
		{Update: &types.Update{
			TableName: aws.String(s.OpsTable), Key: key(installQueuePK(m.InstallationID), installSeqSK(seq)),
			UpdateExpression:    aws.String("REMOVE hold_until"),
			ConditionExpression: aws.String("attribute_exists(PK)"),
		}},
	}})
	if isConditionFailure(err) {
		return m.InstallationID, false, nil // released meanwhile
	}
	if err != nil {
		return "", false, fmt.Errorf("release message %s: %w", messageID, err)
	}
	return m.InstallationID, true, nil
}
