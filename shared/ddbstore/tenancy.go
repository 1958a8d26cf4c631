package ddbstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Tenancy stores tenants, channels and credentials.
type Tenancy struct {
	API   API
	Table string
}

var _ tenancy.Store = (*Tenancy)(nil)

// write runs a transaction; fails[i] is the error of a failed condition on
// items[i] (nil: the item has no condition).
func (s *Tenancy) write(ctx context.Context, what string, fails []error, items ...types.TransactWriteItem) error {
	_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	if i := failedCondition(err); i >= 0 && i < len(fails) && fails[i] != nil {
		return fails[i]
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CreateTenant writes the tenant, its admin listing entry and its account
// secret credential together.
func (s *Tenancy) CreateTenant(ctx context.Context, t tenancy.Tenant, secret tenancy.Credential) error {
	ti, err := item(tenantPK(t.ID), skTenant, t)
	if err != nil {
		return err
	}
	li, err := item(pkTenants, tenantPK(t.ID), struct {
		ID   string `dynamodbav:"id"`
		Name string `dynamodbav:"name"`
	}{t.ID, t.Name})
	if err != nil {
		return err
	}
	ci, err := item(credPK(secret.Hash), skCred, secret)
	if err != nil {
		return err
	}
	_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		putNew(s.Table, ti), putNew(s.Table, li), putNew(s.Table, ci),
	}})
	if isConditionFailure(err) {
		return apperr.Exists("Tenant %s already exists; retry.", t.ID).Wrap(err)
	}
	if err != nil {
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	return nil
}

// GetTenant reads a tenant.
func (s *Tenancy) GetTenant(ctx context.Context, id string) (tenancy.Tenant, error) {
	var t tenancy.Tenant
	err := getItem(ctx, s.API, s.Table, tenantPK(id), skTenant, false, &t, apperr.NotFound("Tenant", id))
	return t, err
}

// RotateSecret swaps the account secret credential; the transaction fails if
// another rotation got there first (the old hash no longer matches).
func (s *Tenancy) RotateSecret(ctx context.Context, tenantID, oldHash string, secret tenancy.Credential, mask string) error {
	ci, err := item(credPK(secret.Hash), skCred, secret)
	if err != nil {
		return err
	}
	return s.write(ctx, "rotate secret of "+tenantID, []error{apperr.Conflict("account secret"), nil, apperr.Exists("The new account secret collides with a credential; retry.")},
		types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.Table),
			Key:                       key(tenantPK(tenantID), skTenant),
			UpdateExpression:          aws.String("SET secret_hash = :new, secret_mask = :mask"),
			ConditionExpression:       aws.String("secret_hash = :old"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":new": &types.AttributeValueMemberS{Value: secret.Hash}, ":mask": &types.AttributeValueMemberS{Value: mask}, ":old": &types.AttributeValueMemberS{Value: oldHash}},
		}},
		types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.Table), Key: key(credPK(oldHash), skCred)}},
		putNew(s.Table, ci),
	)
}

// CreateChannel writes a channel under an existing tenant.
func (s *Tenancy) CreateChannel(ctx context.Context, c tenancy.Channel) error {
	ci, err := item(tenantPK(c.TenantID), channelSK(c.ID), c)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{mustExist(s.Table, tenantPK(c.TenantID), skTenant), putNew(s.Table, ci)}
	fails := []error{apperr.NotFound("Tenant", c.TenantID), apperr.Exists("Channel %s already exists; retry.", c.ID)}
	if c.InstanceID != 0 {
		// A WhatsApp channel's instance id and its lookup, together.
		items = append(items, putNew(s.Table, instanceItem(c.InstanceID, c.TenantID, c.ID)))
		fails = append(fails, apperr.Exists("Instance %d already exists; retry.", c.InstanceID))
	}
	return s.write(ctx, "create channel "+c.ID, fails, items...)
}

// GetChannel reads one channel of a tenant.
func (s *Tenancy) GetChannel(ctx context.Context, tenantID, channelID string) (tenancy.Channel, error) {
	var c tenancy.Channel
	err := getItem(ctx, s.API, s.Table, tenantPK(tenantID), channelSK(channelID), false, &c, apperr.NotFound("Channel", channelID))
	return c, err
}

// ListChannels reads a tenant's channels (not their tokens).
func (s *Tenancy) ListChannels(ctx context.Context, tenantID string) ([]tenancy.Channel, error) {
	all, err := queryPrefix[struct {
		SK string `dynamodbav:"SK"`
		tenancy.Channel
	}](ctx, s.API, s.Table, tenantPK(tenantID), skChannelP)
	if err != nil {
		return nil, err
	}
	out := []tenancy.Channel{}
	for _, c := range all {
		if !strings.Contains(strings.TrimPrefix(c.SK, skChannelP), "#") {
			out = append(out, c.Channel)
		}
	}
	return out, nil
}

// CreateToken writes the token's listing entry and its credential together.
func (s *Tenancy) CreateToken(ctx context.Context, t tenancy.Token, cred tenancy.Credential) error {
	ti, err := item(tenantPK(t.TenantID), tokenSK(t.ChannelID, t.ID), t)
	if err != nil {
		return err
	}
	ci, err := item(credPK(cred.Hash), skCred, cred)
	if err != nil {
		return err
	}
	return s.write(ctx, "create token "+t.ID, []error{apperr.NotFound("Channel", t.ChannelID), apperr.Exists("Token %s already exists; retry.", t.ID), apperr.Exists("Token %s already exists; retry.", t.ID)}, mustExist(s.Table, tenantPK(t.TenantID), channelSK(t.ChannelID)), putNew(s.Table, ti), putNew(s.Table, ci))
}

// ListTokens reads a channel's tokens (masked).
func (s *Tenancy) ListTokens(ctx context.Context, tenantID, channelID string) ([]tenancy.Token, error) {
	out, err := queryPrefix[tenancy.Token](ctx, s.API, s.Table, tenantPK(tenantID), tokenPrefix(channelID))
	if out == nil {
		out = []tenancy.Token{}
	}
	return out, err
}

// RevokeToken deletes a token and its credential together.
func (s *Tenancy) RevokeToken(ctx context.Context, tenantID, channelID, tokenID string) error {
	var t tenancy.Token
	if err := getItem(ctx, s.API, s.Table, tenantPK(tenantID), tokenSK(channelID, tokenID), false, &t, apperr.NotFound("Token", tokenID)); err != nil {
		return err
	}
	return s.write(ctx, "revoke token "+tokenID, []error{apperr.NotFound("Token", tokenID)},
		types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.Table), Key: key(tenantPK(tenantID), tokenSK(channelID, tokenID)), ConditionExpression: aws.String("attribute_exists(PK)")}},
		types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.Table), Key: key(credPK(t.Hash), skCred)}},
	)
}

// LookupCredential finds the credential whose secret hashes to hash.
func (s *Tenancy) LookupCredential(ctx context.Context, hash string) (tenancy.Credential, error) {
	var c tenancy.Credential
	err := getItem(ctx, s.API, s.Table, credPK(hash), skCred, false, &c, apperr.NotFound("Credential", ""))
	return c, err
}
