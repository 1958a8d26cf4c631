package ddbstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/messenger"
)

// Inbox keeps verified Messenger webhook calls on the data table, one item
// per call (INBOX#<t>#<c>, see schema.go), for the Messenger intake, which
// reads them from the table's stream. A call's body is at most 256 KB, well
// within an item's 400 KB.
type Inbox struct {
	API   API
	Table string
}

var _ messenger.Inbox = (*Inbox)(nil)

// inboxPK is the partition of a channel's inbox.
func inboxPK(tenantID, channelID string) string {
	return messenger.InboxKeyPrefix + tenantID + "#" + channelID
}

// PutInbox writes one call: a single PutItem, with a TTL.
func (s *Inbox) PutInbox(ctx context.Context, it messenger.InboxItem) error {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	ms := it.ReceivedAt.UnixMilli()
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	item := key(inboxPK(it.TenantID, it.ChannelID), fmt.Sprintf("%013d#%s", ms, hex.EncodeToString(b)))
	item[messenger.AttrTenant] = str(it.TenantID)
	item[messenger.AttrChannel] = str(it.ChannelID)
	item[messenger.AttrCountry] = str(it.DefaultCountry)
	// Binary: the body is kept byte for byte (a string attribute must be
	// valid UTF-8).
	item[messenger.AttrBody] = &types.AttributeValueMemberB{Value: it.Body}
	item[messenger.AttrReceivedAt] = &types.AttributeValueMemberN{Value: fmt.Sprint(ms)}
	item[TTLAttribute] = &types.AttributeValueMemberN{Value: fmt.Sprint(it.ReceivedAt.Add(messenger.InboxTTL).Unix())}
	if _, err := s.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return fmt.Errorf("put inbox item: %w", err)
	}
	return nil
}
