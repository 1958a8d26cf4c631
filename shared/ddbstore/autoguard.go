package ddbstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
)

// A tenant's automation guard (TENANT#<t> / GUARD#AUTO, attribute v) makes
// the automations-per-tenant limit exact (automations.TenantGuard): each
// create moves v on, conditioned on the value read before the tenant's
// automations were counted. Deletes leave it alone (they only make room).
// Tenants without one start at 0.

const skAutoGuard = "GUARD#AUTO"

var _ automations.TenantGuard = (*Automations)(nil)

// AutomationsVersion reads the tenant's guard (strongly consistent).
func (s *Automations) AutomationsVersion(ctx context.Context, tenantID string) (int64, error) {
	res, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table),
		Key: key(tenantPK(tenantID), skAutoGuard), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, fmt.Errorf("read the automation guard: %w", err)
	}
	v, _ := res.Item["v"].(*types.AttributeValueMemberN)
	if v == nil {
		return 0, nil
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read the automation guard: %w", err)
	}
	return n, nil
}

// CreateAutomationIf puts the automation (its ID not taken) and moves the
// tenant's guard from seen to seen+1 in one transaction.
func (s *Automations) CreateAutomationIf(ctx context.Context, a automations.Automation, seen int64) error {
	it, err := item(tenantPK(a.TenantID), automationSK(a.ID), a)
	if err != nil {
		return err
	}
	cond := "v = :seen"
	vals := map[string]types.AttributeValue{":seen": avN(seen), ":next": avN(seen + 1)}
	if seen == 0 {
		cond = "attribute_not_exists(v) OR v = :seen"
	}
	_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.Table), Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Update: &types.Update{TableName: aws.String(s.Table), Key: key(tenantPK(a.TenantID), skAutoGuard),
			UpdateExpression: aws.String("SET v = :next"), ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}},
	}})
	switch {
	case err == nil:
		return nil
	case failedCondition(err) == 0:
		return apperr.Exists("Automation %s already exists; retry.", a.ID).Wrap(err)
	case failedCondition(err) == 1 || onlyConflicts(err):
		return apperr.Conflict("automation").Wrap(err)
	}
	return fmt.Errorf("create automation %s: %w", a.ID, err)
}
