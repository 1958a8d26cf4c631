package ddbstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/idempotency"
)

// Idempotency keeps idempotency records, one item per scope and key, with
// the table's TTL attribute set to the record's expiry.
type Idempotency struct {
	API      API
	OpsTable string // the operations table
}

var _ idempotency.Store = (*Idempotency)(nil)

const skIdem = "IDEM"

func idemPK(scope, k string) string { return "IDEM#" + scope + "#" + k }

// claimAttempts bounds Claim's retries when the holding record disappears
// between the failed write and the read of the holder.
const claimAttempts = 3

// claimCondition lets a claim through if there is no record, if the record
// has expired (TTL deletion runs late, up to days) or if it is a pending
// claim whose lease has run out.
const claimCondition = "attribute_not_exists(PK) OR #ttl < :now OR (done = :false AND lease_until < :now)"

// Claim stores rec for the key unless a live record holds it; it returns
// the record that holds the key and whether this call claimed it.
func (s *Idempotency) Claim(ctx context.Context, scope, k string, rec idempotency.Record, now time.Time) (idempotency.Record, bool, error) {
	if rec.Expires <= now.Unix() {
		return idempotency.Record{}, false, fmt.Errorf("claim %s/%s: record expires at %d, not after now", scope, k, rec.Expires)
	}
	pk := idemPK(scope, k)
	it, err := item(pk, skIdem, rec)
	if err != nil {
		return idempotency.Record{}, false, err
	}
	for range claimAttempts {
		_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                aws.String(s.OpsTable),
			Item:                     it,
			ConditionExpression:      aws.String(claimCondition),
			ExpressionAttributeNames: map[string]string{"#ttl": TTLAttribute},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now":   &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)},
				":false": &types.AttributeValueMemberBOOL{Value: false},
			},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return rec, true, nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return idempotency.Record{}, false, fmt.Errorf("claim %s/%s: %w", scope, k, err)
		}
		held, found, herr := s.holder(ctx, pk, ccf.Item)
		if herr != nil || found {
			return held, false, herr
		}
	}
	return idempotency.Record{}, false, fmt.Errorf("claim %s/%s: the key kept changing hands", scope, k)
}

// errGone is holder's not-found: the record went between the claim and the read.
var errGone = errors.New("idempotency record gone")

// holder decodes the record that failed a claim: the old item returned with
// the failure or, if there is none, a strongly consistent read. found is
// false if the record has gone meanwhile.
func (s *Idempotency) holder(ctx context.Context, pk string, old map[string]types.AttributeValue) (idempotency.Record, bool, error) {
	var rec idempotency.Record
	if old == nil {
		switch err := getItem(ctx, s.API, s.OpsTable, pk, skIdem, true, &rec, errGone); {
		case errors.Is(err, errGone):
			return rec, false, nil
		case err != nil:
			return rec, false, err
		}
		return rec, true, nil
	}
	if err := attributevalue.UnmarshalMap(old, &rec); err != nil {
		return rec, false, fmt.Errorf("unmarshal %s: %w", pk, err)
	}
	return rec, true, nil
}

// Complete stores the response of a claimed key (rec is stored as done);
// it fails if the key is not claimed.
func (s *Idempotency) Complete(ctx context.Context, scope, k string, rec idempotency.Record) error {
	rec.Done = true
	it, err := item(idemPK(scope, k), skIdem, rec)
	if err != nil {
		return err
	}
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.OpsTable),
		Item:                it,
		ConditionExpression: aws.String("attribute_exists(PK)"),
	})
	if err != nil {
		return fmt.Errorf("complete %s/%s: %w", scope, k, err)
	}
	return nil
}

// Release forgets a key, so that a retry runs again.
func (s *Idempotency) Release(ctx context.Context, scope, k string) error {
	_, err := s.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.OpsTable), Key: key(idemPK(scope, k), skIdem)})
	if err != nil {
		return fmt.Errorf("release %s/%s: %w", scope, k, err)
	}
	return nil
}
