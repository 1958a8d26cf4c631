package ddbstore

// Unit tests of the tenancy adapter's key layout and request shapes, against
// a recording fake of the DynamoDB API (no emulator).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

func TestUnitKeyLayout(t *testing.T) {
	// The layout documented in schema.go.
	cases := []struct{ got, want string }{
		{tenantPK("ten_a"), "TENANT#ten_a"},
		{skTenant, "TENANT"},
		{pkTenants, "TENANTS"},
		{channelSK("ch_b"), "CHANNEL#ch_b"},
		{tokenSK("ch_b", "tok_c"), "CHANNEL#ch_b#TOKEN#tok_c"},
		{tokenPrefix("ch_b"), "CHANNEL#ch_b#TOKEN#"},
		{skChannelP, "CHANNEL#"},
		{credPK("abc123"), "CRED#abc123"},
		{skCred, "CRED"},
		{rateLimitPK("tok_c", 1_700_000_040), "RL#tok_c#1700000040"},
		{skRL, "RL"},
		{AttrPK, "PK"},
		{AttrSK, "SK"},
		{AttrGSI1PK, "GSI1PK"},
		{AttrGSI1SK, "GSI1SK"},
		{GSI1, "GSI1"},
		{TTLAttribute, "ttl"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestUnitKeyPrefixes: the begins_with queries read exactly what they mean to.
func TestUnitKeyPrefixes(t *testing.T) {
	for i := 0; i < 200; i++ {
		c, k := tenancy.NewID("ch"), tenancy.NewID("tok")
		if strings.Contains(c, "#") || strings.Contains(k, "#") {
			t.Fatalf("ids with # break the layout: %q %q", c, k)
		}
		if !strings.HasPrefix(tokenSK(c, k), tokenPrefix(c)) {
			t.Fatal("a token's SK is not under its channel's token prefix")
		}
		if !strings.HasPrefix(channelSK(c), skChannelP) || !strings.HasPrefix(tokenSK(c, k), skChannelP) {
			t.Fatal("channel and token SKs must share the CHANNEL# prefix ListChannels queries")
		}
		// ListChannels tells channels from tokens by a # after the prefix.
		if strings.Contains(strings.TrimPrefix(channelSK(c), skChannelP), "#") || !strings.Contains(strings.TrimPrefix(tokenSK(c, k), skChannelP), "#") {
			t.Fatal("channel and token SKs are not told apart")
		}
	}
	// One channel's token prefix never covers another channel whose id it prefixes.
	if strings.HasPrefix(tokenSK("ch_ab", "tok_1"), tokenPrefix("ch_a")) {
		t.Fatal("tokenPrefix(ch_a) matches tokens of ch_ab")
	}
	// Distinct inputs give distinct rate-limit keys.
	if rateLimitPK("a", 12) == rateLimitPK("a1", 2) {
		t.Fatal("rate-limit keys collide")
	}
}

func TestUnitIsConditionFailure(t *testing.T) {
	ccf := &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	tce := func(codes ...string) *types.TransactionCanceledException {
		e := &types.TransactionCanceledException{Message: aws.String("Transaction cancelled")}
		for _, c := range codes {
			r := types.CancellationReason{}
			if c != "" {
				r.Code = aws.String(c)
			}
			e.CancellationReasons = append(e.CancellationReasons, r)
		}
		return e
	}
	opErr := func(err error) error {
		return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "TransactWriteItems", Err: err}
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"conditional check failed", ccf, true},
		{"wrapped conditional check failed", fmt.Errorf("put: %w", ccf), true},
		{"conditional check failed inside an operation error", opErr(ccf), true},
		{"transaction with a failed condition", tce("None", "ConditionalCheckFailed"), true},
		{"transaction with a failed condition, wrapped", fmt.Errorf("create: %w", opErr(tce("ConditionalCheckFailed", "None"))), true},
		{"transaction with a nil code then a failed condition", tce("", "ConditionalCheckFailed"), true},
		{"transaction conflict", tce("None", "TransactionConflict"), false},
		{"transaction throttled", tce("ThrottlingError"), false},
		{"transaction without reasons", tce(), false},
		{"transaction with only nil codes", tce("", ""), false},
		{"lower-case code", tce("conditionalcheckfailed"), false},
		{"other API error", &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}, false},
		{"generic API error with the same text", &smithy.GenericAPIError{Code: "ConditionalCheckFailed", Message: "x"}, false},
		{"plain error", errors.New("ConditionalCheckFailedException"), false},
		{"not found", apperr.NotFound("Tenant", "t"), false},
	}
	for _, c := range cases {
		if got := isConditionFailure(c.err); got != c.want {
			t.Errorf("%s: isConditionFailure = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestUnitCreateTableInput(t *testing.T) {
	in := CreateTableInput("chat")
	if aws.ToString(in.TableName) != "chat" || in.BillingMode != types.BillingModePayPerRequest {
		t.Fatalf("name %q billing %q", aws.ToString(in.TableName), in.BillingMode)
	}
	keys := func(ks []types.KeySchemaElement) string {
		var out []string
		for _, k := range ks {
			out = append(out, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
		}
		return strings.Join(out, ",")
	}
	if got := keys(in.KeySchema); got != "PK:HASH,SK:RANGE" {
		t.Fatalf("key schema %s", got)
	}
	if len(in.GlobalSecondaryIndexes) != 2 {
		t.Fatalf("GSIs %d", len(in.GlobalSecondaryIndexes))
	}
	gsi, gsi2 := in.GlobalSecondaryIndexes[0], in.GlobalSecondaryIndexes[1]
	if aws.ToString(gsi2.IndexName) != GSI2 || keys(gsi2.KeySchema) != "GSI2PK:HASH,GSI2SK:RANGE" ||
		gsi2.Projection == nil || gsi2.Projection.ProjectionType != types.ProjectionTypeAll {
		t.Fatalf("GSI2 %s %s %+v", aws.ToString(gsi2.IndexName), keys(gsi2.KeySchema), gsi2.Projection)
	}
	if aws.ToString(gsi.IndexName) != GSI1 || keys(gsi.KeySchema) != "GSI1PK:HASH,GSI1SK:RANGE" ||
		gsi.Projection == nil || gsi.Projection.ProjectionType != types.ProjectionTypeAll {
		t.Fatalf("GSI1 %s %s %+v", aws.ToString(gsi.IndexName), keys(gsi.KeySchema), gsi.Projection)
	}
	// Every key attribute is defined, as a string, once; nothing else is.
	defs := map[string]types.ScalarAttributeType{}
	for _, d := range in.AttributeDefinitions {
		if _, dup := defs[aws.ToString(d.AttributeName)]; dup {
			t.Fatalf("attribute %s defined twice", aws.ToString(d.AttributeName))
		}
		defs[aws.ToString(d.AttributeName)] = d.AttributeType
	}
	used := map[string]bool{}
	for _, k := range append(append(append([]types.KeySchemaElement(nil), in.KeySchema...), gsi.KeySchema...), gsi2.KeySchema...) {
		used[aws.ToString(k.AttributeName)] = true
		if defs[aws.ToString(k.AttributeName)] != types.ScalarAttributeTypeS {
			t.Fatalf("key %s is not defined as a string", aws.ToString(k.AttributeName))
		}
	}
	if len(defs) != len(used) {
		t.Fatalf("attribute definitions %v, key attributes %v", defs, used)
	}
	if in.StreamSpecification == nil || !aws.ToBool(in.StreamSpecification.StreamEnabled) || in.StreamSpecification.StreamViewType != types.StreamViewTypeNewAndOldImages {
		t.Fatalf("stream %+v", in.StreamSpecification)
	}
	// Each call returns its own value.
	CreateTableInput("x").KeySchema[0].AttributeName = aws.String("changed")
	if aws.ToString(CreateTableInput("y").KeySchema[0].AttributeName) != AttrPK {
		t.Fatal("CreateTableInput shares state between calls")
	}
}

// fakeAPI records requests and answers from its fields.
type fakeAPI struct {
	transacts []*dynamodb.TransactWriteItemsInput
	transErr  error
	gets      []*dynamodb.GetItemInput
	items     map[string]map[string]types.AttributeValue // by PK + "|" + SK
	queries   []*dynamodb.QueryInput
	queryOut  []map[string]types.AttributeValue
	updates   []*dynamodb.UpdateItemInput
	updateOut *dynamodb.UpdateItemOutput
	updateErr error
}

var _ API = (*fakeAPI)(nil)

func (f *fakeAPI) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.gets = append(f.gets, in)
	pk := in.Key[AttrPK].(*types.AttributeValueMemberS).Value
	sk := in.Key[AttrSK].(*types.AttributeValueMemberS).Value
	return &dynamodb.GetItemOutput{Item: f.items[pk+"|"+sk]}, nil
}

func (f *fakeAPI) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, errors.New("unexpected PutItem")
}

func (f *fakeAPI) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.updates = append(f.updates, in)
	return f.updateOut, f.updateErr
}

func (f *fakeAPI) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return nil, errors.New("unexpected DeleteItem")
}

