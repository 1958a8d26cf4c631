package ddbstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
)

// Custom field definitions live in the tenant's partition: the field items
// (FIELD#<id>), the tenant's ID counter (FIELDSEQ) and one name guard per
// field (FIELDNAME#<lower(name)>) that makes names unique regardless of case.
// A field and its guard are always written in one transaction.

const (
	skFieldPrefix = "FIELD#"
	skFieldSeq    = "FIELDSEQ"
)

func fieldSK(id string) string       { return skFieldPrefix + id }
func fieldNameSK(name string) string { return "FIELDNAME#" + strings.ToLower(name) }

// fieldGuard is the item that holds a field name for one field.
type fieldGuard struct {
	FieldID string `dynamodbav:"field_id"`
}

// ListFields returns a tenant's fields ordered by numeric ID (a strongly
// consistent Query of the tenant's FIELD# items).
func (s *Contacts) ListFields(ctx context.Context, tenantID string) ([]contacts.Field, error) {
	// queryItems pages as dynamodb.QueryPaginator would, without its
	// per-call SDK option (which keeps a call off the lean client).
	items, err := queryItems(ctx, s.API, &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: tenantPK(tenantID)},
			":p":  &types.AttributeValueMemberS{Value: skFieldPrefix},
		},
		ConsistentRead: aws.Bool(true),
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("list fields of %s: %w", tenantID, err)
	}
	out := make([]contacts.Field, 0, len(items))
	for _, item := range items {
		f, err := decodeField(item)
		if err != nil {
			return nil, fmt.Errorf("unmarshal fields of %s: %w", tenantID, err)
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b contacts.Field) int { return compareNumeric(a.ID, b.ID) })
	return out, nil
}

// compareNumeric orders decimal strings without leading zeros by value.
func compareNumeric(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
}

// CreateField takes the tenant's next field ID and writes the field with
// its name guard; an apperr.KindExists if another field has the name in any case. An ID
// taken by a failed create is not reused.
func (s *Contacts) CreateField(ctx context.Context, tenantID string, f contacts.Field) (contacts.Field, error) {
	id, err := s.nextFieldID(ctx, tenantID)
	if err != nil {
		return contacts.Field{}, err
	}
	f.ID = id
	fi, err := item(tenantPK(tenantID), fieldSK(id), f)
	if err != nil {
		return contacts.Field{}, err
	}
	gi, err := item(tenantPK(tenantID), fieldNameSK(f.Name), fieldGuard{FieldID: id})
	if err != nil {
		return contacts.Field{}, err
	}
	_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		putNew(s.Table, fi), putNew(s.Table, gi),
	}})
	if isConditionFailure(err) {
		return contacts.Field{}, apperr.Exists("A contact field named %q already exists.", f.Name).Wrap(err)
	}
	if err != nil {
		return contacts.Field{}, fmt.Errorf("create field %q: %w", f.Name, err)
	}
	return f, nil
}

// nextFieldID adds one to the tenant's field counter and returns it.
func (s *Contacts) nextFieldID(ctx context.Context, tenantID string) (string, error) {
	out, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key(tenantPK(tenantID), skFieldSeq),
		UpdateExpression:          aws.String("ADD n :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return "", fmt.Errorf("next field ID of %s: %w", tenantID, err)
	}
	n, ok := out.Attributes["n"].(*types.AttributeValueMemberN)
	if !ok {
		return "", fmt.Errorf("next field ID of %s: no counter returned", tenantID)
	}
	return n.Value, nil
}

// UpdateField replaces prev by next. A new name (other than by case) moves
// the name guard in the same transaction. an apperr.KindExists if the new name is
// taken, an apperr.KindNotFound if the field is gone, an apperr.KindConflict if its stored name is
// no longer prev.Name.
func (s *Contacts) UpdateField(ctx context.Context, tenantID string, prev, next contacts.Field) error {
	if prev.ID != next.ID || next.ID == "" {
		return fmt.Errorf("update field %q: the ID may not change", prev.ID)
	}
	fi, err := item(tenantPK(tenantID), fieldSK(next.ID), next)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName: aws.String(s.Table), Item: fi,
		ConditionExpression:                 aws.String("attribute_exists(PK) AND #n = :name"),
		ExpressionAttributeNames:            map[string]string{"#n": "name"},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":name": &types.AttributeValueMemberS{Value: prev.Name}},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}}
	if fieldNameSK(prev.Name) != fieldNameSK(next.Name) {
		gi, err := item(tenantPK(tenantID), fieldNameSK(next.Name), fieldGuard{FieldID: next.ID})
		if err != nil {
			return err
		}
		items = append(items, s.deleteGuard(tenantID, prev), putNew(s.Table, gi))
	}
	_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return fieldWriteError("update field "+prev.ID, prev.ID, next.Name, err)
}

// DeleteField deletes a field and its name guard; an apperr.KindNotFound if it is
// gone, an apperr.KindConflict if its stored name is no longer f.Name.
func (s *Contacts) DeleteField(ctx context.Context, tenantID string, f contacts.Field) error {
	_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName: aws.String(s.Table), Key: key(tenantPK(tenantID), fieldSK(f.ID)),
			ConditionExpression:                 aws.String("attribute_exists(PK) AND #n = :name"),
			ExpressionAttributeNames:            map[string]string{"#n": "name"},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":name": &types.AttributeValueMemberS{Value: f.Name}},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		s.deleteGuard(tenantID, f),
	}})
	return fieldWriteError("delete field "+f.ID, f.ID, f.Name, err)
}

// deleteGuard deletes f's name guard if it belongs to f.
func (s *Contacts) deleteGuard(tenantID string, f contacts.Field) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(s.Table), Key: key(tenantPK(tenantID), fieldNameSK(f.Name)),
		ConditionExpression:       aws.String("field_id = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: f.ID}},
	}}
}

// fieldWriteError maps the failed conditions of a field transaction whose
// first action writes the field, the second deletes the old guard and the
// third (if any) puts the new guard: a missing field is an apperr.KindNotFound, a field
// whose name changed an apperr.KindConflict, a taken name an apperr.KindExists, and a guard that
// belongs to another field an apperr.KindConflict. The failed condition of the field is
// told apart by the old item DynamoDB returns with it (ALL_OLD).
func fieldWriteError(what, id, name string, err error) error {
	if err == nil {
		return nil
	}
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || !isConditionFailure(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	failed := func(i int) bool {
		return i < len(tce.CancellationReasons) && aws.ToString(tce.CancellationReasons[i].Code) == "ConditionalCheckFailed"
	}
	switch {
	case failed(0) && tce.CancellationReasons[0].Item == nil:
		return apperr.NotFound("Contact field", id).Wrap(err)
	case failed(0):
		return apperr.Conflict("contact field").Wrap(err)
	case failed(2):
		return apperr.Exists("A contact field named %q already exists.", name).Wrap(err)
	default:
		return apperr.Conflict("contact field").Wrap(err)
	}
}
