package ddbstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
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
// sequence number), its sequence counter and its state (the last pull).
type Installations struct {
	API      API
	Table    string // the data table
	OpsTable string // the operations table

	seqMu sync.Mutex
	seqs  map[string]*seqSlot // by installation (Enqueue)
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

// The sequence numbers. An add takes its number from the counter on the
// installation's state item (INSTALLST#<uuid>, STATE: seq), by one
// unconditional ADD, as adds did before the SEQ item existed; so adds of
// this code and of that one, running side by side during a deploy, never
// take the same number, and no add of either ever waits for the other's
// transaction (the counter is in none). The SEQ item (INSTALLST#<uuid>,
// SEQ: seq) is the last number whose message landed: an add's
// transaction stores its message and entry on the condition that SEQ is
// below its number, and sets SEQ to it. So once SEQ has passed a number,
// no entry of that number can land any more (an add that lost the race
// takes a new number, after the others), and a pull reads the queue only
// up to SEQ: nothing it reads can be followed by an earlier entry.
// Numbers strictly increase in the order the adds landed; a number whose
// add took a new one is never used.
const skInstallSeq = "SEQ"

// counters reads the installation's SEQ (the last number landed) and its
// state's seq (the last number given), strongly consistent; 0: none.
func (s *Installations) counters(ctx context.Context, uuid string) (landed, given int64, err error) {
	items, err := queryItems(ctx, s.API, &dynamodb.QueryInput{
		TableName:                 aws.String(s.OpsTable),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(installStatePK(uuid))},
		ConsistentRead:            aws.Bool(true),
	}, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("read sequence: %w", err)
	}
	for _, it := range items {
		sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
		n, ok := it["seq"].(*types.AttributeValueMemberN)
		if sk == nil || !ok {
			continue
		}
		v, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("read sequence: %w", err)
		}
		switch sk.Value {
		case skInstallSeq:
			landed = v
		case skInstallState:
			given = v
		}
	}
	return landed, given, nil
}

// reserve gives the installation's next number (ADD on the state's seq).
func (s *Installations) reserve(ctx context.Context, uuid string) (int64, error) {
	out, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.OpsTable), Key: key(installStatePK(uuid), skInstallState),
		UpdateExpression:          aws.String("ADD seq :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": avN(1)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("queue message: sequence: %w", err)
	}
	n, ok := out.Attributes["seq"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, errors.New("queue message: sequence: no number returned")
	}
	return strconv.ParseInt(n.Value, 10, 64)
}

// catchUp moves the state's seq up to SEQ when it is behind: an
// installation numbered while SEQ alone was the counter (its state's seq
// absent or lower) goes on after its last number.
func (s *Installations) catchUp(ctx context.Context, uuid string) error {
	landed, given, err := s.counters(ctx, uuid)
	if err != nil || given >= landed {
		return err
	}
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.OpsTable), Key: key(installStatePK(uuid), skInstallState),
		UpdateExpression:          aws.String("SET seq = :n"),
		ConditionExpression:       aws.String("attribute_not_exists(seq) OR seq < :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": avN(landed)},
	})
	if err != nil && !isConditionFailure(err) {
		return fmt.Errorf("queue message: sequence: %w", err)
	}
	return nil
}

// seqSlot serialises this process's adds to one installation: one at a
// time, none of them loses the race to another of the same process.
type seqSlot struct {
	mu sync.Mutex
}

// maxSeqSlots bounds the slots a process keeps; past it they start over.
const maxSeqSlots = 10000

func (s *Installations) slot(uuid string) *seqSlot {
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	if s.seqs == nil || len(s.seqs) >= maxSeqSlots {
		s.seqs = map[string]*seqSlot{}
	}
	sl, ok := s.seqs[uuid]
	if !ok {
		sl = &seqSlot{}
		s.seqs[uuid] = sl
	}
	return sl
}

// enqueueAttempts is how often an add tries for a number when other
// processes' adds keep landing first.
const enqueueAttempts = 40

