package installapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/installations"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// oldEnqueue is add_message's store as it was before the SEQ item (the
// code a deploy replaces, still serving while the new code starts): the
// number from the state item's counter by an unconditional ADD, then the
// message and its entry in one transaction, each on the condition that it
// is new. It is written out here item by item, as that code wrote them.
func oldEnqueue(ctx context.Context, store *ddbstore.Installations, in inst, text string) (int64, error) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	out, err := store.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(store.OpsTable),
		Key:                       map[string]types.AttributeValue{"PK": s("INSTALLST#" + in.uuid), "SK": s("STATE")},
		UpdateExpression:          aws.String("ADD seq :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("old add: sequence: %w", err)
	}
	seq, err := strconv.ParseInt(out.Attributes["seq"].(*types.AttributeValueMemberN).Value, 10, 64)
	if err != nil {
		return 0, err
	}
	m := messages.Message{ID: tenancy.NewID("msg"), TenantID: in.t.ID, ChannelID: in.t.ChannelID, ChannelKind: string(tenancy.WhatsApp),
		Direction: messages.Outbound, Type: messages.TypeText, Text: &messages.Text{Body: text}, To: "+972501234567",
		Status: messages.StatusQueued, InstallationID: in.uuid, CreatedAt: time.Now().UnixMilli()}
	e := installations.Entry{Seq: seq, MessageID: m.ID, TenantID: m.TenantID, To: m.To, Text: text, CreatedAt: m.CreatedAt}
	mi, err := attributevalue.MarshalMap(m)
	if err != nil {
		return 0, err
	}
	mi["PK"], mi["SK"], mi["install_seq"] = s("MSG#"+m.TenantID+"#"+m.ID), s("MSG"), out.Attributes["seq"]
	ei, err := attributevalue.MarshalMap(e)
	if err != nil {
		return 0, err
	}
	ei["PK"], ei["SK"] = s("INSTALLQ#"+in.uuid), s(fmt.Sprintf("%016d", seq))
	putNew := func(table string, it map[string]types.AttributeValue) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(table), Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")}}
	}
	_, err = store.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		putNew(store.Table, mi), putNew(store.OpsTable, ei),
	}})
	if err != nil {
		return 0, fmt.Errorf("old add %s (seq %d): %w", text, seq, err)
	}
	return seq, nil
}

// TestAddsOfTheOldAndNewCodeInterleaved: during a deploy, adds of the code
// before the SEQ item and of this one reach the same installation one
// after the other, in every mix (the new first, the old first, runs of
// each), with pulls between them: none fails, and the installed sender
// gets every message once, in the order they were added.
func TestAddsOfTheOldAndNewCodeInterleaved(t *testing.T) {
	s := stacktest.New(t)
	ctx := context.Background()
	store := s.Deps.InstallationStore().(*ddbstore.Installations)
	for _, pattern := range []string{"NONNOONNNOOON", "OONONNOO"} {
		t.Run(pattern, func(t *testing.T) {
			in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
			var want, got []string
			var last int64
			for round := range 2 {
				for i, c := range pattern {
					text := fmt.Sprintf("%d-%d-%c", round, i, c)
					var err error
					if c == 'O' {
						_, err = oldEnqueue(ctx, store, in, text)
					} else {
						_, err = enqueue(ctx, store, in, text)
					}
					if err != nil {
						t.Fatalf("add %s: %v", text, err)
					}
					want = append(want, text)
					if i == len(pattern)/2 { // a pull in the middle
						got = append(got, drain(t, s, in, len(want)-len(got), &last, none)...)
					}
				}
				got = append(got, drain(t, s, in, len(want)-len(got), &last, none)...)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("handed out %v, want %v", got, want)
			}
			if ps := pull(t, s, in, ""); len(ps) != 0 {
				t.Fatalf("left: %+v", ps)
			}
		})
	}
}

// TestAddsOfTheOldAndNewCodeAtOnce: processes of both codes add to one
// installation at the same time, their transactions delayed at random,
// while the installed sender pulls and acks: no add fails, every message
// comes once, and each process's in the order it added them.
func TestAddsOfTheOldAndNewCodeAtOnce(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	ctx := context.Background()
	const procs, each = 4, 10
	var failed atomic.Value
	var wg sync.WaitGroup
	for p := range procs {
		store := process(s, func() { time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond) })
		wg.Go(func() {
			for i := range each {
				text := fmt.Sprintf("p%d-%02d", p, i)
				var err error
				if p%2 == 0 {
					_, err = oldEnqueue(ctx, store, in, text)
				} else {
					_, err = enqueue(ctx, store, in, text)
				}
				if err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	var got []string
	seen := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < procs*each {
		if err, _ := failed.Load().(error); err != nil {
			t.Fatalf("an add failed: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s, %d of %d messages pulled", len(got), procs*each)
		}
		ps := pull(t, s, in, "?max=5")
		for _, p := range ps {
			if seen[p.Message] {
				t.Fatalf("%s handed out again after its ack", p.Message)
			}
			seen[p.Message] = true
			if r := ack(s, in, p.ID, p.Lease, "sent", ""); r.Status != 200 {
				t.Fatalf("ack %s: %d %s", p.ID, r.Status, r.Body)
			}
			got = append(got, p.Message)
		}
		if len(ps) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("an add failed: %v", err)
	}
	next := map[int]int{}
	for _, m := range got {
		var p, i int
		if _, err := fmt.Sscanf(m, "p%d-%d", &p, &i); err != nil {
			t.Fatal(err)
		}
		if i != next[p] {
			t.Fatalf("process %d's message %d came after its %d: %v", p, i, next[p]-1, got)
		}
		next[p]++
	}
	if ps := pull(t, s, in, ""); len(ps) != 0 {
		t.Fatalf("left: %+v", ps)
	}
}
