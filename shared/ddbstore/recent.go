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

	"github.com/startmsg/chatbackend/shared/connections"
)

// A trigger's recent payloads on a channel (connections.Recent): what
// Zapier's editor shows before a hook exists. One item per payload in the
// operations table, under RECENT#<t>#<c>#<trigger>, sorted by time, kept
// connections.RecentKept (TTL): the trigger router writes them (at most a
// few a minute per channel and trigger), GET /v1/hooks/sample reads the
// newest.

var _ connections.Recent = (*Connections)(nil)

func recentPK(tenantID, channelID string, t connections.Trigger) string {
	return "RECENT#" + tenantID + "#" + channelID + "#" + string(t)
}

// PutRecent stores one recent payload of trigger t.
func (c *Connections) PutRecent(ctx context.Context, tenantID, channelID string, t connections.Trigger, at time.Time, payload []byte) error {
	ops, err := c.ops()
	if err != nil {
		return err
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	_, err = c.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: ops, Item: map[string]types.AttributeValue{
		"PK":         avS(recentPK(tenantID, channelID, t)),
		"SK":         avS(fmt.Sprintf("%013d#%s", at.UnixMilli(), hex.EncodeToString(r[:]))),
		"p":          &types.AttributeValueMemberB{Value: payload},
		TTLAttribute: avN(at.Add(connections.RecentKept).Unix()),
	}})
	return err
}

// ListRecent answers up to limit of trigger t's recent payloads on the
// channel, newest first (expired ones left out).
func (c *Connections) ListRecent(ctx context.Context, tenantID, channelID string, t connections.Trigger, limit int) ([][]byte, error) {
	ops, err := c.ops()
	if err != nil {
		return nil, err
	}
	out, err := c.API.Query(ctx, &dynamodb.QueryInput{
		TableName:                 ops,
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(recentPK(tenantID, channelID, t))},
		ScanIndexForward:          aws.Bool(false),
		// Expired items linger until DynamoDB sweeps them: read a few more.
		Limit: aws.Int32(int32(limit + 5)),
	})
	if err != nil {
		return nil, err
	}
	now := time.Now().Unix()
	var ps [][]byte
	for _, it := range out.Items {
		if n, ok := it[TTLAttribute].(*types.AttributeValueMemberN); ok {
			var ttl int64
			if _, err := fmt.Sscan(n.Value, &ttl); err == nil && ttl <= now {
				continue
			}
		}
		if b, ok := it["p"].(*types.AttributeValueMemberB); ok && len(ps) < limit {
			ps = append(ps, b.Value)
		}
	}
	return ps, nil
}
