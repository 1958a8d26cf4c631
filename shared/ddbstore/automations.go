package ddbstore

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
)

// Automations stores a tenant's automations (their definitions) in its
// tenant's partition of the data table:
//
//	PK          SK              item
//	TENANT#<t>  AUTO#<id>       automation (whole; version-conditioned)
//
// A tenant holds few automations: the list is one query of its partition.
type Automations struct {
	API   API
	Table string
}

var _ automations.Store = (*Automations)(nil)

const skAutomationP = "AUTO#"

func automationSK(id string) string { return skAutomationP + id }

// CreateAutomation writes a new automation.
func (s *Automations) CreateAutomation(ctx context.Context, a automations.Automation) error {
	it, err := item(tenantPK(a.TenantID), automationSK(a.ID), a)
	if err != nil {
		return err
	}
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.Table),
		Item:                it,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if isConditionFailure(err) {
		return apperr.Exists("Automation %s already exists; retry.", a.ID).Wrap(err)
	}
	if err != nil {
		return fmt.Errorf("create automation %s: %w", a.ID, err)
	}
	return nil
}

// GetAutomation reads an automation (strongly consistent).
func (s *Automations) GetAutomation(ctx context.Context, tenantID, id string) (automations.Automation, error) {
	var a automations.Automation
	if len(id) > 64 {
		return a, apperr.NotFound("Automation", id) // no such key can exist
	}
	err := getItem(ctx, s.API, s.Table, tenantPK(tenantID), automationSK(id), true, &a, apperr.NotFound("Automation", id))
	return a, err
}

// ListAutomations reads the tenant's automations (strongly consistent),
// oldest first.
func (s *Automations) ListAutomations(ctx context.Context, tenantID string) ([]automations.Automation, error) {
	items, err := queryItems(ctx, s.API, &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(tenantPK(tenantID)), ":p": avS(skAutomationP),
		},
		ConsistentRead: aws.Bool(true),
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("list automations: %w", err)
	}
	out := []automations.Automation{}
	if err := attributevalue.UnmarshalListOfMaps(items, &out); err != nil {
		return nil, fmt.Errorf("unmarshal automations: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// PutAutomation replaces an automation if its stored version is
// a.Version-1.
func (s *Automations) PutAutomation(ctx context.Context, a automations.Automation) error {
	it, err := item(tenantPK(a.TenantID), automationSK(a.ID), a)
	if err != nil {
		return err
	}
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.Table),
		Item:                                it,
		ConditionExpression:                 aws.String("attribute_exists(PK) AND version = :v"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":v": avN(a.Version - 1)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return apperr.NotFound("Automation", a.ID).Wrap(err)
		}
		return apperr.Conflict("automation").Wrap(err)
	}
	if err != nil {
		return fmt.Errorf("put automation %s: %w", a.ID, err)
	}
	return nil
}

// DeleteAutomation removes an automation.
func (s *Automations) DeleteAutomation(ctx context.Context, tenantID, id string) error {
	_, err := s.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           aws.String(s.Table),
		Key:                 key(tenantPK(tenantID), automationSK(id)),
		ConditionExpression: aws.String("attribute_exists(PK)"),
	})
	if isConditionFailure(err) {
		return apperr.NotFound("Automation", id).Wrap(err)
	}
	if err != nil {
		return fmt.Errorf("delete automation %s: %w", id, err)
	}
	return nil
}
