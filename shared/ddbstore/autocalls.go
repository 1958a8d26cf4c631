package ddbstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// AutoCall is an automation's call of a connection, on its way to the
// dispatcher: the engine writes it on the data table, and the trigger
// router, on its stream record, queues the delivery (the contact's
// payload) as it queues a trigger's.
//
//	PK                          SK          item
//	AUTOCALL#<t>#<deliveryId>   AUTOCALL    tenant_id, connection_id, channel_id, contact_id,
//	                                        created_at (ms); TTL a day
type AutoCall struct {
	ID           string `dynamodbav:"id"` // the delivery's ID
	TenantID     string `dynamodbav:"tenant_id"`
	ConnectionID string `dynamodbav:"connection_id"`
	ChannelID    string `dynamodbav:"channel_id"`
	ContactID    string `dynamodbav:"contact_id"`
	CreatedAt    int64  `dynamodbav:"created_at"`
}

// AutoCallKeyPrefix starts every AutoCall's partition key.
const AutoCallKeyPrefix = "AUTOCALL#"

const skAutoCall = "AUTOCALL"

// AutoCallTTL is how long an AutoCall is kept (its stream record is what
// counts).
const AutoCallTTL = 24 * time.Hour

// AutoCalls writes AutoCalls on the data table.
type AutoCalls struct {
	API   API
	Table string
}

// PutCall writes c once: a second write of the same ID (a step done
// again) writes nothing, so its delivery is queued once.
func (s *AutoCalls) PutCall(ctx context.Context, c AutoCall) error {
	it, err := item(AutoCallKeyPrefix+c.TenantID+"#"+c.ID, skAutoCall, c)
	if err != nil {
		return err
	}
	it[TTLAttribute] = avN(time.UnixMilli(c.CreatedAt).Add(AutoCallTTL).Unix())
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if err != nil && !isConditionFailure(err) {
		return fmt.Errorf("call connection %s: %w", c.ConnectionID, err)
	}
	return nil
}

// IsAutoCallKey reports whether pk is an AutoCall's.
func IsAutoCallKey(pk string) bool { return strings.HasPrefix(pk, AutoCallKeyPrefix) }
