package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/bench/api"
	"github.com/startmsg/chatbackend/shared/contacts"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func TestSeedContact(t *testing.T) {
	f := &fixture{tenantID: "ten_a", channelID: "ch_a", fields: map[string]contacts.Field{
		"code": {ID: "1", Name: "code"}, "plan": {ID: "2", Name: "plan"}, "score": {ID: "3", Name: "score"},
		"tier": {ID: "4", Name: "tier"},
	}}
	seen := map[string]int{}
	for i := range 20 {
		c := seedContact(f, i, 100)
		if got := 2*len(contacts.SearchTerms(c)) + 1; got != itemsPerContact {
			t.Fatalf("contact %d is %d items (with its index entries and counts), itemsPerContact says %d", i, got, itemsPerContact)
		}
		if c.Custom["4"] != commonValue {
			t.Fatalf("contact %d has tier %q, want %q", i, c.Custom["4"], commonValue)
		}
		seen[c.Custom["1"]]++
		if c.Version != 1 || c.TenantID != "ten_a" || c.ChannelID != "ch_a" {
			t.Fatalf("contact %d: %+v", i, c)
		}
	}
	for v, n := range seen {
		if n != matchesPerValue {
			t.Errorf("code %s held by %d contacts, want %d", v, n, matchesPerValue)
		}
	}
	full := fullContact(f)
	if got := len(contacts.SearchTerms(full)); got != 9 {
		t.Errorf("the full contact has %d searchable values, want 9", got)
	}
	if len(codeValue(0)) != len(codeValue(19999)) {
		t.Error("codes of small and large tenants differ in length")
	}
}

func TestLabelAndTenant(t *testing.T) {
	e := &env{credTenant: map[string]string{"tok_1": "ten_b"}}
	tests := []struct {
		in            any
		label, tenant string
	}{
		{&dynamodb.GetItemInput{Key: map[string]types.AttributeValue{"PK": s("CRED#abc")}}, "GetItem CRED#", ""},
		{&dynamodb.GetItemInput{Key: map[string]types.AttributeValue{"PK": s("CONTACT#ten_a#42")}}, "GetItem CONTACT#", "ten_a"},
		{&dynamodb.UpdateItemInput{Key: map[string]types.AttributeValue{"PK": s("RL#tok_1#1700000000")}}, "UpdateItem RL#", "ten_b"},
		{&dynamodb.QueryInput{ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("IDX#ten_a#ch#cf:1#code-1")}}, "Query IDX#", "ten_a"},
		{&dynamodb.QueryInput{ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("IDX#~07#ten_a#ch#cf:1#code-1")}}, "Query IDX#", "ten_a"},
		{&dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"o": {Keys: []map[string]types.AttributeValue{{"PK": s("IDX#=03#ten_d#cf:1#x")}}}}}, "BatchGetItem IDX#", "ten_d"},
		{&dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"t": {Keys: []map[string]types.AttributeValue{{"PK": s("CONTACT#ten_c#1")}}}}}, "BatchGetItem CONTACT#", "ten_c"},
		{&dynamodb.TransactWriteItemsInput{}, "TransactWriteItems", ""},
	}
	for _, tc := range tests {
		c := api.Call{Op: api.OpName(tc.in), Input: tc.in}
		if got := label(c); got != tc.label {
			t.Errorf("label(%T) = %q, want %q", tc.in, got, tc.label)
		}
		if got := e.tenantOf(c); got != tc.tenant {
			t.Errorf("tenantOf(%s) = %q, want %q", tc.label, got, tc.tenant)
		}
	}
}

func TestDDBTime(t *testing.T) {
	call := func(in any, d time.Duration) api.Call { return api.Call{Op: api.OpName(in), Input: in, Took: d} }
	rl := &dynamodb.UpdateItemInput{Key: map[string]types.AttributeValue{"PK": s("RL#x#1")}}
	get := &dynamodb.GetItemInput{Key: map[string]types.AttributeValue{"PK": s("CONTACT#t#1")}}
	fields := &dynamodb.QueryInput{ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("TENANT#t")}}
	cred := &dynamodb.GetItemInput{Key: map[string]types.AttributeValue{"PK": s("CRED#abc")}}
	got := ddbTime([]api.Call{call(cred, time.Millisecond), call(rl, 3*time.Millisecond), call(fields, 2*time.Millisecond), call(get, time.Millisecond)})
	if want := 4 * time.Millisecond; got != want {
		t.Errorf("ddbTime = %v, want %v (the authorizer's GetItem, then the longest of the three concurrent calls)", got, want)
	}
	got = ddbTime([]api.Call{call(rl, time.Millisecond), call(fields, 2*time.Millisecond), call(get, 5*time.Millisecond)})
	if want := 5 * time.Millisecond; got != want {
		t.Errorf("ddbTime = %v, want %v (the longest of the three)", got, want)
	}
}

func TestCheckSearch(t *testing.T) {
	ok := `{"data":[{},{},{},{},{}],"links":{},"meta":{"total":5}}`
	if err := checkSearch([]byte(ok), 5); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{`{"data":[{}],"meta":{"total":5}}`, `{"data":[{},{},{},{},{}],"meta":{"total":9}}`, `not json`} {
		if err := checkSearch([]byte(bad), 5); err == nil {
			t.Errorf("checkSearch(%s): no error", bad)
		}
	}
}

func TestDynamoGetBody(t *testing.T) {
	body, err := dynamoGetBody(&dynamodb.GetItemInput{TableName: aws.String("apibench"), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"PK": s("CONTACT#t#1"), "SK": s("CONTACT")}})
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	want := `{"ConsistentRead":true,"Key":{"PK":{"S":"CONTACT#t#1"},"SK":{"S":"CONTACT"}},"TableName":"apibench"}`
	if body != want {
		t.Errorf("got  %s\nwant %s", body, want)
	}
	if _, err := dynamoGetBody(&dynamodb.GetItemInput{Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberN{Value: "1"}}}); err == nil {
		t.Error("a number key: no error")
	}
}

// bodySpy answers every call with {} and keeps the request bodies.
type bodySpy struct{ bodies []string }

func (b *bodySpy) Do(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	b.bodies = append(b.bodies, string(body))
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

func TestDropClientRequestToken(t *testing.T) {
	for _, drop := range []bool{false, true} {
		in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Put: &types.Put{
			TableName: aws.String("tbl"), Item: map[string]types.AttributeValue{"PK": s("a"), "SK": s("b")}}}}}
		spy := &bodySpy{}
		cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
			HTTPClient: spy, BaseEndpoint: aws.String("http://127.0.0.1:1")}
		if drop {
			cfg.APIOptions = append(cfg.APIOptions, dropClientRequestToken)
		}
		if _, err := dynamodb.NewFromConfig(cfg).TransactWriteItems(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(spy.bodies[0], "ClientRequestToken"); got == drop {
			t.Errorf("drop=%v: token in the request body = %v:\n%s", drop, got, spy.bodies[0])
		}
	}
}
