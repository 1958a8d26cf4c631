package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// matchesPerValue is how many contacts share each value of the "code"
// custom field: a search for one value finds exactly this many.
const matchesPerValue = 5

var plans = []string{"free", "pro", "enterprise"}

// seedContact is contact number i of a fixture for the search benchmarks:
// three custom fields, a code shared by matchesPerValue contacts, one of
// three plans and the tier every contact of the fixture has (commonValue).
// Each value is one index entry and one ADD to its shard's count, written
// in the contact's transaction; dynoxide writes only about 3,000 items a
// second here, all under one lock, so the seeded contacts carry just these
// three (7 items per contact). The index has both kinds of value: rare
// ones (5 contacts per code) and common ones (a third of the tenant per
// plan, all of it for the tier).
func seedContact(f *fixture, i int, createdAt int64) contacts.Contact {
	return contacts.Contact{
		ID:        contacts.NewContactID(),
		TenantID:  f.tenantID,
		ChannelID: f.channelID,
		Fields:    map[string]string{},
		Custom: map[string]string{
			f.fields["code"].ID: codeValue(i / matchesPerValue),
			f.fields["plan"].ID: plans[i%len(plans)],
			f.fields["tier"].ID: commonValue,
		},
		Tags:      []string{},
		CreatedAt: createdAt,
		UpdatedAt: createdAt,
		Version:   1,
	}
}

// itemsPerContact is the contact item and, per value, its index entry and
// the ADD to its count.
const itemsPerContact = 1 + 3*2

// commonValue is the tier every seeded contact has.
const commonValue = "gold"

// fullContact is the contact GET /v1/contact/{id} reads: every writable
// standard field and a value for each custom field, with tags.
func fullContact(f *fixture) contacts.Contact {
	now := time.Now().Unix()
	return contacts.Contact{
		ID:        contacts.NewContactID(),
		TenantID:  f.tenantID,
		ChannelID: f.channelID,
		Fields: map[string]string{
			"firstName": "Ayesha", "lastName": "Khan", "language": "ur", "phone": "+923244077087",
			"email": "ayesha.khan@example.com", "profilePic": "https://example.com/p/ayesha.jpg",
		},
		Custom: map[string]string{
			f.fields["code"].ID: "vip-0001", f.fields["plan"].ID: "pro", f.fields["score"].ID: "42",
		},
		Tags:      []string{"customer", "newsletter"},
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
}

// codeValue is the code shared by group g of matchesPerValue contacts.
func codeValue(g int) string { return fmt.Sprintf("code-%07d", g) }

// seedJob is n contacts of one fixture.
type seedJob struct {
	f *fixture
	n int
}

// seed writes the jobs' contacts through ddbstore.Contacts.CreateContact
// (contact and index items in one transaction) on workers goroutines, with
// a client of its own whose connection pool fits the workers (seeding is
// not the request path; the default pool would redial all the time and
// leave thousands of sockets in TIME_WAIT behind for the measurements).
func (e *env) seed(ctx context.Context, workers int, jobs []seedJob, progress func(done, total int)) error {
	type item struct {
		f *fixture
		i int
	}
	var all []item
	for _, j := range jobs {
		for i := range j.n {
			all = append(all, item{j.f, i})
		}
	}
	cfg := e.stack.AWSConfig()
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = workers
	})
	if !e.keepTokens {
		cfg.APIOptions = append(cfg.APIOptions, dropClientRequestToken)
	}
	store := &ddbstore.Contacts{API: dynamodb.NewFromConfig(cfg), Table: e.d.DataTable, OpsTable: e.d.OpsTable}
	base := time.Now().Unix() - int64(len(all))
	var done atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	if progress != nil {
		go func() {
			t := time.NewTicker(10 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					progress(int(done.Load()), len(all))
				}
			}
		}()
	}
	return bench.Parallel(ctx, workers, len(all), func(ctx context.Context, k int) error {
		it := all[k]
		c := seedContact(it.f, it.i, base+int64(it.i))
		var err error
		for range 3 {
			if err = store.CreateContact(ctx, c); !apperr.Is(err, apperr.KindExists) {
				break
			}
			c.ID = contacts.NewContactID()
		}
		if err == nil {
			done.Add(1)
		}
		return err
	})
}

// dropClientRequestToken removes the idempotency token the SDK puts on every
// TransactWriteItems. dynoxide 1.2.1 keeps each token it sees, and its
// transactions slow down as they pile up: a 100,000-contact seed that
// starts at several hundred contacts a second ends at under 200. The token
// only matters for retries of the same call, which the seed does not make
// (a retried CreateContact gets a new contact ID); the items are still
// built and written by ddbstore.Contacts.CreateContact.
func dropClientRequestToken(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("apibenchDropClientRequestToken",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if tw, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
				cp := *tw
				cp.ClientRequestToken = nil
				in.Parameters = &cp
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}
