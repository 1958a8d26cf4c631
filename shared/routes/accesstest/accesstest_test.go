package accesstest

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/routes"
)

var res = Resources{Table: "data", OpsTable: "ops", Queue: "https://q/deliveries", DLQ: "https://q/dlq"}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func TestMissing(t *testing.T) {
	rl := &dynamodb.UpdateItemInput{TableName: aws.String("ops"), Key: map[string]types.AttributeValue{"PK": s("RL#tok#1"), "SK": s("RL")}}
	att := &dynamodb.PutItemInput{TableName: aws.String("ops"), Item: map[string]types.AttributeValue{"PK": s("CONN#t#c"), "SK": s("ATT#1")}}
	idxTx := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String("data"), Item: map[string]types.AttributeValue{"PK": s("CONTACT#t#1")}}},
		{Put: &types.Put{TableName: aws.String("ops"), Item: map[string]types.AttributeValue{"PK": s("IDX#t#c#f#v")}}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("data"), Key: map[string]types.AttributeValue{"PK": s("TENANT#t")}}},
	}}
	search := &dynamodb.QueryInput{TableName: aws.String("ops"), IndexName: aws.String("GSI1")}
	send := &sqs.SendMessageBatchInput{QueueUrl: aws.String(res.Queue)}
	dlqRead := &sqs.ReceiveMessageInput{QueueUrl: aws.String(res.DLQ)}
	dlqSend := &sqs.SendMessageInput{QueueUrl: aws.String(res.DLQ)}
	other := &dynamodb.GetItemInput{TableName: aws.String("someone-elses")}
	tests := []struct {
		name   string
		access routes.Access
		in     any
		want   []string // substrings of the refusals, in order; none: allowed
	}{
		{"rate count", routes.RateCount, rl, nil},
		{"rate count via Ops", routes.Ops, rl, nil},
		{"rate count without grant", routes.TableRead, rl, []string{"needs RateCount"}},
		{"attempt with RateCount only", routes.RateCount, att, []string{"needs Ops (RateCount allows UpdateItem on RL# keys only)"}},
		{"attempt with Ops", routes.Ops, att, nil},
		{"index write without Ops", routes.TableRead | routes.TableWrite | routes.RateCount, idxTx, []string{"IDX#t#c#f#v): needs Ops"}},
		{"index write, no TableWrite", routes.TableRead | routes.Ops, idxTx, []string{"CONTACT#t#1): needs TableWrite"}},
		{"condition check needs read", routes.TableWrite | routes.Ops, idxTx, []string{"ConditionCheck data (PK TENANT#t): needs TableRead"}},
		{"search with OpsRead", routes.OpsRead, search, nil},
		{"search without", routes.TableRead, search, []string{"needs Ops or OpsRead"}},
		{"queue send", routes.QueueSend, send, nil},
		{"queue send without", routes.QueueConsume, send, []string{"needs QueueSend"}},
		{"DLQ read", routes.DLQRead, dlqRead, nil},
		{"DLQ read without", routes.QueueConsume, dlqRead, []string{"needs DLQRead"}},
		{"DLQ send", routes.DLQRead | routes.QueueSend, dlqSend, []string{"nothing may send to the DLQ"}},
		{"another table", routes.TableRead | routes.Ops, other, []string{"a resource the project does not grant"}},
		{"unknown call", routes.TableRead, &dynamodb.DescribeTableInput{}, []string{"unknown *dynamodb.DescribeTableInput"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Missing(tt.access, calls(tt.in), res)
			if len(got) != len(tt.want) {
				t.Fatalf("Missing = %q, want %d refusals like %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("refusal %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestInstrumentRecordsUnderRecorderOnly checks that an instrumented client
// records its calls under a WithRecorder context and nowhere else. The call
// goes to a closed port and fails; recording happens before it is sent.
func TestInstrumentRecordsUnderRecorderOnly(t *testing.T) {
	cfg := Instrument(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1})
	db := dynamodb.NewFromConfig(cfg)
	in := &dynamodb.GetItemInput{TableName: aws.String("data"), Key: map[string]types.AttributeValue{"PK": s("CONTACT#t#1"), "SK": s("CONTACT")}}
	ctx, rec := WithRecorder(context.Background())
	_, _ = db.GetItem(ctx, in)
	_, _ = db.GetItem(context.Background(), in)
	got := rec.Calls()
	if len(got) != 1 || got[0].String() != "GetItem data (PK CONTACT#t#1)" {
		t.Fatalf("recorded %v, want the one GetItem made under the recorder", got)
	}
}

// TestMissingFor checks the partition-key wall: a call whose key lies
// outside the function's routes.Keys scope is refused, as the CDK app's
// dynamodb:LeadingKeys conditions refuse it in AWS.
func TestMissingFor(t *testing.T) {
	item := func(table, pk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"PK": s(pk), "SK": s("X")}
	}
	getCred := &dynamodb.GetItemInput{TableName: aws.String("data"), Key: item("data", "CRED#abc")}
	getContact := &dynamodb.GetItemInput{TableName: aws.String("data"), Key: item("data", "CONTACT#t#1")}
	getTenant := &dynamodb.GetItemInput{TableName: aws.String("data"), Key: item("data", "TENANT#t")}
	putTenant := &dynamodb.PutItemInput{TableName: aws.String("data"), Item: item("data", "TENANT#t")}
	putContact := &dynamodb.PutItemInput{TableName: aws.String("data"), Item: item("data", "CONTACT#t#1")}
	putCred := &dynamodb.PutItemInput{TableName: aws.String("data"), Item: item("data", "CRED#abc")}
	idem := &dynamodb.PutItemInput{TableName: aws.String("ops"), Item: item("ops", "IDEM#s#k")}
	idx := &dynamodb.PutItemInput{TableName: aws.String("ops"), Item: item("ops", "IDX#t#c#f#v")}
	rl := &dynamodb.UpdateItemInput{TableName: aws.String("ops"), Key: item("ops", "RL#tok#1")}
	scan := &dynamodb.ScanInput{TableName: aws.String("data")}
	search := &dynamodb.QueryInput{TableName: aws.String("ops"), IndexName: aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("IDX#t#*#std:email#a@b.c")}}
	fields := &dynamodb.QueryInput{TableName: aws.String("data"),
		KeyConditionExpression:    aws.String("#k = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeNames:  map[string]string{"#k": "PK"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("TENANT#t"), ":p": s("FIELD#")}}
	noKey := &dynamodb.QueryInput{TableName: aws.String("data"), KeyConditionExpression: aws.String("SK = :s")}
	batch := &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		"data": {Keys: []map[string]types.AttributeValue{item("data", "CONTACT#t#1"), item("data", "CRED#x")}}}}
	access := func(fn string) routes.Access {
		if r, ok := routes.ByFunction(fn); ok {
			return r.Access
		}
		for _, e := range routes.EventFunctions {
			if e.Function == fn {
				return e.Access
			}
		}
		t.Fatalf("no function %s", fn)
		return 0
	}
	tests := []struct {
		fn   string
		in   any
		want []string
	}{
		{routes.Authorizer, getCred, nil},
		{routes.Authorizer, getContact, []string{`CONTACT#t#1): partition key outside routes.Keys Read ["CRED#*"]`}},
		{routes.Authorizer, getTenant, []string{"outside routes.Keys Read"}},
		{"messenger-intake", putContact, nil},
		{"messenger-intake", idx, nil},
		{"messenger-intake", putTenant, []string{"TENANT#t): partition key outside routes.Keys Write"}},
		{"messenger-intake", putCred, []string{"outside routes.Keys Write"}},
		{"messenger-intake", idem, []string{"IDEM#s#k): partition key outside routes.Keys OpsWrite"}},
		{"messenger-intake", rl, []string{"outside routes.Keys OpsWrite"}},
		// The public receiver only stores the call: no contact, no
		// operations table.
		{"messenger-receive", putContact, []string{"CONTACT#t#1): partition key outside routes.Keys Write"}},
		{"messenger-receive", idx, []string{"needs Ops", "outside routes.Keys OpsWrite"}},
		{"contact-get", rl, nil},
		{"contact-get", scan, []string{"no runtime role may Scan"}},
		{"admin-tenant-get", scan, []string{"no runtime role may Scan"}},
		{"contact-search", search, nil},
		{"contact-field-list", fields, nil},
		{"contact-field-list", noKey, []string{"names no partition key"}},
		{"contact-search", batch, []string{"BatchGetItem data (PK CRED#x): partition key outside"}},
		{"admin-token-create", putCred, nil},
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			got := MissingFor(tt.fn, access(tt.fn), calls(tt.in), res)
			if len(got) != len(tt.want) {
				t.Fatalf("MissingFor = %q, want %d refusals like %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("refusal %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestKeysAgreeWithAccess checks routes.Keys against the route table: every
// function with table access has a scope of the same shape as its Access
// bits, and the patterns are prefixes of the key layout in
// shared/ddbstore/schema.go.
func TestKeysAgreeWithAccess(t *testing.T) {
	access := map[string]routes.Access{}
	for _, r := range routes.Table {
		access[r.Function] |= r.Access
	}
	for _, e := range routes.EventFunctions {
		access[e.Function] |= e.Access
	}
	for fn := range routes.Keys {
		if _, ok := access[fn]; !ok {
			t.Errorf("routes.Keys names %q, which is no function", fn)
		}
	}
	for fn, a := range access {
		k := routes.Keys[fn]
		rateOnly := len(k.OpsWrite) > 0
		for _, p := range k.OpsWrite {
			rateOnly = rateOnly && p == routes.KeyRate
		}
		checks := []struct {
			what     string
			bit, has bool
		}{
			{"TableRead vs Read", a.Has(routes.TableRead), len(k.Read) > 0},
			{"TableWrite vs Write", a.Has(routes.TableWrite), len(k.Write) > 0},
			{"Ops vs OpsWrite beyond RL#", a.Has(routes.Ops), len(k.OpsWrite) > 0 && !rateOnly},
			{"RateCount vs RL# in OpsWrite", a.Has(routes.RateCount), slices.Contains(k.OpsWrite, routes.KeyRate)},
			{"OpsRead vs OpsRead", a.Has(routes.OpsRead), len(k.OpsRead) > 0 && !a.Has(routes.Ops)},
		}
		for _, c := range checks {
			if c.bit != c.has {
				t.Errorf("%s: %s: Access %v, scope %v", fn, c.what, c.bit, c.has)
			}
		}
		if len(k.OpsRead) > 0 && !a.Has(routes.Ops) && !a.Has(routes.OpsRead) {
			t.Errorf("%s: OpsRead keys without Ops or OpsRead", fn)
		}
	}
	if routes.KeyRate != ddbstore.RateLimitKeyPrefix+"*" {
		t.Errorf("KeyRate %q, ddbstore's prefix %q", routes.KeyRate, ddbstore.RateLimitKeyPrefix)
	}
	schema, err := os.ReadFile("../../ddbstore/schema.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{routes.KeyTenant, routes.KeyTenants, routes.KeyCred, routes.KeyContact, routes.KeyDead,
		routes.KeyIndex, routes.KeyRate, routes.KeyIdem, routes.KeyAttempt, routes.KeyWebhook} {
		if !regexp.MustCompile(`(?m)^//\s+(GSI1PK )?`+regexp.QuoteMeta(strings.TrimSuffix(p, "*"))).Match(schema) &&
			!strings.Contains(string(schema), "GSI1PK "+strings.TrimSuffix(p, "*")) {
			t.Errorf("%s starts no key in ddbstore/schema.go's layout", p)
		}
	}
}
