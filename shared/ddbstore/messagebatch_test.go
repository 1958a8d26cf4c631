package ddbstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/messages"
)

// countingAPI counts the calls made to DynamoDB and, once, runs race
// before the first TransactWriteItems.
type countingAPI struct {
	*dynamodb.Client
	calls atomic.Int64
	once  sync.Once
	race  func()
	// writes counts the items written to the data table (table), each
	// one a stream record.
	table  string
	writes atomic.Int64
}

func (c *countingAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.calls.Add(1)
	return c.Client.GetItem(ctx, in, o...)
}

func (c *countingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.calls.Add(1)
	if aws.ToString(in.TableName) == c.table {
		c.writes.Add(1)
	}
	return c.Client.UpdateItem(ctx, in, o...)
}

func (c *countingAPI) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.calls.Add(1)
	return c.Client.BatchGetItem(ctx, in, o...)
}

func (c *countingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.calls.Add(1)
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil && aws.ToString(it.Put.TableName) == c.table,
			it.Update != nil && aws.ToString(it.Update.TableName) == c.table,
			it.Delete != nil && aws.ToString(it.Delete.TableName) == c.table:
			c.writes.Add(1)
		}
	}
	if c.race != nil {
		c.once.Do(c.race)
	}
	return c.Client.TransactWriteItems(ctx, in, o...)
}

func queuedMessage(id string, now time.Time) messages.Message {
	return messages.Message{ID: id, TenantID: "ten_a", ChannelID: "ch_a", ChannelKind: "whatsapp", Direction: messages.Outbound,
		Type: messages.TypeText, Text: &messages.Text{Body: "hi"}, Status: messages.StatusQueued, CreatedAt: now.UnixMilli()}
}

