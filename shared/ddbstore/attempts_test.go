package ddbstore_test

import (
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// TestAttemptsAcrossLogItems: attempts logged by calls made at once (whose
// times interleave: a batch with a slow target finishes after later
// batches) are listed newest first, for any limit, each once even when the
// same attempt was logged twice.
func TestAttemptsAcrossLogItems(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	const base = int64(1_700_000_000_000)
	var all []connections.Attempt
	// Call i logs attempts at base+i, base+i+20, base+i+40 ... : every call
	// spans the others' times.
	for i := range 20 {
		var as []connections.ConnAttempt
		for j := range 5 {
			a := mkAttempt(base+int64(i+20*j), "msg_"+strconv.Itoa(i)+"_"+strconv.Itoa(j), 1)
			as = append(as, connections.ConnAttempt{TenantID: "t", ConnectionID: "k", Attempt: a})
			all = append(all, a)
		}
		if i == 7 {
			as = append(as, connections.ConnAttempt{TenantID: "t", ConnectionID: "k", Attempt: all[3]}) // logged again
		}
		if err := s.AddAttempts(ctx, as); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 10, 33, 100, 150} {
		got, err := s.Attempts(ctx, "t", "k", limit)
		if err != nil {
			t.Fatal(err)
		}
		want := min(limit, len(all))
		if len(got) != want {
			t.Fatalf("Attempts(%d): %d, want %d", limit, len(got), want)
		}
		for i, a := range got {
			if a.Time != base+int64(len(all)-1-i) {
				t.Fatalf("Attempts(%d)[%d] at %d, want %d (newest first)", limit, i, a.Time-base, len(all)-1-i)
			}
		}
	}
}

// TestAttemptsLegacyLayout: attempts written before attempts were keyed by
// webhook ID (ATT#<time>#<webhookId>#<attempt>, with GSI1) are still listed
// beside newer ones and still found for replay.
func TestAttemptsLegacyLayout(t *testing.T) {
	s, env := newConnections(t)
	ctx := t.Context()
	const base = int64(1_700_000_000_000)
	var legacy []connections.Attempt
	for i := range 3 {
		a := mkAttempt(base+int64(2*i), "msg_legacy"+strconv.Itoa(i), 1)
		legacy = append(legacy, a)
		it, err := attributevalue.MarshalMap(a)
		if err != nil {
			t.Fatal(err)
		}
		sk := fmt.Sprintf("ATT#%013d#%s#%02d", a.Time, a.WebhookID, a.Attempt)
		it["PK"], it["SK"] = &types.AttributeValueMemberS{Value: "CONN#t#k"}, &types.AttributeValueMemberS{Value: sk}
		it[ddbstore.AttrGSI1PK] = &types.AttributeValueMemberS{Value: "WH#t#k#" + a.WebhookID}
		it[ddbstore.AttrGSI1SK] = &types.AttributeValueMemberS{Value: sk}
		if _, err := env.DDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(env.OpsTable), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	newer := []connections.Attempt{mkAttempt(base+1, "msg_new1", 1), mkAttempt(base+3, "msg_new3", 2)}
	for _, a := range newer {
		if err := s.AddAttempt(ctx, "t", "k", a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Attempts(ctx, "t", "k", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []connections.Attempt{legacy[2], newer[1], legacy[1], newer[0], legacy[0]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Attempts = %+v\nwant %+v", got, want)
	}
	for _, a := range append(legacy, newer...) {
		found, err := s.FindAttempt(ctx, "t", "k", a.WebhookID)
		if err != nil || found != a {
			t.Errorf("FindAttempt(%s) = %+v, %v", a.WebhookID, found, err)
		}
	}
}

// TestFindAttemptExactWebhookID: a webhook ID that is the start of another
// one's key does not find the other's attempts.
func TestFindAttemptExactWebhookID(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	a := mkAttempt(1_700_000_000_000, "msg_1", 1)
	if err := s.AddAttempt(ctx, "t", "k", a); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"msg_", "msg_1#1700", "msg_1#"} {
		_, err := s.FindAttempt(ctx, "t", "k", id)
		wantNotFound(t, "FindAttempt("+id+")", err)
	}
	if got, err := s.FindAttempt(ctx, "t", "k", "msg_1"); err != nil || got != a {
		t.Errorf("FindAttempt(msg_1) = %+v, %v", got, err)
	}
}

// TestAttemptsTiesAcrossLogItems: attempts made in the same millisecond
// and logged by different writes are ordered as one sort key would order
// them, whichever log item is read first.
func TestAttemptsTiesAcrossLogItems(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	const ms = int64(1_700_000_000_000)
	for i := range 16 {
		if err := s.AddAttempt(ctx, "t", "k", mkAttempt(ms, fmt.Sprintf("msg_%02d", i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Attempts(ctx, "t", "k", 5)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.WebhookID)
	}
	if want := []string{"msg_15", "msg_14", "msg_13", "msg_12", "msg_11"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("Attempts(5) = %v, want %v", ids, want)
	}
}