// Enqueue takes the installation's next number, then stores the message,
// its queue entry (and its release, if held) and SEQ = that number in one
// transaction, on the condition that SEQ is still below it. So a message's
// entry exists from the moment SEQ covers its number, and a number SEQ has
// passed never gets an entry: a pull never sees a later message without
// the earlier ones. Another process's add with a later number landing
// first cancels the transaction: this add takes a new number (after it)
// and tries again.
func (s *Installations) Enqueue(ctx context.Context, uuid string, m messages.Message, e installations.Entry, release *scheduler.Due) (installations.Entry, error) {
	sl := s.slot(uuid)
	sl.mu.Lock()
	defer sl.mu.Unlock()
	mi, err := item(messagePK(m.TenantID, m.ID), skMessage, m)
	if err != nil {
		return e, err
	}
	indexChannelMessage(mi, m)
	fresh := true
	for attempt := 1; ; attempt++ {
		if fresh {
			if e.Seq, err = s.reserve(ctx, uuid); err != nil {
				return e, err
			}
		}
		mi[attrInstallSeq] = avN(e.Seq)
		ei, err := item(installQueuePK(uuid), installSeqSK(e.Seq), e)
		if err != nil {
			return e, err
		}
		counter := &types.Update{
			TableName: aws.String(s.OpsTable), Key: key(installStatePK(uuid), skInstallSeq),
			UpdateExpression:          aws.String("SET seq = :n"),
			ConditionExpression:       aws.String("attribute_not_exists(seq) OR seq < :n"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": avN(e.Seq)},
		}
		items := []types.TransactWriteItem{{Update: counter}, putNew(s.Table, mi), putNew(s.OpsTable, ei)}
		if release != nil {
			items = append(items, DueItem(s.OpsTable, *release))
		}
		_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return e, nil
		}
		taken, conflict := seqLost(err)
		if !taken && !conflict {
			return e, fmt.Errorf("queue message %s: %w", m.ID, err)
		}
		if attempt == enqueueAttempts {
			return e, apperr.Unavailable("The installation's queue is busy with other messages being added: try again.").Wrap(err)
		}
		// Taken: a later number landed first; a new one (after a
		// counter left behind SEQ is caught up). A conflict only: the
		// same number again.
		fresh = taken
		if taken {
			if err := s.catchUp(ctx, uuid); err != nil {
				return e, err
			}
		}
		if conflict || attempt > 2 {
			// Back off a little, at random, from the others.
			d := time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(2*time.Millisecond)))
			select {
			case <-ctx.Done():
				return e, ctx.Err()
			case <-time.After(d):
			}
		}
	}
}

// seqLost tells why an add's transaction was cancelled: its number was
// passed (SEQ's condition failed), or a concurrent transaction held one
// of its items; neither stores anything. The message existing already, or
// an entry of its number with SEQ below it, is neither.
func seqLost(err error) (taken, conflict bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false, false
	}
	failed := func(i int) bool {
		return i < len(tce.CancellationReasons) && aws.ToString(tce.CancellationReasons[i].Code) == "ConditionalCheckFailed"
	}
	for _, r := range tce.CancellationReasons {
		conflict = conflict || aws.ToString(r.Code) == "TransactionConflict"
	}
	if failed(1) || failed(2) && !failed(0) {
		return false, false
	}
	return failed(0), conflict
}

