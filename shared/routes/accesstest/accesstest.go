// Package accesstest checks what a function really does with the project's
// resources against the Access bits the route table gives it, from which the
// CDK app grants its IAM permissions and nothing more. The emulators do not
// enforce IAM, so without this check a function that starts writing to a
// table its route has no grant for would pass every local test and fail in
// AWS with AccessDenied.
//
// Tests instrument the SDK configuration the function's Deps are built from
// (Instrument), invoke the handler with a context from WithRecorder, and ask
// Missing which of the recorded calls the route's Access does not allow.
// Only test code imports this package.
package accesstest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/routes"
)

// Resources names the project's resources as the function sees them.
type Resources struct {
	Table, OpsTable string // table names
	Queue, DLQ      string // queue URLs
	// Outbox and OutboxDLQ are the outbox queue's URLs ("": none).
	Outbox, OutboxDLQ string
}

// Call is one resource access of an SDK call: a transaction or batch is one
// Call per item.
type Call struct {
	Op       string // the SDK operation, e.g. "TransactWriteItems/Put"
	Resource string // a table name or queue URL
	Write    bool
	Key      string // the item's partition key, when the call names one (a GSI1 query: its GSI1PK)
	Index    string // the index a Query reads
}

func (c Call) String() string {
	res := c.Resource
	if c.Index != "" {
		res += "/" + c.Index
	}
	if c.Key != "" {
		return fmt.Sprintf("%s %s (PK %s)", c.Op, res, c.Key)
	}
	return c.Op + " " + res
}

// Recorder collects the calls made under one context.
type Recorder struct {
	mu    sync.Mutex
	calls []Call
}

// Calls returns what was recorded so far.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

func (r *Recorder) add(cs ...Call) {
	r.mu.Lock()
	r.calls = append(r.calls, cs...)
	r.mu.Unlock()
}

type ctxKey struct{}

// WithRecorder returns a context under which instrumented clients record
// their calls into the returned Recorder.
func WithRecorder(ctx context.Context) (context.Context, *Recorder) {
	r := &Recorder{}
	return context.WithValue(ctx, ctxKey{}, r), r
}

