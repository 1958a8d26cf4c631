package ddbstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// runOnce runs a migration unless the operations table's marker (markerPK,
// sk) says it already ran to the end there, and sets the marker when it
// completes: whether it ran, its stats, and its error ("what: …").
func runOnce[S any](ctx context.Context, api API, opsTable, sk, what string, run func() (S, error)) (bool, S, error) {
	var st S
	if opsTable == "" {
		return false, st, errNoIndex
	}
	errNoMarker := errors.New("no marker")
	switch err := getItem(ctx, api, opsTable, markerPK, sk, true, &struct{}{}, errNoMarker); {
	case err == nil:
		return false, st, nil
	case !errors.Is(err, errNoMarker):
		return false, st, fmt.Errorf("%s: read marker: %w", what, err)
	}
	st, err := run()
	if err != nil {
		return true, st, err
	}
	mk := key(markerPK, sk)
	mk["done_at"] = &types.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339)}
	if _, err := api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(opsTable), Item: mk}); err != nil {
		return true, st, fmt.Errorf("%s: write marker: %w", what, err)
	}
	return true, st, nil
}
