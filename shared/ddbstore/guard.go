package ddbstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// A guard (attribute v on an item of its own) makes a count limit exact
// under concurrent creates: each create moves v on, conditioned on the
// value read before the items were counted (connguard.go, autoguard.go).
// Deletes leave it alone (they only make room); a missing guard is 0.

// readGuard reads the guard at pk/sk (strongly consistent); what names it
// in errors.
func readGuard(ctx context.Context, api API, table, pk, sk, what string) (int64, error) {
	res, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, fmt.Errorf("read the %s: %w", what, err)
	}
	v, _ := res.Item["v"].(*types.AttributeValueMemberN)
	if v == nil {
		return 0, nil
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read the %s: %w", what, err)
	}
	return n, nil
}

// putGuarded puts it (its key not taken) and moves the guard at pk/guardSK
// from seen to seen+1 in one transaction: KindExists when the key is taken,
// KindConflict (resource) when the guard moved since it was read.
func putGuarded(ctx context.Context, api API, table string, it map[string]types.AttributeValue, pk, guardSK string, seen int64, resource, id string) error {
	cond := "v = :seen"
	vals := map[string]types.AttributeValue{":seen": avN(seen), ":next": avN(seen + 1)}
	if seen == 0 {
		cond = "attribute_not_exists(v) OR v = :seen"
	}
	_, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(table), Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Update: &types.Update{TableName: aws.String(table), Key: key(pk, guardSK),
			UpdateExpression: aws.String("SET v = :next"), ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}},
	}})
	switch {
	case err == nil:
		return nil
	case failedCondition(err) == 0:
		return apperr.Exists("%s %s already exists; retry.", capital(resource), id).Wrap(err)
	case failedCondition(err) == 1 || onlyConflicts(err):
		return apperr.Conflict(resource).Wrap(err)
	}
	return fmt.Errorf("create %s %s: %w", resource, id, err)
}

func capital(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
