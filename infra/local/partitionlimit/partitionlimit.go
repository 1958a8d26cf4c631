// Package partitionlimit wraps a DynamoDB client so that it refuses, as
// DynamoDB does, writes to one partition beyond a number per second: the
// emulators have no such limit, and a hot key only shows under one. For
// tests and benchmarks; nothing deployed uses it.
package partitionlimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// PerSecond is DynamoDB's write limit of one partition: 1,000 write units
// a second.
const PerSecond = 1000

// Limiter wraps a client and refuses, as DynamoDB does, writes to one
// partition beyond perSec in one second: the whole call answers
// ProvisionedThroughputExceededException and writes nothing. Every Put,
// Update and Delete (PutItem, UpdateItem, DeleteItem, or inside a
// TransactWriteItems) is a write to its table's partition key, and a Put
// with GSI1PK one more to that GSI1 partition (a throttled GSI throttles
// its table's writes too). Its transactions go without the SDK's
// idempotency token (see withoutRequestToken).
//
// now is the clock the seconds are counted by: a test or benchmark that
// sends at a pace of its own (the emulator writes far slower than DynamoDB
// does) counts seconds by that pace.
type Limiter struct {
	*dynamodb.Client
	perSec int
	now    func() time.Time

	mu     sync.Mutex
	second int64
	writes map[string]int // this second's writes per partition
	peak   int
	hot    string
}

// Peak is the most writes one partition took in one second, and that
// partition (table/attribute/key).
func (p *Limiter) Peak() (int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak, p.hot
}

// New wraps c with a limit of perSec writes a second per partition,
// seconds counted by now.
func New(c *dynamodb.Client, perSec int, now func() time.Time) *Limiter {
	return &Limiter{Client: c, perSec: perSec, now: now, writes: map[string]int{}}
}

// admit counts one call's writes (partition → writes) or refuses them all.
func (p *Limiter) admit(keys map[string]int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.now().Unix(); s != p.second {
		p.second, p.writes = s, map[string]int{}
	}
	for k, n := range keys {
		if p.writes[k]+n > p.perSec {
			return &types.ProvisionedThroughputExceededException{Message: aws.String(fmt.Sprintf(
				"The level of configured provisioned throughput for the table was exceeded (partition %s: %d writes this second, at most %d)", k, p.writes[k], p.perSec))}
		}
	}
	for k, n := range keys {
		p.writes[k] += n
		if p.writes[k] > p.peak {
			p.peak, p.hot = p.writes[k], k
		}
	}
	return nil
}

// pkOf is table/attr/value of a key attribute, "" if absent.
// pkOf is table/attr/value of a key attribute, "" if absent.
func pkOf(table *string, m map[string]types.AttributeValue, attr string) string {
	if v, ok := m[attr].(*types.AttributeValueMemberS); ok {
		return aws.ToString(table) + "/" + attr + "/" + v.Value
	}
	return ""
}

// count adds the partitions a write touches.
// count adds the partitions a write touches.
func (p *Limiter) count(keys map[string]int, table *string, keyOrItem map[string]types.AttributeValue) {
	for _, attr := range []string{"PK", "GSI1PK"} {
		if k := pkOf(table, keyOrItem, attr); k != "" {
			keys[k]++
		}
	}
}

// TransactWriteItems is the client's, if every partition it writes is under the limit.
// TransactWriteItems is the client's, if every partition it writes is under the limit.
func (p *Limiter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	keys := map[string]int{}
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			p.count(keys, it.Put.TableName, it.Put.Item)
		case it.Update != nil:
			p.count(keys, it.Update.TableName, it.Update.Key)
		case it.Delete != nil:
			p.count(keys, it.Delete.TableName, it.Delete.Key)
		}
	}
	if err := p.admit(keys); err != nil {
		return nil, err
	}
	return p.Client.TransactWriteItems(ctx, in, append(opts, withoutRequestToken)...)
}

// withoutRequestToken leaves out the idempotency token the SDK puts on
// every TransactWriteItems: dynoxide keeps each token it sees, and its
// transactions slow down as they pile up (a bulk import through the
// limiter sends each transaction once).
func withoutRequestToken(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("testDropClientRequestToken",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if tw, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
					cp := *tw
					cp.ClientRequestToken = nil
					in.Parameters = &cp
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

// PutItem is the client's, if every partition it writes is under the limit.
// PutItem is the client's, if every partition it writes is under the limit.
func (p *Limiter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	keys := map[string]int{}
	p.count(keys, in.TableName, in.Item)
	if err := p.admit(keys); err != nil {
		return nil, err
	}
	return p.Client.PutItem(ctx, in, opts...)
}

// UpdateItem is the client's, if every partition it writes is under the limit.
// UpdateItem is the client's, if every partition it writes is under the limit.
func (p *Limiter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	keys := map[string]int{}
	p.count(keys, in.TableName, in.Key)
	if err := p.admit(keys); err != nil {
		return nil, err
	}
	return p.Client.UpdateItem(ctx, in, opts...)
}

// DeleteItem is the client's, if every partition it writes is under the limit.
// DeleteItem is the client's, if every partition it writes is under the limit.
func (p *Limiter) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	keys := map[string]int{}
	p.count(keys, in.TableName, in.Key)
	if err := p.admit(keys); err != nil {
		return nil, err
	}
	return p.Client.DeleteItem(ctx, in, opts...)
}