// Head reads the first limit entries of the queue (strongly consistent),
// as far as SEQ read just before: every entry numbered up to it that will
// ever exist was stored before the query began, so the query sees them
// all (a query is not a snapshot: it might see a later entry stored while
// it runs without an earlier one), and what is past it waits for the next
// read. Entries past SEQ but within the numbers given were stored by adds
// that do not move SEQ (the code before it, during a deploy): SEQ is moved
// up to the last of them first, so that an add still in flight below it
// cannot land any more (it takes a new number after them), and they are
// read with the rest.
func (s *Installations) Head(ctx context.Context, uuid string, limit int) ([]installations.Entry, error) {
	landed, given, err := s.counters(ctx, uuid)
	if err != nil {
		return nil, fmt.Errorf("read queue: %w", err)
	}
	if given > landed {
		last, err := queryItems(ctx, s.API, &dynamodb.QueryInput{
			TableName:              aws.String(s.OpsTable),
			KeyConditionExpression: aws.String("PK = :pk AND SK BETWEEN :from AND :to"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": avS(installQueuePK(uuid)), ":from": avS(installSeqSK(landed + 1)), ":to": avS(installSeqSK(given)),
			},
			ScanIndexForward: aws.Bool(false),
			ConsistentRead:   aws.Bool(true),
		}, 1)
		if err != nil {
			return nil, fmt.Errorf("read queue: %w", err)
		}
		if len(last) == 1 {
			var e installations.Entry
			if err := attributevalue.UnmarshalMap(last[0], &e); err != nil {
				return nil, fmt.Errorf("read queue: %w", err)
			}
			_, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String(s.OpsTable), Key: key(installStatePK(uuid), skInstallSeq),
				UpdateExpression:          aws.String("SET seq = :n"),
				ConditionExpression:       aws.String("attribute_not_exists(seq) OR seq < :n"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":n": avN(e.Seq)},
			})
			switch {
			case err == nil || isConditionFailure(err): // SEQ is there (or past it)
				landed = e.Seq
			case isConflict(err): // an add is landing: the next read takes them
			default:
				return nil, fmt.Errorf("read queue: %w", err)
			}
		}
	}
	items, err := queryItems(ctx, s.API, &dynamodb.QueryInput{
		TableName:                 aws.String(s.OpsTable),
		KeyConditionExpression:    aws.String("PK = :pk AND SK <= :last"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(installQueuePK(uuid)), ":last": avS(installSeqSK(landed))},
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

// Lease leases the entries in order and stops at the first that is no
// longer free: it must still be there, not held, not acked, and not
// leased (or its lease ended). It returns how many it leased: a prefix of
// entries, so that what a pull hands out is the head of the queue (a
// later entry is never leased without the ones before it). The page goes
// in transactions of leaseChunk entries, several at once (one call per
// chunk, not one per message; the emulator runs a transaction's items one
// after the other, so chunks in parallel finish sooner than one large
// one). A chunk that is refused is tried again up to the entry that
// refused it (its condition failed, or another write held it); the
// entries leased past the first one not leased are given back.
func (s *Installations) Lease(ctx context.Context, uuid string, entries []installations.Entry, _ string, now, until time.Time) (int, error) {
	n := (len(entries) + leaseChunk - 1) / leaseChunk
	leased := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for c := range n {
		wg.Go(func() {
			leased[c], errs[c] = s.leasePrefix(ctx, uuid, entries[c*leaseChunk:min((c+1)*leaseChunk, len(entries))], now, until)
		})
	}
	wg.Wait()
	total, cut := 0, false
	var first error
	for c := range n {
		size := min((c+1)*leaseChunk, len(entries)) - c*leaseChunk
		if !cut {
			total += leased[c]
			cut = leased[c] < size
			first = errs[c]
			continue
		}
		// Past the first entry not leased: give these back.
		for _, e := range entries[c*leaseChunk : c*leaseChunk+leased[c]] {
			_, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String(s.OpsTable), Key: key(installQueuePK(uuid), installSeqSK(e.Seq)),
				UpdateExpression:          aws.String("REMOVE lease, lease_until"),
				ConditionExpression:       aws.String("lease = :tok AND attribute_not_exists(" + attrAcked + ")"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":tok": avS(e.Lease)},
			})
			if err != nil && !isConditionFailure(err) && !isConflict(err) {
				first = cmp.Or(first, fmt.Errorf("give back lease of message %s: %w", e.MessageID, err))
			}
		}
	}
	return total, first
}

// leaseChunk is how many entries one transaction of a pull leases.
const leaseChunk = 25

// leasePrefix leases entries in one transaction, or, when it is refused,
// the entries before the first that refused it (a prefix): how many.
func (s *Installations) leasePrefix(ctx context.Context, uuid string, entries []installations.Entry, now, until time.Time) (int, error) {
	for len(entries) > 0 {
		if len(entries) == 1 {
			_, err := s.API.UpdateItem(ctx, s.leaseUpdate(uuid, entries[0], now, until))
			if isConditionFailure(err) || isConflict(err) {
				return 0, nil
			}
			if err != nil {
				return 0, fmt.Errorf("lease message %s: %w", entries[0].MessageID, err)
			}
			return 1, nil
		}
		items := make([]types.TransactWriteItem, len(entries))
		for i, e := range entries {
			u := s.leaseUpdate(uuid, e, now, until)
			items[i] = types.TransactWriteItem{Update: &types.Update{TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
				ConditionExpression: u.ConditionExpression, ExpressionAttributeValues: u.ExpressionAttributeValues}}
		}
		_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return len(entries), nil
		}
		first := firstRefused(err)
		if first < 0 {
			return 0, fmt.Errorf("lease messages: %w", err)
		}
		entries = entries[:first]
	}
	return 0, nil
}