func (f *fakeAPI) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	f.queries = append(f.queries, in)
	return &dynamodb.QueryOutput{Items: f.queryOut}, nil
}

func (f *fakeAPI) BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return nil, errors.New("fakeAPI: BatchGetItem is not used by the tenancy store")
}

func (f *fakeAPI) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.transacts = append(f.transacts, in)
	if f.transErr != nil {
		return nil, f.transErr
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

func str(m map[string]types.AttributeValue, k string) string {
	if v, ok := m[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// describe renders a transaction as "Op PK|SK [condition]" lines.
func describe(in *dynamodb.TransactWriteItemsInput) []string {
	var out []string
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			out = append(out, "Put "+str(it.Put.Item, AttrPK)+"|"+str(it.Put.Item, AttrSK)+" "+aws.ToString(it.Put.ConditionExpression)+" @"+aws.ToString(it.Put.TableName))
		case it.ConditionCheck != nil:
			out = append(out, "Check "+str(it.ConditionCheck.Key, AttrPK)+"|"+str(it.ConditionCheck.Key, AttrSK)+" "+aws.ToString(it.ConditionCheck.ConditionExpression)+" @"+aws.ToString(it.ConditionCheck.TableName))
		case it.Update != nil:
			out = append(out, "Update "+str(it.Update.Key, AttrPK)+"|"+str(it.Update.Key, AttrSK)+" "+aws.ToString(it.Update.ConditionExpression)+" @"+aws.ToString(it.Update.TableName))
		case it.Delete != nil:
			out = append(out, "Delete "+str(it.Delete.Key, AttrPK)+"|"+str(it.Delete.Key, AttrSK)+" "+aws.ToString(it.Delete.ConditionExpression)+" @"+aws.ToString(it.Delete.TableName))
		}
	}
	return out
}

func wantLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("transaction\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// condFailedAt is a cancelled transaction whose item i failed its condition.
func condFailedAt(i int) error {
	rs := []types.CancellationReason{{Code: aws.String("None")}, {Code: aws.String("None")}, {Code: aws.String("None")}}
	rs[i].Code = aws.String("ConditionalCheckFailed")
	return &types.TransactionCanceledException{CancellationReasons: rs}
}

func TestUnitCreateTenant(t *testing.T) {
	api := &fakeAPI{}
	s := &Tenancy{API: api, Table: "tbl"}
	ten := tenancy.Tenant{ID: "ten_a", Name: "Acme", CreatedAt: 1, SecretMask: "sk_…abcd", SecretHash: "h1"}
	cred := tenancy.Credential{Hash: "h1", Kind: tenancy.AccountSecret, ID: "sec_h1", TenantID: "ten_a"}
	if err := s.CreateTenant(context.Background(), ten, cred); err != nil {
		t.Fatal(err)
	}
	wantLines(t, describe(api.transacts[0]), []string{
		"Put TENANT#ten_a|TENANT attribute_not_exists(PK) @tbl",
		"Put TENANTS|TENANT#ten_a attribute_not_exists(PK) @tbl",
		"Put CRED#h1|CRED attribute_not_exists(PK) @tbl",
	})
	var gotTenant tenancy.Tenant
	if err := attributevalue.UnmarshalMap(api.transacts[0].TransactItems[0].Put.Item, &gotTenant); err != nil || gotTenant != ten {
		t.Fatalf("tenant item %+v %v", gotTenant, err)
	}
	var gotCred tenancy.Credential
	if err := attributevalue.UnmarshalMap(api.transacts[0].TransactItems[2].Put.Item, &gotCred); err != nil || gotCred != cred {
		t.Fatalf("credential item %+v %v", gotCred, err)
	}

	api.transErr = condFailedAt(1)
	if err := s.CreateTenant(context.Background(), ten, cred); !apperr.Is(err, apperr.KindExists) {
		t.Fatalf("existing tenant: %v", err)
	}
	api.transErr = errors.New("throttled")
	if err := s.CreateTenant(context.Background(), ten, cred); err == nil || apperr.Is(err, apperr.KindExists) || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("other failure: %v", err)
	}
}

func TestUnitCreateChannelAndToken(t *testing.T) {
	api := &fakeAPI{}
	s := &Tenancy{API: api, Table: "tbl"}
	ctx := context.Background()
	if err := s.CreateChannel(ctx, tenancy.Channel{ID: "ch_b", TenantID: "ten_a", Kind: tenancy.SMS, Name: "Main"}); err != nil {
		t.Fatal(err)
	}
	wantLines(t, describe(api.transacts[0]), []string{
		"Check TENANT#ten_a|TENANT attribute_exists(PK) @tbl",
		"Put TENANT#ten_a|CHANNEL#ch_b attribute_not_exists(PK) @tbl",
	})
	tok := tenancy.Token{ID: "tok_c", TenantID: "ten_a", ChannelID: "ch_b", Name: "z", Mask: "ct_…abcd", Hash: "h2"}
	cred := tenancy.Credential{Hash: "h2", Kind: tenancy.ChannelToken, ID: "tok_c", TenantID: "ten_a", ChannelID: "ch_b", ChannelKind: tenancy.SMS}
	if err := s.CreateToken(ctx, tok, cred); err != nil {
		t.Fatal(err)
	}
	wantLines(t, describe(api.transacts[1]), []string{
		"Check TENANT#ten_a|CHANNEL#ch_b attribute_exists(PK) @tbl",
		"Put TENANT#ten_a|CHANNEL#ch_b#TOKEN#tok_c attribute_not_exists(PK) @tbl",
		"Put CRED#h2|CRED attribute_not_exists(PK) @tbl",
	})

	api.transErr = condFailedAt(0)
	if err := s.CreateChannel(ctx, tenancy.Channel{ID: "ch_b", TenantID: "ten_x"}); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("channel of a missing tenant: %v", err)
	}
	api.transErr = condFailedAt(1)
	if err := s.CreateChannel(ctx, tenancy.Channel{ID: "ch_b", TenantID: "ten_a"}); !apperr.Is(err, apperr.KindExists) {
		t.Fatalf("channel ID taken: %v", err)
	}
	api.transErr = condFailedAt(0)
	if err := s.CreateToken(ctx, tok, cred); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("token of a missing channel: %v", err)
	}
	api.transErr = errors.New("throttled")
	if err := s.CreateChannel(ctx, tenancy.Channel{ID: "ch_b", TenantID: "ten_a"}); err == nil || apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("other failure: %v", err)
	}
}

