package ddbstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// WhatsApp channels' credentials and lookups, on the data table (see
// schema.go): the credentials under the tenant (CHANNEL#<c>#WHATSAPP),
// and pointers that the public webhook reads without reading any tenant's
// settings: WAPHONE#<phone number id> (one channel per phone number id,
// across tenants), WABA#<waba id> (one item per channel of the WABA: the
// template status webhook names only the WABA), WAVERIFY#<sha256(verify
// token)> (one item per channel that uses it: the handshake names only the
// token). Instance ids: a counter (INSTANCESEQ) and a pointer per id
// (INSTANCE#<n>).

var _ tenancy.WhatsAppStore = (*Tenancy)(nil)

// Key builders of the WhatsApp items.
func whatsAppSK(channelID string) string { return "CHANNEL#" + channelID + "#WHATSAPP" }
func waPhonePK(id string) string         { return WAPhoneKeyPrefix + id }
func wabaPK(id string) string            { return WABAKeyPrefix + id }
func waVerifyPK(hash string) string      { return WAVerifyKeyPrefix + hash }
func instancePK(id int64) string         { return InstanceKeyPrefix + strconv.FormatInt(id, 10) }
func channelRefSK(tenantID, channelID string) string {
	return "CHANNEL#" + tenantID + "#" + channelID
}

// Leading keys of the WhatsApp items (routes.Keys names the same).
const (
	WAPhoneKeyPrefix  = "WAPHONE#"
	WABAKeyPrefix     = "WABA#"
	WAVerifyKeyPrefix = "WAVERIFY#"
	InstanceKeyPrefix = "INSTANCE#"
	InstanceSeqKey    = "INSTANCESEQ"
	skWAPhone         = "WAPHONE"
	skInstance        = "INSTANCE"
)

// instanceItem is the lookup of an instance id.
func instanceItem(id int64, tenantID, channelID string) map[string]types.AttributeValue {
	m := key(instancePK(id), skInstance)
	m["tenant_id"] = &types.AttributeValueMemberS{Value: tenantID}
	m["channel_id"] = &types.AttributeValueMemberS{Value: channelID}
	m["instance_id"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(id, 10)}
	return m
}

// NextInstanceID adds one to the instance counter and answers the new
// value: one UpdateItem, atomic, so no two calls get the same id.
func (s *Tenancy) NextInstanceID(ctx context.Context) (int64, error) {
	out, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key(InstanceSeqKey, InstanceSeqKey),
		UpdateExpression:          aws.String("ADD n :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("next instance id: %w", err)
	}
	n, ok := out.Attributes["n"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("next instance id: no counter in the answer")
	}
	id, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("next instance id: %w", err)
	}
	return id, nil
}

// ChannelByInstance finds the channel of an instance id.
func (s *Tenancy) ChannelByInstance(ctx context.Context, id int64) (string, string, error) {
	var ref struct {
		TenantID  string `dynamodbav:"tenant_id"`
		ChannelID string `dynamodbav:"channel_id"`
	}
	err := getItem(ctx, s.API, s.Table, instancePK(id), skInstance, false, &ref, apperr.NotFound("Instance", strconv.FormatInt(id, 10)))
	return ref.TenantID, ref.ChannelID, err
}

