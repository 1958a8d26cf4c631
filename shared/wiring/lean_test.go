package wiring_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/startmsg/chatbackend/shared/ddblean"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// TestStoresUseLeanClient: every store the wiring builds talks to
// DynamoDB through the lean client, on its lean path.
func TestStoresUseLeanClient(t *testing.T) {
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	e := wiring.FromConfig(cfg, func(string) string { return "t" })
	apis := map[string]ddbstore.API{
		"tenancy":     e.Tenancy().API,
		"contacts":    e.Contacts().API,
		"connections": e.Connections().API,
		"idempotency": e.IdempotencyStore().(*ddbstore.Idempotency).API,
		"inbox":       e.MessengerInbox().(*ddbstore.Inbox).API,
		"rate limit":  e.Limiter().Counter.(*ddbstore.RateCounter).API,
	}
	for name, api := range apis {
		c, ok := api.(*ddblean.Client)
		if !ok {
			t.Errorf("%s store: %T, want *ddblean.Client", name, api)
			continue
		}
		if !c.Lean() {
			t.Errorf("%s store: lean path off", name)
		}
		// What the stores look for beyond ddbstore.API: Scan and
		// BatchWriteItem (reindex, the batched delivery attempts).
		if _, ok := api.(interface {
			Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
			BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
		}); !ok {
			t.Errorf("%s store: no Scan and BatchWriteItem", name)
		}
	}
}
