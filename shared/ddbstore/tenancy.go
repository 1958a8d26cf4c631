package ddbstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Tenancy stores tenants, channels and credentials.
type Tenancy struct {
	API   API
	Table string
}

var _ tenancy.Store = (*Tenancy)(nil)

// write runs a transaction. A failed condition is told by the kind of item
// it was on: a check or delete of something that must exist (not found), a
// put of something new (exists), an update that raced another (conflict).
func (s *Tenancy) write(ctx context.Context, what string, items ...types.TransactWriteItem) error {
	_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for i, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) != "ConditionalCheckFailed" || i >= len(items) {
				continue
			}
			switch it := items[i]; {
			case it.Put != nil:
				return fmt.Errorf("%s: %w", what, tenancy.ErrExists)
			case it.Update != nil:
				return fmt.Errorf("%s: %w", what, tenancy.ErrConflict)
			default:
				return fmt.Errorf("%s: %w", what, tenancy.ErrNotFound)
			}
		}
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
		return fmt.Errorf("create tenant %s: %w", t.ID, tenancy.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	return nil
}

// GetTenant reads a tenant.
func (s *Tenancy) GetTenant(ctx context.Context, id string) (tenancy.Tenant, error) {
	var t tenancy.Tenant
	err := getItem(ctx, s.API, s.Table, tenantPK(id), skTenant, &t, fmt.Errorf("tenant %s: %w", id, tenancy.ErrNotFound))
	return t, err
}

// RotateSecret swaps the account secret credential; the transaction fails if
// another rotation got there first (the old hash no longer matches).
func (s *Tenancy) RotateSecret(ctx context.Context, tenantID, oldHash string, secret tenancy.Credential, mask string) error {
	ci, err := item(credPK(secret.Hash), skCred, secret)
	if err != nil {
		return err
	}
	return s.write(ctx, "rotate secret of "+tenantID,
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
	return s.write(ctx, "create channel "+c.ID, mustExist(s.Table, tenantPK(c.TenantID), skTenant), putNew(s.Table, ci))
}

// GetChannel reads one channel of a tenant.
func (s *Tenancy) GetChannel(ctx context.Context, tenantID, channelID string) (tenancy.Channel, error) {
	var c tenancy.Channel
	err := getItem(ctx, s.API, s.Table, tenantPK(tenantID), channelSK(channelID), &c, fmt.Errorf("channel %s: %w", channelID, tenancy.ErrNotFound))
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
	return s.write(ctx, "create token "+t.ID, mustExist(s.Table, tenantPK(t.TenantID), channelSK(t.ChannelID)), putNew(s.Table, ti), putNew(s.Table, ci))
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
	if err := getItem(ctx, s.API, s.Table, tenantPK(tenantID), tokenSK(channelID, tokenID), &t, fmt.Errorf("token %s: %w", tokenID, tenancy.ErrNotFound)); err != nil {
		return err
	}
	return s.write(ctx, "revoke token "+tokenID,
		types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.Table), Key: key(tenantPK(tenantID), tokenSK(channelID, tokenID)), ConditionExpression: aws.String("attribute_exists(PK)")}},
		types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.Table), Key: key(credPK(t.Hash), skCred)}},
	)
}

// LookupCredential finds the credential whose secret hashes to hash.
func (s *Tenancy) LookupCredential(ctx context.Context, hash string) (tenancy.Credential, error) {
	var c tenancy.Credential
	err := getItem(ctx, s.API, s.Table, credPK(hash), skCred, &c, tenancy.ErrNotFound)
	return c, err
}
