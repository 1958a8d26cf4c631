package ddbstore_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/messages"
)

// TestIndexChannelMessages: messages stored by a version before the
// channel's message listing (no GSI2 keys) are missing from it until
// IndexChannelMessagesOnce gives them their keys; then the listing shows
// every message of the channel, newest first, and only that channel's. A
// second run does nothing (its marker), and a message indexed already is
// left as it is.
func TestIndexChannelMessages(t *testing.T) {
	env := emulators.ForTest(t)
	s := &ddbstore.Messages{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}
	ctx := t.Context()
	base := time.UnixMilli(1_800_000_000_000)
	mk := func(id, channel string, k int) messages.Message {
		return messages.Message{ID: id, TenantID: "ten_idx", ChannelID: channel, ChannelKind: "whatsapp", Direction: messages.Outbound,
			Type: messages.TypeText, Text: &messages.Text{Body: "hi"}, Status: messages.StatusQueued, CreatedAt: base.Add(time.Duration(k) * time.Second).UnixMilli()}
	}
	var old []string
	for k := range 5 {
		m := mk("msg_old"+string(rune('a'+k)), "ch_idx", k)
		if err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		// As the version before the listing stored it.
		if _, err := env.DDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(env.Table),
			Key: map[string]types.AttributeValue{
				ddbstore.AttrPK: &types.AttributeValueMemberS{Value: ddbstore.MessageKeyPrefix + "ten_idx#" + m.ID},
				ddbstore.AttrSK: &types.AttributeValueMemberS{Value: "MSG"}},
			UpdateExpression:    aws.String("REMOVE GSI2PK, GSI2SK"),
			ConditionExpression: aws.String("attribute_exists(GSI2PK)"),
		}); err != nil {
			t.Fatalf("remove the GSI2 keys of %s: %v", m.ID, err)
		}
		old = append(old, m.ID)
	}
	if err := s.CreateMessage(ctx, mk("msg_new", "ch_idx", 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateMessage(ctx, mk("msg_other", "ch_other", 11)); err != nil {
		t.Fatal(err)
	}
	list := func() []string {
		t.Helper()
		p, err := s.ListChannelMessages(ctx, "ten_idx", "ch_idx", 50, "")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range p.Items {
			ids = append(ids, m.ID)
		}
		return ids
	}
	if got := list(); len(got) != 1 || got[0] != "msg_new" {
		t.Fatalf("before: listed %v, want only msg_new", got)
	}
	ran, n, err := s.IndexChannelMessagesOnce(ctx, nil)
	if err != nil || !ran || n != len(old) {
		t.Fatalf("first run: ran %v, indexed %d, err %v; want it to run and index %d", ran, n, err, len(old))
	}
	want := []string{"msg_new", "msg_olde", "msg_oldd", "msg_oldc", "msg_oldb", "msg_olda"}
	if got := list(); len(got) != len(want) {
		t.Fatalf("after: listed %v, want %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("after: listed %v, want %v", got, want)
			}
		}
	}
	if ran, n, err := s.IndexChannelMessagesOnce(ctx, nil); err != nil || ran || n != 0 {
		t.Fatalf("second run: ran %v, indexed %d, err %v; want it skipped", ran, n, err)
	}
	if n, err := s.IndexChannelMessages(ctx, nil); err != nil || n != 0 {
		t.Fatalf("forced run: indexed %d, err %v; want none left to index", n, err)
	}
}