func TestUnitRotateSecret(t *testing.T) {
	api := &fakeAPI{}
	s := &Tenancy{API: api, Table: "tbl"}
	cred := tenancy.Credential{Hash: "new", Kind: tenancy.AccountSecret, ID: "sec_new", TenantID: "ten_a"}
	if err := s.RotateSecret(context.Background(), "ten_a", "old", cred, "sk_…wxyz"); err != nil {
		t.Fatal(err)
	}
	wantLines(t, describe(api.transacts[0]), []string{
		"Update TENANT#ten_a|TENANT secret_hash = :old @tbl",
		"Delete CRED#old|CRED  @tbl",
		"Put CRED#new|CRED attribute_not_exists(PK) @tbl",
	})
	vals := api.transacts[0].TransactItems[0].Update.ExpressionAttributeValues
	if str(vals, ":old") != "old" || str(vals, ":new") != "new" || str(vals, ":mask") != "sk_…wxyz" {
		t.Fatalf("update values %v", vals)
	}
}

func TestUnitReads(t *testing.T) {
	ten := tenancy.Tenant{ID: "ten_a", Name: "Acme", SecretHash: "h"}
	ti, err := item(tenantPK("ten_a"), skTenant, ten)
	if err != nil {
		t.Fatal(err)
	}
	ci, _ := item(credPK("h"), skCred, tenancy.Credential{Hash: "h", Kind: tenancy.AccountSecret, TenantID: "ten_a", ID: "sec_h"})
	api := &fakeAPI{items: map[string]map[string]types.AttributeValue{"TENANT#ten_a|TENANT": ti, "CRED#h|CRED": ci}}
	s := &Tenancy{API: api, Table: "tbl"}
	ctx := context.Background()

	if got, err := s.GetTenant(ctx, "ten_a"); err != nil || got != ten {
		t.Fatalf("GetTenant = %+v, %v", got, err)
	}
	if _, err := s.GetTenant(ctx, "ten_b"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("missing tenant: %v", err)
	}
	if got, err := s.LookupCredential(ctx, "h"); err != nil || got.TenantID != "ten_a" || got.Kind != tenancy.AccountSecret {
		t.Fatalf("LookupCredential = %+v, %v", got, err)
	}
	if _, err := s.LookupCredential(ctx, "nope"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	if _, err := s.GetChannel(ctx, "ten_a", "ch_x"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("missing channel: %v", err)
	}
	for _, g := range api.gets {
		if aws.ToString(g.TableName) != "tbl" {
			t.Fatalf("GetItem on %q", aws.ToString(g.TableName))
		}
	}
	if err := s.RevokeToken(ctx, "ten_a", "ch_x", "tok_x"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("revoke a missing token: %v", err)
	}
	if len(api.transacts) != 0 {
		t.Fatal("revoking a missing token wrote")
	}
}

func TestUnitListChannelsSkipsTokens(t *testing.T) {
	ch, _ := item(tenantPK("ten_a"), channelSK("ch_b"), tenancy.Channel{ID: "ch_b", TenantID: "ten_a", Kind: tenancy.Voice, Name: "Main"})
	tok, _ := item(tenantPK("ten_a"), tokenSK("ch_b", "tok_c"), tenancy.Token{ID: "tok_c", TenantID: "ten_a", ChannelID: "ch_b", Hash: "h"})
	api := &fakeAPI{queryOut: []map[string]types.AttributeValue{ch, tok}}
	s := &Tenancy{API: api, Table: "tbl"}
	got, err := s.ListChannels(context.Background(), "ten_a")
	if err != nil || len(got) != 1 || got[0].ID != "ch_b" || got[0].Kind != tenancy.Voice {
		t.Fatalf("ListChannels = %+v, %v", got, err)
	}
	q := api.queries[0]
	if aws.ToString(q.KeyConditionExpression) != "PK = :pk AND begins_with(SK, :p)" || str(q.ExpressionAttributeValues, ":pk") != "TENANT#ten_a" ||
		str(q.ExpressionAttributeValues, ":p") != "CHANNEL#" || aws.ToString(q.TableName) != "tbl" {
		t.Fatalf("query %+v", q)
	}

	api = &fakeAPI{}
	s.API = api
	got, err = s.ListChannels(context.Background(), "ten_empty")
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no channels must be an empty list: %#v %v", got, err)
	}
	toks, err := s.ListTokens(context.Background(), "ten_a", "ch_b")
	if err != nil || toks == nil || len(toks) != 0 || str(api.queries[1].ExpressionAttributeValues, ":p") != "CHANNEL#ch_b#TOKEN#" {
		t.Fatalf("ListTokens = %#v, %v", toks, err)
	}
}