// SetWhatsApp writes a channel's credentials with its lookups in one
// transaction (see tenancy.WhatsAppStore).
func (s *Tenancy) SetWhatsApp(ctx context.Context, ch tenancy.Channel, prev *tenancy.WhatsAppCredentials, c tenancy.WhatsAppCredentials, instanceID int64) error {
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	info, err := attributevalue.Marshal(tenancy.WhatsAppInfo{PhoneNumberID: c.PhoneNumberID, WABAID: c.WABAID, Configured: true, UpdatedAt: c.UpdatedAt})
	if err != nil {
		return err
	}
	ref := channelRefSK(ch.TenantID, ch.ID)
	route := tenancy.WhatsAppRoute{TenantID: ch.TenantID, ChannelID: ch.ID, DefaultCountry: ch.DefaultCountry,
		PhoneNumberID: c.PhoneNumberID, WABAID: c.WABAID, AppSecret: c.AppSecret}

	// The channel: its info (and instance id), if it is still there.
	upd := &types.Update{
		TableName:                 aws.String(s.Table),
		Key:                       key(tenantPK(ch.TenantID), channelSK(ch.ID)),
		UpdateExpression:          aws.String("SET whatsapp = :info"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":info": info},
	}
	if instanceID != 0 {
		upd.UpdateExpression = aws.String("SET whatsapp = :info, instance_id = :iid")
		upd.ConditionExpression = aws.String("attribute_exists(PK) AND attribute_not_exists(instance_id)")
		upd.ExpressionAttributeValues[":iid"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(instanceID, 10)}
	}
	items := []types.TransactWriteItem{{Update: upd}}
	fails := []error{apperr.Conflict("channel")}

	// The credentials, replacing what was read (or nothing).
	ci, err := item(tenantPK(ch.TenantID), whatsAppSK(ch.ID), c)
	if err != nil {
		return err
	}
	put := &types.Put{TableName: aws.String(s.Table), Item: ci, ConditionExpression: aws.String("attribute_not_exists(PK)")}
	if prev != nil {
		put.ConditionExpression = aws.String("updated_at = :prev")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":prev": &types.AttributeValueMemberN{Value: strconv.FormatInt(prev.UpdatedAt, 10)}}
	}
	items = append(items, types.TransactWriteItem{Put: put})
	fails = append(fails, apperr.Conflict("WhatsApp credentials"))

	// The phone number id: this channel's alone, across tenants.
	pi, err := item(waPhonePK(c.PhoneNumberID), skWAPhone, route)
	if err != nil {
		return err
	}
	pi["ref"] = str(ref)
	items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.Table), Item: pi,
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR #ref = :ref"),
		ExpressionAttributeNames:  map[string]string{"#ref": "ref"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ref": str(ref)}}})
	fails = append(fails, apperr.Exists("phone_number_id %s belongs to another channel.", c.PhoneNumberID))

	// The WABA's channel list and the verify token's, this channel's entry.
	wi, err := item(wabaPK(c.WABAID), ref, route)
	if err != nil {
		return err
	}
	vi := key(waVerifyPK(c.VerifyHash), ref)
	vi["tenant_id"], vi["channel_id"] = str(ch.TenantID), str(ch.ID)
	items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.Table), Item: wi}},
		types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.Table), Item: vi}})
	fails = append(fails, nil, nil)

	// The lookups of the previous values that changed go.
	if prev != nil {
		del := func(pk, sk string) {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.Table), Key: key(pk, sk)}})
			fails = append(fails, nil)
		}
		if prev.PhoneNumberID != c.PhoneNumberID {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.Table), Key: key(waPhonePK(prev.PhoneNumberID), skWAPhone),
				ConditionExpression:       aws.String("attribute_not_exists(PK) OR #ref = :ref"),
				ExpressionAttributeNames:  map[string]string{"#ref": "ref"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":ref": str(ref)}}})
			fails = append(fails, apperr.Conflict("phone_number_id"))
		}
		if prev.WABAID != c.WABAID {
			del(wabaPK(prev.WABAID), ref)
		}
		if prev.VerifyHash != c.VerifyHash {
			del(waVerifyPK(prev.VerifyHash), ref)
		}
	}
	if instanceID != 0 {
		items = append(items, putNew(s.Table, instanceItem(instanceID, ch.TenantID, ch.ID)))
		fails = append(fails, apperr.Exists("Instance %d already exists; retry.", instanceID))
	}
	return s.write(ctx, "set whatsapp credentials of "+ch.ID, fails, items...)
}

// WhatsAppCredentials reads a channel's credentials (a strongly consistent
// read: the sender must not use a replaced access token).
func (s *Tenancy) WhatsAppCredentials(ctx context.Context, tenantID, channelID string) (tenancy.WhatsAppCredentials, error) {
	var c tenancy.WhatsAppCredentials
	err := getItem(ctx, s.API, s.Table, tenantPK(tenantID), whatsAppSK(channelID), true, &c, apperr.NotFound("WhatsApp credentials of channel", channelID))
	return c, err
}

// WhatsAppByPhone finds the channel of a phone number id.
func (s *Tenancy) WhatsAppByPhone(ctx context.Context, phoneNumberID string) (tenancy.WhatsAppRoute, error) {
	var r tenancy.WhatsAppRoute
	err := getItem(ctx, s.API, s.Table, waPhonePK(phoneNumberID), skWAPhone, false, &r, apperr.NotFound("Phone number id", phoneNumberID))
	return r, err
}

// WhatsAppByWABA lists the channels of a WABA id.
func (s *Tenancy) WhatsAppByWABA(ctx context.Context, wabaID string) ([]tenancy.WhatsAppRoute, error) {
	return queryPrefix[tenancy.WhatsAppRoute](ctx, s.API, s.Table, wabaPK(wabaID), "CHANNEL#")
}

// WhatsAppVerifyToken reports whether some channel's verify token hashes
// to hash: one Query of at most one item.
func (s *Tenancy) WhatsAppVerifyToken(ctx context.Context, hash string) (bool, error) {
	out, err := s.API.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: waVerifyPK(hash)}},
		Limit:                     aws.Int32(1),
		ProjectionExpression:      aws.String("PK"),
	})
	if err != nil {
		return false, fmt.Errorf("query verify token: %w", err)
	}
	return len(out.Items) > 0, nil
}
