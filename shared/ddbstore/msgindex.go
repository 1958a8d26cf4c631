package ddbstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// markerMessagesSK is the operations table's marker (under markerPK) that
// IndexChannelMessages ran to the end there.
const markerMessagesSK = "INDEX#channel-messages"

// IndexChannelMessages gives the messages that versions before the
// channel's message listing (GET /v1/messages, GSI2) stored without its
// keys those keys, so the listing shows them: one Scan of the data table,
// one conditional UpdateItem per such message (a message deleted or
// indexed meanwhile is left as it is). It is idempotent and resumable, and
// safe while the API serves. It returns how many messages it indexed.
func (s *Messages) IndexChannelMessages(ctx context.Context, progress func(indexed int)) (int, error) {
	api, ok := s.API.(reindexAPI)
	if !ok {
		return 0, fmt.Errorf("index channel messages: %T cannot Scan", s.API)
	}
	in := &dynamodb.ScanInput{
		TableName:            aws.String(s.Table),
		FilterExpression:     aws.String("begins_with(#pk, :msg) AND #sk = :sk AND attribute_not_exists(#g2) AND attribute_exists(#ch)"),
		ProjectionExpression: aws.String("#pk, #tn, #ch, #id, #at"),
		// Every name by placeholder: none can clash with a reserved word.
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK, "#g2": AttrGSI2PK,
			"#tn": "tenant_id", "#ch": "channel_id", "#id": "id", "#at": "created_at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":msg": avS(MessageKeyPrefix), ":sk": avS(skMessage),
		},
	}
	n := 0
	for {
		page, err := api.Scan(ctx, in)
		if err != nil {
			return n, fmt.Errorf("index channel messages: scan %s: %w", s.Table, err)
		}
		for _, it := range page.Items {
			done, err := s.indexOld(ctx, it)
			if err != nil {
				return n, err
			}
			if done {
				n++
			}
		}
		if progress != nil {
			progress(n)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return n, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// indexOld writes the GSI2 keys of one message item the scan found
// without them.
func (s *Messages) indexOld(ctx context.Context, it map[string]types.AttributeValue) (bool, error) {
	str := func(k string) string {
		v, _ := it[k].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	tenant, channel, id := str("tenant_id"), str("channel_id"), str("id")
	at, _ := it["created_at"].(*types.AttributeValueMemberN)
	if tenant == "" || channel == "" || id == "" || at == nil {
		return false, nil // not a message this version can list
	}
	created, err := strconv.ParseInt(at.Value, 10, 64)
	if err != nil {
		return false, fmt.Errorf("index channel messages: %s: created_at %q: %w", str(AttrPK), at.Value, err)
	}
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Table),
		Key:                      key(messagePK(tenant, id), skMessage),
		UpdateExpression:         aws.String("SET #g2pk = :pk, #g2sk = :sk"),
		ConditionExpression:      aws.String("attribute_exists(#pkey) AND attribute_not_exists(#g2pk)"),
		ExpressionAttributeNames: map[string]string{"#g2pk": AttrGSI2PK, "#g2sk": AttrGSI2SK, "#pkey": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(channelMessagesGSI2PK(tenant, channel)), ":sk": avS(messagesGSI1SK(created, id)),
		},
	})
	if isConditionFailure(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("index channel messages: message %s: %w", id, err)
	}
	return true, nil
}

// IndexChannelMessagesOnce runs IndexChannelMessages unless the operations
// table's marker says it already completed, and sets the marker when it
// completes. It reports whether it ran. `make run` calls it on start.
func (s *Messages) IndexChannelMessagesOnce(ctx context.Context, progress func(indexed int)) (bool, int, error) {
	return runOnce(ctx, s.API, s.OpsTable, markerMessagesSK, "index channel messages", func() (int, error) { return s.IndexChannelMessages(ctx, progress) })
}