// leaseUpdate is the conditional write that leases one entry.
func (s *Installations) leaseUpdate(uuid string, e installations.Entry, now, until time.Time) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName: aws.String(s.OpsTable), Key: key(installQueuePK(uuid), installSeqSK(e.Seq)),
		UpdateExpression: aws.String("SET lease = :tok, lease_until = :until"),
		ConditionExpression: aws.String("attribute_exists(PK) AND msg = :msg AND attribute_not_exists(hold_until) AND attribute_not_exists(" + attrAcked + ")" +
			" AND (attribute_not_exists(lease_until) OR lease_until <= :now)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":tok": avS(e.Lease), ":until": avN(until.UnixMilli()), ":now": avN(now.UnixMilli()), ":msg": avS(e.MessageID),
		},
	}
}

// firstRefused is the index of the first item of a cancelled transaction
// that refused it (its condition failed, or another write held it), -1
// when err is not a cancelled transaction that names one.
func firstRefused(err error) int {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return -1
	}
	for i, r := range tce.CancellationReasons {
		if c := aws.ToString(r.Code); c != "" && c != "None" {
			if c != "ConditionalCheckFailed" && c != "TransactionConflict" {
				return -1
			}
			return i
		}
	}
	return -1
}

// isConflict reports a single write refused because a transaction held
// its item.
func isConflict(err error) bool {
	var tc *types.TransactionConflictException
	return errors.As(err, &tc)
}

// attrAcked is the lease that acked a queue entry: an ack first records
// itself on the entry (the one conditional write that decides it), then
// sets the message's status and deletes the entry. Whoever finds an entry
// so marked (a repeated ack, the next pull) finishes that ack.
const attrAcked = "acked"

// Ack ends one leased message: in one transaction, its entry goes (on
// the condition that the entry is leased to this lease and not acked)
// and the message takes its status. When that is refused, ackOne says
// why (or acks it as it did before the transaction: recorded on the
// entry, then finished). A repeated ack is answered as the first; a
// stale lease is ErrStaleLease; an entry acked by another lease is
// ErrNoEntry.
func (s *Installations) Ack(ctx context.Context, tenantID, uuid, messageID string, seq int64, token string, st messages.Status, f *messages.Failure, now time.Time) (messages.Message, error) {
	a := installations.AckItem{ID: messageID, Seq: seq, Lease: token, Status: st, Failure: f}
	done, err := s.ackTx(ctx, tenantID, uuid, []installations.AckItem{a}, now)
	if err != nil {
		return messages.Message{}, err
	}
	if done[0] {
		return messages.Message{ID: messageID, TenantID: tenantID, Status: st}, nil
	}
	return s.ackOne(ctx, tenantID, uuid, a, now)
}