// A batch claim answers each message as ClaimMessage would, in one read
// and one write for the batch: queued ones claimed, done ones done, a
// live claim refused with its lease end, a missing one not found, a
// second copy of a key refused as claimed.
func TestClaimMessagesBatch(t *testing.T) {
	env := emulators.ForTest(t)
	api := &countingAPI{Client: env.DDB}
	s := &ddbstore.Messages{API: api, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	var keys []messages.Key
	for i := range 8 {
		m := queuedMessage(fmt.Sprintf("msg_b%d", i), now)
		if err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, messages.Key{TenantID: "ten_a", ID: m.ID})
	}
	// msg_b6 is sent, msg_b7 claimed by another sender until now+1 min.
	if err := s.RecordSent(ctx, queuedMessage("msg_b6", now), "wamid.B6", now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimMessage(ctx, "ten_a", "msg_b7", "other", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	keys = append(keys, messages.Key{TenantID: "ten_a", ID: "msg_none"}, keys[0])
	api.calls.Store(0)
	got := s.ClaimMessages(ctx, keys, "tok", now.Add(time.Second), time.Minute)
	if n := api.calls.Load(); n != 2 {
		t.Errorf("%d calls for a batch claim, want 2 (BatchGetItem, TransactWriteItems)", n)
	}
	var claimed *messages.ClaimedError
	for i, c := range got {
		switch {
		case i < 6:
			if c.Err != nil || c.Done || c.Message.ID != keys[i].ID || c.Message.Text == nil {
				t.Errorf("%s: %+v", keys[i].ID, c)
			}
		case i == 6:
			if c.Err != nil || !c.Done || c.Message.Status != messages.StatusSent {
				t.Errorf("sent message: %+v", c)
			}
		case i == 7:
			if !errors.As(c.Err, &claimed) || !claimed.Until.Equal(now.Add(time.Minute)) {
				t.Errorf("claimed message: %+v", c)
			}
		case i == 8:
			if !apperr.Is(c.Err, apperr.KindNotFound) {
				t.Errorf("missing message: %+v", c)
			}
		case i == 9:
			if !errors.As(c.Err, &claimed) {
				t.Errorf("second copy of a key: %+v", c)
			}
		}
	}
	// The claims hold: a single claim is refused until the lease ends.
	if _, _, err := s.ClaimMessage(ctx, "ten_a", "msg_b0", "late", now.Add(2*time.Second), time.Minute); !errors.As(err, &claimed) {
		t.Fatalf("claim over a batch claim: %v", err)
	}
	again := s.ClaimMessages(ctx, keys[:6], "tok2", now.Add(2*time.Minute), time.Minute)
	for i, c := range again {
		if c.Err != nil || c.Done {
			t.Errorf("%s after the lease: %+v", keys[i].ID, c)
		}
	}
}

// A message claimed by another sender between the batch's read and its
// write is answered as claimed; the rest of the batch is claimed.
func TestClaimMessagesRace(t *testing.T) {
	env := emulators.ForTest(t)
	api := &countingAPI{Client: env.DDB}
	s := &ddbstore.Messages{API: api, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	var keys []messages.Key
	for i := range 4 {
		m := queuedMessage(fmt.Sprintf("msg_r%d", i), now)
		if err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, messages.Key{TenantID: "ten_a", ID: m.ID})
	}
	other := &ddbstore.Messages{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	api.race = func() {
		if _, _, err := other.ClaimMessage(ctx, "ten_a", "msg_r2", "other", now, time.Minute); err != nil {
			t.Error(err)
		}
	}
	got := s.ClaimMessages(ctx, keys, "tok", now, time.Minute)
	var claimed *messages.ClaimedError
	for i, c := range got {
		if i == 2 {
			if !errors.As(c.Err, &claimed) {
				t.Errorf("message claimed in between: %+v", c)
			}
			continue
		}
		if c.Err != nil || c.Done {
			t.Errorf("%s: %+v", keys[i].ID, c)
		}
	}
	// Ours are claimed by "tok": a retry with that token counts.
	if errs := s.RecordOutcomes(ctx, []messages.Outcome{{Kind: messages.OutcomeRetry, Message: got[0].Message, Token: "tok", Failure: messages.Failure{Code: "500"}}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if m, _ := s.GetMessage(ctx, "ten_a", "msg_r0"); m.Attempts != 1 {
		t.Fatalf("retry with the batch's token not recorded: %+v", m)
	}
}

// The outcomes of a batch are written in one transaction, each as its
// single write: sent with the provider id's pointer, failed, a retry
// counted, a claim released; an outcome whose condition fails (the message
// is no longer queued, or the claim is not ours) is left and the others
// written.
func TestRecordOutcomes(t *testing.T) {
	env := emulators.ForTest(t)
	api := &countingAPI{Client: env.DDB}
	s := &ddbstore.Messages{API: api, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	var keys []messages.Key
	for i := range 6 {
		m := queuedMessage(fmt.Sprintf("msg_o%d", i), now)
		if err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, messages.Key{TenantID: "ten_a", ID: m.ID})
	}
	cs := s.ClaimMessages(ctx, keys, "tok", now, time.Minute)
	for _, c := range cs {
		if c.Err != nil {
			t.Fatal(c.Err)
		}
	}
	// msg_o4 failed meanwhile (another sender after the lease).
	if err := s.RecordFailed(ctx, "ten_a", "msg_o4", messages.Failure{Code: "131026"}, now, true); err != nil {
		t.Fatal(err)
	}
	m := func(i int) messages.Message { return cs[i].Message }
	os := []messages.Outcome{
		{Kind: messages.OutcomeSent, Message: m(0), ProviderID: "wamid.O0", At: now.Add(time.Second)},
		{Kind: messages.OutcomeSent, Message: m(1), ProviderID: "wamid.O1", At: now.Add(time.Second)},
		{Kind: messages.OutcomeFailed, Message: m(2), Failure: messages.Failure{Code: "131047", Message: "Re-engagement message"}, At: now, Attempted: true},
		{Kind: messages.OutcomeRetry, Message: m(3), Token: "tok", Failure: messages.Failure{Code: "429", Message: "slow down"}},
		{Kind: messages.OutcomeSent, Message: m(4), ProviderID: "wamid.O4", At: now},
		{Kind: messages.OutcomeRelease, Message: m(5), Token: "not-ours"},
	}
	api.calls.Store(0)
	for i, err := range s.RecordOutcomes(ctx, os) {
		if err != nil {
			t.Errorf("outcome %d: %v", i, err)
		}
	}
	if n := api.calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2 (the batch's transaction, again without the failed condition)", n)
	}
	get := func(id string) messages.Message {
		got, err := s.GetMessage(ctx, "ten_a", id)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for i, pid := range []string{"wamid.O0", "wamid.O1"} {
		got := get(keys[i].ID)
		if got.Status != messages.StatusSent || got.ProviderID != pid || got.Attempts != 1 || got.SentAt != now.Add(time.Second).UnixMilli() {
			t.Errorf("sent: %+v", got)
		}
		if _, id, err := s.MessageByProviderID(ctx, "whatsapp", pid); err != nil || id != keys[i].ID {
			t.Errorf("pointer of %s: %s %v", pid, id, err)
		}
	}
	if got := get("msg_o2"); got.Status != messages.StatusFailed || got.Failure == nil || got.Failure.Code != "131047" || got.Attempts != 1 {
		t.Errorf("failed: %+v", got)
	}
	if got := get("msg_o3"); got.Status != messages.StatusQueued || got.Attempts != 1 || got.LastError == nil || got.LastError.Code != "429" {
		t.Errorf("retry: %+v", got)
	}
	if got := get("msg_o4"); got.Status != messages.StatusFailed || got.ProviderID != "" {
		t.Errorf("a failed message moved by a late sent: %+v", got)
	}
	if _, _, err := s.MessageByProviderID(ctx, "whatsapp", "wamid.O4"); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("pointer written for a message left as it was: %v", err)
	}
	// msg_o3's claim is gone (retry), msg_o5's holds (not our token).
	var claimed *messages.ClaimedError
	if c := s.ClaimMessages(ctx, []messages.Key{keys[3], keys[5]}, "next", now.Add(time.Second), time.Minute); c[0].Err != nil || !errors.As(c[1].Err, &claimed) {
		t.Errorf("claims after the outcomes: %+v", c)
	}
}

// A claim writes nothing on the data table (its stream records cost every
// streamed write of the emulator, and the trigger router reads them): the
// claims and the provider ids' pointers are items of the operations table,
// and a message sent costs the data table its outcome only.
func TestClaimWritesNoDataItem(t *testing.T) {
	env := emulators.ForTest(t)
	api := &countingAPI{Client: env.DDB, table: env.Table}
	s := &ddbstore.Messages{API: api, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	var keys []messages.Key
	for i := range 5 {
		m := queuedMessage(fmt.Sprintf("msg_w%d", i), now)
		if err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, messages.Key{TenantID: "ten_a", ID: m.ID})
	}
	api.writes.Store(0)
	cs := s.ClaimMessages(ctx, keys, "tok", now, time.Minute)
	for _, c := range cs {
		if c.Err != nil || c.Done {
			t.Fatalf("claim: %+v", c)
		}
	}
	if n := api.writes.Load(); n != 0 {
		t.Errorf("claiming 5 messages wrote %d data-table items, want 0", n)
	}
	// The claims hold all the same: another sender is refused.
	var claimed *messages.ClaimedError
	if _, _, err := s.ClaimMessage(ctx, "ten_a", "msg_w0", "other", now.Add(time.Second), time.Minute); !errors.As(err, &claimed) || !claimed.Until.Equal(now.Add(time.Minute)) {
		t.Fatalf("claim over a live claim: %v", err)
	}
	api.writes.Store(0)
	os := make([]messages.Outcome, len(cs))
	for i, c := range cs {
		os[i] = messages.Outcome{Kind: messages.OutcomeSent, Message: c.Message, ProviderID: "wamid.W" + c.Message.ID, At: now}
	}
	for i, err := range s.RecordOutcomes(ctx, os) {
		if err != nil {
			t.Fatalf("outcome %d: %v", i, err)
		}
	}
	if n := api.writes.Load(); n != int64(len(keys)) {
		t.Errorf("recording 5 messages sent wrote %d data-table items, want 5 (the messages; their pointers are on the operations table)", n)
	}
	// A crashed sender's claim expires: a message whose claim ran out is
	// claimed again (msg_w0 sent meanwhile is done, never claimed).
	m := queuedMessage("msg_w9", now)
	if err := s.CreateMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimMessage(ctx, "ten_a", m.ID, "crashed", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimMessage(ctx, "ten_a", m.ID, "next", now.Add(30*time.Second), time.Minute); !errors.As(err, &claimed) {
		t.Fatalf("claim within the lease: %v", err)
	}
	if _, done, err := s.ClaimMessage(ctx, "ten_a", m.ID, "next", now.Add(time.Minute+time.Millisecond), time.Minute); err != nil || done {
		t.Fatalf("claim after the lease: %v %v", done, err)
	}
	if _, done, err := s.ClaimMessage(ctx, "ten_a", "msg_w0", "next", now.Add(time.Hour), time.Minute); err != nil || !done {
		t.Fatalf("claim of a sent message: %v %v", done, err)
	}
}

// A pointer from a provider's id kept on the data table (written before
// the pointers moved to the operations table) is still found.
func TestProviderPointerKeptBefore(t *testing.T) {
	env := emulators.ForTest(t)
	s := &ddbstore.Messages{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	_, err := env.DDB.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(env.Table), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "PMSG#whatsapp#wamid.OLD"}, "SK": &types.AttributeValueMemberS{Value: "PMSG"},
		"tenant_id": &types.AttributeValueMemberS{Value: "ten_a"}, "channel_id": &types.AttributeValueMemberS{Value: "ch_a"},
		"message_id": &types.AttributeValueMemberS{Value: "msg_old"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if tid, id, err := s.MessageByProviderID(t.Context(), "whatsapp", "wamid.OLD"); err != nil || tid != "ten_a" || id != "msg_old" {
		t.Fatalf("pointer kept on the data table: %s %s %v", tid, id, err)
	}
	if _, _, err := s.MessageByProviderID(t.Context(), "whatsapp", "wamid.NONE"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("no pointer: %v", err)
	}
}

// oldStyleClaim claims a message as senders did before the claims moved
// to the operations table: the token and the lease end (Unix ms) on the
// message item itself, on condition that it is queued and unclaimed.
func oldStyleClaim(t *testing.T, api ddbstore.API, table, tenantID, id, token string, now time.Time, lease time.Duration) {
	t.Helper()
	_, err := api.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName:                aws.String(table),
		Key:                      map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "MSG#" + tenantID + "#" + id}, "SK": &types.AttributeValueMemberS{Value: "MSG"}},
		UpdateExpression:         aws.String("SET #claim = :tok, #until = :until"),
		ConditionExpression:      aws.String("#status = :queued AND (attribute_not_exists(#until) OR #until < :now)"),
		ExpressionAttributeNames: map[string]string{"#status": "status", "#claim": "claim", "#until": "claim_until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":tok": &types.AttributeValueMemberS{Value: token}, ":until": &types.AttributeValueMemberN{Value: fmt.Sprint(now.Add(lease).UnixMilli())},
			":now": &types.AttributeValueMemberN{Value: fmt.Sprint(now.UnixMilli())}, ":queued": &types.AttributeValueMemberS{Value: "queued"},
		},
	})
	if err != nil {
		t.Fatalf("old-style claim of %s: %v", id, err)
	}
}

// During a rollout, a sender of the previous version may hold a claim on
// the message item itself (claim, claim_until) while it calls the
// provider: the new claim honours it until its lease ends, whether it was
// there when the batch was read or came between the read and the write,
// and the rest of the batch is claimed.
func TestOldStyleClaimHonoured(t *testing.T) {
	env := emulators.ForTest(t)
	api := &countingAPI{Client: env.DDB}
	s := &ddbstore.Messages{API: api, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	var keys []messages.Key
	for i := range 4 {
		m := queuedMessage(fmt.Sprintf("msg_old%d", i), now)
		if err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, messages.Key{TenantID: "ten_a", ID: m.ID})
	}
	// msg_old0 is claimed by an old sender before the batch is read,
	// msg_old1 between the batch's read and its write.
	oldStyleClaim(t, env.DDB, env.Table, "ten_a", "msg_old0", "old", now, time.Minute)
	api.race = func() { oldStyleClaim(t, env.DDB, env.Table, "ten_a", "msg_old1", "old", now, 2*time.Minute) }
	got := s.ClaimMessages(ctx, keys, "tok", now.Add(time.Second), time.Minute)
	var claimed *messages.ClaimedError
	for i, want := range []time.Time{now.Add(time.Minute), now.Add(2 * time.Minute)} {
		if !errors.As(got[i].Err, &claimed) || !claimed.Until.Equal(want) {
			t.Errorf("%s, claimed the old way until %s: %+v", keys[i].ID, want.Format(time.TimeOnly), got[i])
		}
	}
	for _, c := range got[2:] {
		if c.Err != nil || c.Done {
			t.Errorf("%s: %+v", c.Message.ID, c)
		}
	}
	// Within the old lease, a single claim is refused too; once it ended
	// (the old sender gone), the message is claimed.
	if _, _, err := s.ClaimMessage(ctx, "ten_a", "msg_old0", "tok", now.Add(59*time.Second), time.Minute); !errors.As(err, &claimed) {
		t.Fatalf("claim within an old-style lease: %v", err)
	}
	if _, done, err := s.ClaimMessage(ctx, "ten_a", "msg_old0", "tok", now.Add(time.Minute+time.Millisecond), time.Minute); err != nil || done {
		t.Fatalf("claim after an old-style lease: %v %v", done, err)
	}
}

// countingAPI's BatchGetItem calls are reads; a claim of messages its
// tasks carry makes none: the transaction's cancellation reasons (with
// the items its conditions found) answer a message sent, failed,
// attempted since, claimed by another sender or missing, and the rest
// are claimed in a second transaction.
func TestClaimQueuedWithoutRead(t *testing.T) {
	env := emulators.ForTest(t)
	api := &countingAPI{Client: env.DDB}
	s := &ddbstore.Messages{API: api, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	var reqs []messages.ClaimRequest
	for i := range 7 {
		m := queuedMessage(fmt.Sprintf("msg_q%d", i), now)
		if err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, messages.ClaimRequest{Key: messages.Key{TenantID: "ten_a", ID: m.ID}, Queued: &m})
	}
	// msg_q2 sent, msg_q3 attempted once since its task was queued,
	// msg_q4 claimed by another sender, msg_q5 by an older sender on the
	// message item; msg_none was never stored.
	if err := s.RecordSent(ctx, *reqs[2].Queued, "wamid.Q2", now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimMessage(ctx, "ten_a", "msg_q3", "earlier", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordRetry(ctx, "ten_a", "msg_q3", "earlier", messages.Failure{Code: "500"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimMessage(ctx, "ten_a", "msg_q4", "other", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	oldStyleClaim(t, env.DDB, env.Table, "ten_a", "msg_q5", "old", now, 2*time.Minute)
	none := queuedMessage("msg_none", now)
	reqs = append(reqs, messages.ClaimRequest{Key: messages.Key{TenantID: "ten_a", ID: none.ID}, Queued: &none})

	api.calls.Store(0)
	reads := &readCounter{countingAPI: api}
	s.API = reads
	got := s.ClaimQueued(ctx, reqs, "tok", now.Add(time.Second), time.Minute)
	if r := reads.reads.Load(); r != 0 {
		t.Errorf("%d reads for a claim of messages their tasks carry, want 0", r)
	}
	if n := api.calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2 (the transaction, and again without the ones it answered)", n)
	}
	var claimed *messages.ClaimedError
	for i, c := range got {
		id := reqs[i].ID
		switch id {
		case "msg_q2":
			if c.Err != nil || !c.Done || c.Message.Status != messages.StatusSent || c.Message.ProviderID != "wamid.Q2" {
				t.Errorf("sent message: %+v", c)
			}
		case "msg_q3":
			if c.Err != nil || c.Done || c.Message.Attempts != 1 || c.Message.Text == nil {
				t.Errorf("message attempted since its task: %+v", c)
			}
		case "msg_q4":
			if !errors.As(c.Err, &claimed) || !claimed.Until.Equal(now.Add(time.Minute)) {
				t.Errorf("message claimed by another sender: %+v", c)
			}
		case "msg_q5":
			if !errors.As(c.Err, &claimed) || !claimed.Until.Equal(now.Add(2*time.Minute)) {
				t.Errorf("message claimed by an older sender: %+v", c)
			}
		case "msg_none":
			if !apperr.Is(c.Err, apperr.KindNotFound) {
				t.Errorf("missing message: %+v", c)
			}
		default:
			if c.Err != nil || c.Done || c.Message.ID != id || c.Message.Text == nil || c.Message.Attempts != 0 {
				t.Errorf("%s: %+v", id, c)
			}
		}
	}
	// The claims hold: a second claim of the same tasks is refused, and
	// msg_q3's outcome is recorded with its claim's token.
	again := s.ClaimQueued(ctx, reqs[:2], "late", now.Add(2*time.Second), time.Minute)
	for _, c := range again {
		if !errors.As(c.Err, &claimed) {
			t.Errorf("claim over a live claim: %+v", c)
		}
	}
	if errs := s.RecordOutcomes(ctx, []messages.Outcome{{Kind: messages.OutcomeRetry, Message: got[3].Message, Token: "tok", Failure: messages.Failure{Code: "429"}}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if m, _ := s.GetMessage(ctx, "ten_a", "msg_q3"); m.Attempts != 2 {
		t.Errorf("retry of a message claimed from its task: attempts %d, want 2", m.Attempts)
	}
}

// readCounter counts BatchGetItem and GetItem calls.
type readCounter struct {
	*countingAPI
	reads atomic.Int64
}

func (r *readCounter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	r.reads.Add(1)
	return r.countingAPI.GetItem(ctx, in, o...)
}

func (r *readCounter) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	r.reads.Add(1)
	return r.countingAPI.BatchGetItem(ctx, in, o...)
}

// previousSenderClaim is the claim of a sender of the previous version (a
// claim on the message item itself): a consistent read of the message,
// then a conditional update holding only while the message is queued,
// without a live claim on its item and attempted as often as read (read:
// the message as that sender read it; nil reads it now). It reports
// whether that sender would call the provider. (Its sent, failed and
// retry writes were conditioned on the message being queued, or on its
// own claim token on the item.)
func previousSenderClaim(t *testing.T, api *dynamodb.Client, table string, read map[string]types.AttributeValue, tenantID, id string, now time.Time) bool {
	t.Helper()
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "MSG#" + tenantID + "#" + id}, "SK": &types.AttributeValueMemberS{Value: "MSG"}}
	if read == nil {
		out, err := api.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		read = out.Item
	}
	if st, _ := read["status"].(*types.AttributeValueMemberS); st == nil || st.Value != "queued" {
		return false // done: that sender drops its copy
	}
	_, err := api.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName:                aws.String(table),
		Key:                      key,
		UpdateExpression:         aws.String("SET #claim = :tok, #until = :until"),
		ConditionExpression:      aws.String("#status = :queued AND (attribute_not_exists(#until) OR #until < :now) AND #att = :att"),
		ExpressionAttributeNames: map[string]string{"#status": "status", "#claim": "claim", "#until": "claim_until", "#att": "attempts"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":tok": &types.AttributeValueMemberS{Value: "previous"}, ":until": &types.AttributeValueMemberN{Value: fmt.Sprint(now.Add(time.Minute).UnixMilli())},
			":now": &types.AttributeValueMemberN{Value: fmt.Sprint(now.UnixMilli())}, ":queued": &types.AttributeValueMemberS{Value: "queued"},
			":att": read["attempts"],
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// The reverse direction of a rollout: a sender of the previous version
// (claims on the message item) does not see this version's claim items,
// so while one of them is live it claims the message too. That is the
// only way it can call the provider for a message this version handles:
// every outcome this version records is on the message item, which the
// previous version reads and conditions its claim on. A message recorded
// sent or failed is done for it; one recorded for a retry (one more
// attempt) is refused to a claim made on an earlier read, and claimed on a
// fresh one, as any retry is; a claim given up is no claim. (The sender's
// package comment, "Rollouts", says how a rollout closes the window.)
func TestPreviousSenderBesideClaimItems(t *testing.T) {
	env := emulators.ForTest(t)
	s := &ddbstore.Messages{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.UnixMilli(1_800_000_000_000)
	ids := []string{"msg_live", "msg_sent", "msg_failed", "msg_retry", "msg_released"}
	byID := map[string]messages.Message{}
	var reqs []messages.ClaimRequest
	for _, id := range ids {
		m := queuedMessage(id, now)
		if err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, messages.ClaimRequest{Key: messages.Key{TenantID: "ten_a", ID: id}, Queued: &m})
	}
	for _, c := range s.ClaimQueued(ctx, reqs, "tok", now, time.Minute) {
		if c.Err != nil || c.Done {
			t.Fatalf("claim: %+v", c)
		}
		byID[c.Message.ID] = c.Message
	}
	errs := s.RecordOutcomes(ctx, []messages.Outcome{
		{Kind: messages.OutcomeSent, Message: byID["msg_sent"], ProviderID: "wamid.SENT", At: now},
		{Kind: messages.OutcomeFailed, Message: byID["msg_failed"], Failure: messages.Failure{Code: "131047"}, At: now, Attempted: true},
		{Kind: messages.OutcomeRetry, Message: byID["msg_retry"], Token: "tok", Failure: messages.Failure{Code: "500"}},
		{Kind: messages.OutcomeRelease, Message: byID["msg_released"], Token: "tok"},
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("outcome %d: %v", i, err)
		}
	}
	later := now.Add(time.Second)
	for _, id := range []string{"msg_sent", "msg_failed"} {
		if claimed := previousSenderClaim(t, env.DDB, env.Table, nil, "ten_a", id, later); claimed {
			t.Errorf("%s: the previous version claimed a message this version recorded done", id)
		}
	}
	// msg_retry as the previous version read it before this version's retry.
	onEarlierRead := map[string]types.AttributeValue{"status": &types.AttributeValueMemberS{Value: "queued"}, "attempts": &types.AttributeValueMemberN{Value: "0"}}
	if claimed := previousSenderClaim(t, env.DDB, env.Table, onEarlierRead, "ten_a", "msg_retry", later); claimed {
		t.Error("msg_retry: the previous version claimed, on a read from before the retry, a message attempted since")
	}
	if claimed := previousSenderClaim(t, env.DDB, env.Table, nil, "ten_a", "msg_retry", later); !claimed {
		t.Error("msg_retry: the previous version did not claim a message due for its next attempt")
	}
	if claimed := previousSenderClaim(t, env.DDB, env.Table, nil, "ten_a", "msg_released", later); !claimed {
		t.Error("msg_released: the previous version did not claim a message whose claim was given up")
	}
	// The window: this version's live claim is not seen.
	if claimed := previousSenderClaim(t, env.DDB, env.Table, nil, "ten_a", "msg_live", later); !claimed {
		t.Error("msg_live: the previous version now sees this version's claims: the sender's package comment (Rollouts) is out of date")
	}
}
