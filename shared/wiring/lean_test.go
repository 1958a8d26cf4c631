package wiring_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

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
	}
}