// Instrument returns a copy of cfg whose clients record every call made
// under a WithRecorder context.
func Instrument(cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("accesstest",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if r, ok := ctx.Value(ctxKey{}).(*Recorder); ok {
					r.add(calls(in.Parameters)...)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
	return cfg
}

// calls describes an SDK input. Operations this package does not know are
// recorded with Op "unknown <type>", which Missing reports.
func calls(p any) []Call {
	pk := func(item map[string]types.AttributeValue) string {
		if v, ok := item[ddbstore.AttrPK].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	s := aws.ToString
	switch in := p.(type) {
	case *dynamodb.GetItemInput:
		return []Call{{Op: "GetItem", Resource: s(in.TableName), Key: pk(in.Key)}}
	case *dynamodb.QueryInput:
		return []Call{{Op: "Query", Resource: s(in.TableName), Index: s(in.IndexName), Key: queryKey(in)}}
	case *dynamodb.ScanInput:
		return []Call{{Op: "Scan", Resource: s(in.TableName)}}
	case *dynamodb.BatchGetItemInput:
		var out []Call
		for t, ka := range in.RequestItems {
			for _, k := range ka.Keys {
				out = append(out, Call{Op: "BatchGetItem", Resource: t, Key: pk(k)})
			}
		}
		return out
	case *dynamodb.TransactGetItemsInput:
		var out []Call
		for _, it := range in.TransactItems {
			if it.Get != nil {
				out = append(out, Call{Op: "TransactGetItems", Resource: s(it.Get.TableName), Key: pk(it.Get.Key)})
			}
		}
		return out
	case *dynamodb.PutItemInput:
		return []Call{{Op: "PutItem", Resource: s(in.TableName), Write: true, Key: pk(in.Item)}}
	case *dynamodb.UpdateItemInput:
		return []Call{{Op: "UpdateItem", Resource: s(in.TableName), Write: true, Key: pk(in.Key)}}
	case *dynamodb.DeleteItemInput:
		return []Call{{Op: "DeleteItem", Resource: s(in.TableName), Write: true, Key: pk(in.Key)}}
	case *dynamodb.BatchWriteItemInput:
		var out []Call
		for t, reqs := range in.RequestItems {
			for _, r := range reqs {
				c := Call{Op: "BatchWriteItem", Resource: t, Write: true}
				if r.PutRequest != nil {
					c.Key = pk(r.PutRequest.Item)
				} else if r.DeleteRequest != nil {
					c.Key = pk(r.DeleteRequest.Key)
				}
				out = append(out, c)
			}
		}
		return out
	case *dynamodb.TransactWriteItemsInput:
		var out []Call
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				out = append(out, Call{Op: "TransactWriteItems/Put", Resource: s(it.Put.TableName), Write: true, Key: pk(it.Put.Item)})
			case it.Update != nil:
				out = append(out, Call{Op: "TransactWriteItems/Update", Resource: s(it.Update.TableName), Write: true, Key: pk(it.Update.Key)})
			case it.Delete != nil:
				out = append(out, Call{Op: "TransactWriteItems/Delete", Resource: s(it.Delete.TableName), Write: true, Key: pk(it.Delete.Key)})
			case it.ConditionCheck != nil:
				out = append(out, Call{Op: "TransactWriteItems/ConditionCheck", Resource: s(it.ConditionCheck.TableName), Key: pk(it.ConditionCheck.Key)})
			}
		}
		return out
	case *sqs.SendMessageInput:
		return []Call{{Op: "SendMessage", Resource: s(in.QueueUrl), Write: true}}
	case *sqs.SendMessageBatchInput:
		return []Call{{Op: "SendMessageBatch", Resource: s(in.QueueUrl), Write: true}}
	case *sqs.ReceiveMessageInput:
		return []Call{{Op: "ReceiveMessage", Resource: s(in.QueueUrl)}}
	case *sqs.DeleteMessageInput:
		return []Call{{Op: "DeleteMessage", Resource: s(in.QueueUrl)}}
	case *sqs.DeleteMessageBatchInput:
		return []Call{{Op: "DeleteMessageBatch", Resource: s(in.QueueUrl)}}
	case *sqs.ChangeMessageVisibilityInput:
		return []Call{{Op: "ChangeMessageVisibility", Resource: s(in.QueueUrl)}}
	case *sqs.ChangeMessageVisibilityBatchInput:
		return []Call{{Op: "ChangeMessageVisibilityBatch", Resource: s(in.QueueUrl)}}
	case *sqs.GetQueueAttributesInput:
		return []Call{{Op: "GetQueueAttributes", Resource: s(in.QueueUrl)}}
	}
	return []Call{{Op: fmt.Sprintf("unknown %T", p)}}
}

// keyCondition finds "name = :value" in a key condition expression.
var keyCondition = regexp.MustCompile(`([#A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)`)

// queryKey is the partition key value a Query names: the value compared
// with PK (or, on GSI1, with GSI1PK) in its key condition; "" if none.
func queryKey(in *dynamodb.QueryInput) string {
	want := ddbstore.AttrPK
	switch aws.ToString(in.IndexName) {
	case ddbstore.GSI1:
		want = ddbstore.AttrGSI1PK
	case ddbstore.GSI2:
		want = ddbstore.AttrGSI2PK
	}
	for _, m := range keyCondition.FindAllStringSubmatch(aws.ToString(in.KeyConditionExpression), -1) {
		name := m[1]
		if n, ok := in.ExpressionAttributeNames[name]; ok {
			name = n
		}
		if name != want {
			continue
		}
		if v, ok := in.ExpressionAttributeValues[m[2]].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
	}
	return ""
}

// MissingFor is Missing and, for every DynamoDB call, the check that its
// partition key is one the function's routes.Keys scope allows: in AWS,
// the dynamodb:LeadingKeys conditions the CDK app builds from the same
// scope refuse any other key.
func MissingFor(fn string, a routes.Access, calls []Call, res Resources) []string {
	out := Missing(a, calls, res)
	scope := routes.Keys[fn]
	for _, c := range calls {
		if why := keyDenied(scope, c, res); why != "" {
			out = append(out, c.String()+": "+why)
		}
	}
	return out
}

// keyDenied says why scope does not allow c's partition key, or "".
func keyDenied(scope routes.KeyScope, c Call, res Resources) string {
	var allowed []string
	var what string
	switch {
	case c.Resource == res.Table && c.Write:
		allowed, what = scope.Write, "routes.Keys Write"
	case c.Resource == res.Table:
		allowed, what = scope.Read, "routes.Keys Read"
	case c.Resource == res.OpsTable && c.Write:
		allowed, what = scope.OpsWrite, "routes.Keys OpsWrite"
	case c.Resource == res.OpsTable:
		allowed, what = scope.OpsRead, "routes.Keys OpsRead"
	default:
		return ""
	}
	if c.Op == "Scan" {
		return "no runtime role may Scan"
	}
	if c.Key == "" {
		return "names no partition key, so no dynamodb:LeadingKeys condition can allow it"
	}
	if !KeyAllowed(allowed, c.Key) {
		return fmt.Sprintf("partition key outside %s %q", what, allowed)
	}
	return ""
}

// KeyAllowed reports whether key matches one of the IAM StringLike patterns
// (only a trailing "*" is a wildcard in routes.Keys).
func KeyAllowed(patterns []string, key string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(key, prefix) {
				return true
			}
		} else if key == p {
			return true
		}
	}
	return false
}

