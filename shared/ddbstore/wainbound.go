package ddbstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/wahook"
)

// WAInbox keeps verified WhatsApp webhook calls on the data table, one item
// per call and channel (WAINBOX#<t>#<c>, see schema.go), for the WhatsApp
// intake, which reads them from the table's stream. A call's body is at
// most 256 KB, well within an item's 400 KB.
type WAInbox struct {
	API   API
	Table string
}

var _ wahook.Inbox = (*WAInbox)(nil)

// PutInbox writes one call for one channel: a single PutItem, with a TTL.
func (s *WAInbox) PutInbox(ctx context.Context, it wahook.InboxItem) error {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	ms := it.ReceivedAt.UnixMilli()
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	item := key(wahook.InboxKeyPrefix+it.TenantID+"#"+it.ChannelID, fmt.Sprintf("%013d#%s", ms, hex.EncodeToString(b)))
	item[wahook.AttrTenant] = str(it.TenantID)
	item[wahook.AttrChannel] = str(it.ChannelID)
	item[wahook.AttrCountry] = str(it.DefaultCountry)
	if it.PhoneNumberID != "" {
		item[wahook.AttrPhone] = str(it.PhoneNumberID)
	}
	if it.WABAID != "" {
		item[wahook.AttrWABA] = str(it.WABAID)
	}
	// Binary: the body is kept byte for byte.
	item[wahook.AttrBody] = &types.AttributeValueMemberB{Value: it.Body}
	item[wahook.AttrReceivedAt] = &types.AttributeValueMemberN{Value: fmt.Sprint(ms)}
	item[TTLAttribute] = &types.AttributeValueMemberN{Value: fmt.Sprint(it.ReceivedAt.Add(wahook.InboxTTL).Unix())}
	if _, err := s.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return fmt.Errorf("put whatsapp inbox item: %w", err)
	}
	return nil
}

// WAMarks remembers the WhatsApp messages recorded, by wamid, on the
// operations table (WAMSG#<t>#<c>#<wamid>, with a TTL).
type WAMarks struct {
	API      API
	OpsTable string
}

var _ wahook.Marks = (*WAMarks)(nil)

// WAMarkKeyPrefix starts every mark's partition key.
const WAMarkKeyPrefix = "WAMSG#"

const skWAMark = "WAMSG"

func waMarkPK(tenantID, channelID, wamid string) string {
	return WAMarkKeyPrefix + tenantID + "#" + channelID + "#" + wamid
}

// Seen reads the mark (strongly consistent: a retry right after the
// first recording must see it). An expired mark DynamoDB has not yet
// deleted still counts: Meta stops retrying well before.
func (s *WAMarks) Seen(ctx context.Context, tenantID, channelID, wamid string) (bool, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.OpsTable), Key: key(waMarkPK(tenantID, channelID, wamid), skWAMark),
		ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("PK")})
	if err != nil {
		return false, fmt.Errorf("get whatsapp mark: %w", err)
	}
	return out.Item != nil, nil
}

// Mark writes the mark.
func (s *WAMarks) Mark(ctx context.Context, tenantID, channelID, wamid string, expires time.Time) error {
	item := key(waMarkPK(tenantID, channelID, wamid), skWAMark)
	item[TTLAttribute] = &types.AttributeValueMemberN{Value: fmt.Sprint(expires.Unix())}
	if _, err := s.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.OpsTable), Item: item}); err != nil {
		return fmt.Errorf("put whatsapp mark: %w", err)
	}
	return nil
}