// ackOne acks one message in three writes: the ack is recorded on its
// entry under the entry's lease (what decides it), then the message
// takes its status and the entry goes (finish); when the first write is
// refused, it says why. It is the path of an ack whose transaction was
// refused, and the way acks went before they were one transaction
// (entries so recorded are finished by Finish).
func (s *Installations) ackOne(ctx context.Context, tenantID, uuid string, a installations.AckItem, now time.Time) (messages.Message, error) {
	messageID, seq, token, st, f := a.ID, a.Seq, a.Lease, a.Status, a.Failure
	vals := map[string]types.AttributeValue{
		":tok": avS(token), ":msg": avS(messageID), ":s": avS(string(st)), ":t": avN(now.UnixMilli()),
	}
	set := "SET " + attrAcked + " = :tok, ack_status = :s, ack_at = :t"
	if f != nil {
		fv, err := attributevalue.Marshal(f)
		if err != nil {
			return messages.Message{}, err
		}
		vals[":failure"] = fv
		set += ", ack_failure = :failure"
	}
	_, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.OpsTable), Key: key(installQueuePK(uuid), installSeqSK(seq)),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String("lease = :tok AND msg = :msg AND attribute_not_exists(" + attrAcked + ")"),
		ExpressionAttributeValues: vals,
	})
	if err == nil {
		if err := s.finish(ctx, tenantID, uuid, a, now.UnixMilli()); err != nil {
			return messages.Message{}, err
		}
		return messages.Message{ID: messageID, TenantID: tenantID, Status: st}, nil
	}
	if !isConditionFailure(err) {
		return messages.Message{}, fmt.Errorf("ack message %s: %w", messageID, err)
	}
	// Why: the entry's lease is another's, the entry is acked (by this
	// lease: finish it; by another: refused), or the entry is gone.
	res, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.OpsTable), Key: key(installQueuePK(uuid), installSeqSK(seq)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return messages.Message{}, fmt.Errorf("ack message %s: %w", messageID, err)
	}
	if res.Item != nil {
		var e installations.Entry
		if err := attributevalue.UnmarshalMap(res.Item, &e); err != nil {
			return messages.Message{}, fmt.Errorf("ack message %s: %w", messageID, err)
		}
		switch {
		case e.MessageID != messageID || e.Acked == "" && e.Lease != token:
			return messages.Message{}, installations.ErrStaleLease
		case e.Acked == token && e.AckStatus == st:
			// The same ack again, before the first finished.
			if err := s.Finish(ctx, uuid, e); err != nil {
				return messages.Message{}, err
			}
			return messages.Message{ID: messageID, TenantID: tenantID, Status: st}, nil
		case e.Acked != "" && e.Lease != token:
			return messages.Message{}, installations.ErrStaleLease
		default:
			return messages.Message{}, installations.ErrNoEntry
		}
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

// Finish completes an ack recorded on an entry (Entry.Acked): the
// message takes the status the ack gave it, then the entry goes. Each
// step is idempotent, so an ack and a pull may both finish the same one.
func (s *Installations) Finish(ctx context.Context, uuid string, e installations.Entry) error {
	if e.Acked == "" {
		return nil
	}
	a := installations.AckItem{ID: e.MessageID, Seq: e.Seq, Lease: e.Acked, Status: e.AckStatus, Failure: e.AckFailure}
	return s.finish(ctx, e.TenantID, uuid, a, e.AckAt)
}

func (s *Installations) finish(ctx context.Context, tenantID, uuid string, a installations.AckItem, at int64) error {
	upd, err := s.messageAck(tenantID, uuid, a, at)
	if err != nil {
		return err
	}
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: upd.TableName, Key: upd.Key, UpdateExpression: upd.UpdateExpression, ConditionExpression: upd.ConditionExpression,
		ExpressionAttributeNames: upd.ExpressionAttributeNames, ExpressionAttributeValues: upd.ExpressionAttributeValues,
	})
	if err != nil && !isConditionFailure(err) { // a condition failure: finished already
		return fmt.Errorf("ack message %s: %w", a.ID, err)
	}
	_, err = s.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.OpsTable), Key: key(installQueuePK(uuid), installSeqSK(a.Seq)),
		ConditionExpression:       aws.String(attrAcked + " = :tok"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":tok": avS(a.Lease)},
	})
	if err != nil && !isConditionFailure(err) {
		return fmt.Errorf("ack message %s: %w", a.ID, err)
	}
	return nil
}

