package ddbstore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// SMS and voice channels' Twilio credentials, on the data table under the
// tenant (CHANNEL#<c>#TWILIO, see schema.go), with their info on the
// channel.

var _ tenancy.TwilioStore = (*Tenancy)(nil)

func twilioSK(channelID string) string { return "CHANNEL#" + channelID + "#TWILIO" }

// SetTwilio writes the channel's credentials and its info, if the channel
// is still there.
func (s *Tenancy) SetTwilio(ctx context.Context, ch tenancy.Channel, c tenancy.TwilioCredentials) error {
	info, err := attributevalue.Marshal(tenancy.TwilioInfo{AccountSID: c.AccountSID, From: c.From, MessagingServiceSID: c.MessagingServiceSID, Configured: true, UpdatedAt: c.UpdatedAt})
	if err != nil {
		return err
	}
	ci, err := item(tenantPK(ch.TenantID), twilioSK(ch.ID), c)
	if err != nil {
		return err
	}
	return s.write(ctx, "set twilio credentials of "+ch.ID, []error{apperr.Conflict("channel"), nil},
		types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.Table),
			Key:                       key(tenantPK(ch.TenantID), channelSK(ch.ID)),
			UpdateExpression:          aws.String("SET twilio = :info"),
			ConditionExpression:       aws.String("attribute_exists(PK)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":info": info},
		}},
		types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.Table), Item: ci}})
}

// TwilioCredentials reads a channel's credentials (strongly consistent:
// a replaced auth token is not used).
func (s *Tenancy) TwilioCredentials(ctx context.Context, tenantID, channelID string) (tenancy.TwilioCredentials, error) {
	var c tenancy.TwilioCredentials
	err := getItem(ctx, s.API, s.Table, tenantPK(tenantID), twilioSK(channelID), true, &c, apperr.NotFound("Twilio credentials of channel", channelID))
	return c, err
}