// Missing lists, one line each, the calls that access a does not allow.
func Missing(a routes.Access, calls []Call, res Resources) []string {
	var out []string
	for _, c := range calls {
		if why := denied(a, c, res); why != "" {
			out = append(out, c.String()+": "+why)
		}
	}
	return out
}

// denied says why a does not allow c, or "" when it does.
func denied(a routes.Access, c Call, res Resources) string {
	any := func(bits ...routes.Access) bool {
		for _, b := range bits {
			if a.Has(b) {
				return true
			}
		}
		return false
	}
	send := c.Op == "SendMessage" || c.Op == "SendMessageBatch"
	switch {
	case strings.HasPrefix(c.Op, "unknown"):
		return "an SDK call this check does not know; teach accesstest.calls its grant"
	case c.Resource == res.Table && c.Write:
		if !a.Has(routes.TableWrite) {
			return "needs TableWrite"
		}
	case c.Resource == res.Table:
		if !a.Has(routes.TableRead) {
			return "needs TableRead"
		}
	case c.Resource == res.OpsTable && c.Write:
		rate := c.Op == "UpdateItem" && strings.HasPrefix(c.Key, ddbstore.RateLimitKeyPrefix)
		if rate && !any(routes.RateCount, routes.Ops) {
			return "needs RateCount (or Ops)"
		}
		if !rate && !a.Has(routes.Ops) {
			return "needs Ops (RateCount allows UpdateItem on " + ddbstore.RateLimitKeyPrefix + " keys only)"
		}
	case c.Resource == res.OpsTable:
		if !any(routes.Ops, routes.OpsRead) {
			return "needs Ops or OpsRead"
		}
	case c.Resource == res.Queue && send:
		if !a.Has(routes.QueueSend) {
			return "needs QueueSend"
		}
	case c.Resource == res.Queue:
		if !a.Has(routes.QueueConsume) {
			return "needs QueueConsume"
		}
	case c.Resource == res.DLQ && send:
		return "nothing may send to the DLQ directly"
	case c.Resource == res.DLQ:
		if !a.Has(routes.DLQRead) {
			return "needs DLQRead"
		}
	case res.Outbox != "" && c.Resource == res.Outbox && send:
		if !a.Has(routes.OutboxSend) {
			return "needs OutboxSend"
		}
	case res.Outbox != "" && c.Resource == res.Outbox:
		if !a.Has(routes.OutboxConsume) {
			return "needs OutboxConsume"
		}
	case res.OutboxDLQ != "" && c.Resource == res.OutboxDLQ:
		return "nothing may use the outbox DLQ (an operator's redrive only)"
	default:
		return "a resource the project does not grant"
	}
	return ""
}