// messageAck is the write that gives an acked message its status (at,
// Unix ms), on the condition that it is still queued and the
// installation's: the only change of an installation's message after
// its release.
func (s *Installations) messageAck(tenantID, uuid string, a installations.AckItem, at int64) (*types.Update, error) {
	vals := map[string]types.AttributeValue{
		":s": avS(string(a.Status)), ":t": avN(at), ":queued": avS(string(messages.StatusQueued)),
		":inst": avS(uuid), ":tok": avS(a.Lease), ":one": avN(1),
	}
	set := "SET #status = :s, " + statusTime[a.Status] + " = :t, " + attrAckLease + " = :tok, attempts = attempts + :one"
	if a.Failure != nil {
		fv, err := attributevalue.Marshal(a.Failure)
		if err != nil {
			return nil, err
		}
		vals[":failure"] = fv
		set += ", failure = :failure"
	}
	return &types.Update{
		TableName: aws.String(s.Table), Key: key(messagePK(tenantID, a.ID), skMessage),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String("#status = :queued AND installation_id = :inst"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: vals,
	}, nil
}

// ackChunk is how many acks of a batch go in one transaction.
const ackChunk = 10

// ackRounds is how often ackTx sends the acks that were refused only
// because others in their transaction were (or a concurrent write held
// an item).
const ackRounds = 3

// ackTx acks messages in one transaction (two items per ack: at most 50
// acks, DynamoDB's 100 items): each ack's entry goes, on the condition
// that it is leased to the ack's lease and not acked, and its message
// takes its status. done tells which were acked; an ack whose own
// condition failed is left to ackOne, and so is one whose entry another
// ack of the same call names.
func (s *Installations) ackTx(ctx context.Context, tenantID, uuid string, acks []installations.AckItem, now time.Time) ([]bool, error) {
	done := make([]bool, len(acks))
	todo := make([]int, 0, len(acks))
	seqs := map[int64]bool{}
	for i, a := range acks {
		if !seqs[a.Seq] {
			seqs[a.Seq] = true
			todo = append(todo, i)
		}
	}
	at := now.UnixMilli()
	for round := 1; len(todo) > 0 && round <= ackRounds; round++ {
		items := make([]types.TransactWriteItem, 0, 2*len(todo))
		for _, i := range todo {
			a := acks[i]
			upd, err := s.messageAck(tenantID, uuid, a, at)
			if err != nil {
				return nil, err
			}
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{
				TableName: aws.String(s.OpsTable), Key: key(installQueuePK(uuid), installSeqSK(a.Seq)),
				ConditionExpression:       aws.String("lease = :tok AND msg = :msg AND attribute_not_exists(" + attrAcked + ")"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":tok": avS(a.Lease), ":msg": avS(a.ID)},
			}}, types.TransactWriteItem{Update: upd})
		}
		_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			for _, i := range todo {
				done[i] = true
			}
			return done, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return nil, fmt.Errorf("ack messages: %w", err)
		}
		failed := func(k int) bool {
			return k < len(tce.CancellationReasons) && aws.ToString(tce.CancellationReasons[k].Code) == "ConditionalCheckFailed"
		}
		again := todo[:0:0]
		for j, i := range todo {
			if !failed(2*j) && !failed(2*j+1) {
				again = append(again, i)
			}
		}
		if len(again) == len(todo) {
			// Nobody's condition failed: a concurrent write held an item.
			d := time.Duration(rand.Int64N(int64(round) * int64(5*time.Millisecond)))
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(d):
			}
		}
		todo = again
	}
	return done, nil
}

// AckMany acks several leased messages, each as Ack: in transactions of
// ackChunk acks (ackTx), several at once, then those they did not ack one
// by one (ackOne), several at once: one error per ack (nil: acked), or an
// error that is none of theirs.
func (s *Installations) AckMany(ctx context.Context, tenantID, uuid string, acks []installations.AckItem, now time.Time) ([]error, error) {
	// Transactions of ackChunk acks, several at once (see Lease).
	n := (len(acks) + ackChunk - 1) / ackChunk
	done := make([]bool, 0, len(acks))
	dones := make([][]bool, n)
	txErrs := make([]error, n)
	var twg sync.WaitGroup
	for c := range n {
		twg.Go(func() {
			dones[c], txErrs[c] = s.ackTx(ctx, tenantID, uuid, acks[c*ackChunk:min((c+1)*ackChunk, len(acks))], now)
		})
	}
	twg.Wait()
	for c := range n {
		if txErrs[c] != nil {
			return nil, txErrs[c]
		}
		done = append(done, dones[c]...)
	}
	errs := make([]error, len(acks))
	var mu sync.Mutex
	var fatal error
	var wg sync.WaitGroup
	sem := make(chan struct{}, ackParallel)
	for i, a := range acks {
		if done[i] {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := s.ackOne(ctx, tenantID, uuid, a, now)
			if _, ok := apperr.As(err); err != nil && !ok {
				mu.Lock()
				fatal = cmp.Or(fatal, err)
				mu.Unlock()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if fatal != nil {
		return nil, fatal
	}
	return errs, nil
}

// ackParallel is how many acks of a batch are in flight at once.
const ackParallel = 8

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