func TestUnitRateCounter(t *testing.T) {
	api := &fakeAPI{updateOut: &dynamodb.UpdateItemOutput{Attributes: map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "7"}}}}
	c := &RateCounter{API: api, OpsTable: "tbl"}
	exp := time.Unix(1_700_000_120, 0)
	n, err := c.Incr(context.Background(), "tok_c", 1_700_000_040, exp)
	if err != nil || n != 7 {
		t.Fatalf("Incr = %d, %v", n, err)
	}
	in := api.updates[0]
	if aws.ToString(in.TableName) != "tbl" || str(in.Key, AttrPK) != "RL#tok_c#1700000040" || str(in.Key, AttrSK) != "RL" {
		t.Fatalf("key %v", in.Key)
	}
	if in.ExpressionAttributeNames["#ttl"] != TTLAttribute {
		t.Fatalf("names %v", in.ExpressionAttributeNames)
	}
	if v, ok := in.ExpressionAttributeValues[":ttl"].(*types.AttributeValueMemberN); !ok || v.Value != "1700000120" {
		t.Fatalf("ttl %v", in.ExpressionAttributeValues[":ttl"])
	}

	api.updateOut = &dynamodb.UpdateItemOutput{}
	if _, err := c.Incr(context.Background(), "tok_c", 1, exp); err == nil {
		t.Fatal("missing count accepted")
	}
	api.updateErr = errors.New("throttled")
	if _, err := c.Incr(context.Background(), "tok_c", 1, exp); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("error %v", err)
	}
}
