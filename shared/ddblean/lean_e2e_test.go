package ddblean_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/ddblean"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/routes/accesstest"
)

var _ ddbstore.API = (*ddblean.Client)(nil)

// step is one call of the script, with its result in a comparable form.
type step struct {
	name string
	out  any
	err  error
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func k(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": s(pk), "SK": s(sk)}
}

func richItem(pk, sk string) map[string]types.AttributeValue {
	m := k(pk, sk)
	m["name"] = s("Ada \"Lovelace\" \n é 🙂")
	m["n"] = &types.AttributeValueMemberN{Value: "42.5"}
	m["ok"] = &types.AttributeValueMemberBOOL{Value: true}
	m["none"] = &types.AttributeValueMemberNULL{Value: true}
	m["bin"] = &types.AttributeValueMemberB{Value: []byte{0, 1, 254, 255}}
	m["tags"] = &types.AttributeValueMemberSS{Value: []string{"a", "b"}}
	m["nums"] = &types.AttributeValueMemberNS{Value: []string{"1", "2"}}
	m["list"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{s("x"), &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"y": s("z")}}}}
	m["map"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberN{Value: "1"}}}
	return m
}

// script runs the same calls on api against table (and ops, a second
// table) and returns each result, outputs without their metadata.
func script(ctx context.Context, api ddbstore.API, table, ops string) []step {
	var steps []step
	add := func(name string, out any, err error) {
		if out != nil {
			v := reflect.ValueOf(out)
			if !v.IsNil() {
				cp := reflect.New(v.Elem().Type())
				cp.Elem().Set(v.Elem())
				if f := cp.Elem().FieldByName("ResultMetadata"); f.IsValid() {
					f.Set(reflect.Zero(f.Type()))
				}
				out = cp.Interface()
			}
		}
		steps = append(steps, step{name, out, err})
	}
	tbl := aws.String(table)
	{
		out, err := api.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: richItem("P#1", "A")})
		add("PutItem", out, err)
	}
	{
		out, err := api.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: richItem("P#1", "A"),
			ConditionExpression: aws.String("attribute_not_exists(PK)"), ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
		add("PutItem condition fails", out, err)
	}
	for _, sk := range []string{"B", "C", "D"} {
		out, err := api.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: k("P#1", sk), ReturnValues: types.ReturnValueAllOld})
		add("PutItem "+sk, out, err)
	}
	{
		out, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: k("P#1", "A"), ConsistentRead: aws.Bool(true)})
		add("GetItem", out, err)
		out, err = api.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: k("P#1", "A"), ProjectionExpression: aws.String("#n, tags"),
			ExpressionAttributeNames: map[string]string{"#n": "name"}})
		add("GetItem projection", out, err)
		out, err = api.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: k("P#1", "missing")})
		add("GetItem missing", out, err)
		out, err = api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table + "-nope"), Key: k("P#1", "A")})
		add("GetItem no table", out, err)
		out, err = api.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"PK": s("P#1")}})
		add("GetItem half a key", out, err)
	}
	{
		in := &dynamodb.UpdateItemInput{TableName: tbl, Key: k("P#1", "B"), UpdateExpression: aws.String("ADD #c :one SET #t = if_not_exists(#t, :t)"),
			ExpressionAttributeNames: map[string]string{"#c": "count", "#t": "ttl"}, ExpressionAttributeValues: map[string]types.AttributeValue{
				":one": &types.AttributeValueMemberN{Value: "1"}, ":t": &types.AttributeValueMemberN{Value: "99"}},
			ReturnValues: types.ReturnValueAllNew}
		out, err := api.UpdateItem(ctx, in)
		add("UpdateItem", out, err)
		out, err = api.UpdateItem(ctx, in)
		add("UpdateItem again", out, err)
		out, err = api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: k("P#1", "B"), UpdateExpression: aws.String("SET x = :v"),
			ConditionExpression: aws.String("attribute_not_exists(PK)"), ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("v")},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
		add("UpdateItem condition fails", out, err)
		out, err = api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: k("P#1", "B"), UpdateExpression: aws.String("SET x = :undefined")})
		add("UpdateItem invalid", out, err)
	}
	{
		var pages []any
		var in = &dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("P#1"), ":p": s("")}, Limit: aws.Int32(2), ConsistentRead: aws.Bool(true)}
		for range 4 {
			out, err := api.Query(ctx, in)
			add(fmt.Sprintf("Query page %d", len(pages)), out, err)
			if err != nil || out.LastEvaluatedKey == nil {
				break
			}
			pages = append(pages, out)
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
		out, err := api.Query(ctx, &dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("P#1")}, ScanIndexForward: aws.Bool(false), Select: types.SelectCount})
		add("Query count backwards", out, err)
		out, err = api.Query(ctx, &dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("nope = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("P#1")}})
		add("Query invalid", out, err)
	}
	{
		out, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: tbl, Item: k("P#2", "A")}},
			{ConditionCheck: &types.ConditionCheck{TableName: tbl, Key: k("P#1", "A"), ConditionExpression: aws.String("attribute_not_exists(PK)"),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
		}})
		add("TransactWriteItems cancelled", out, err)
		out, err = api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: tbl, Item: k("P#2", "A")}},
			{Update: &types.Update{TableName: aws.String(ops), Key: k("P#2", "B"), UpdateExpression: aws.String("SET v = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("1")}}},
		}})
		add("TransactWriteItems", out, err)
	}
	{
		out, err := api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			table: {Keys: []map[string]types.AttributeValue{k("P#1", "A"), k("P#2", "A"), k("P#9", "Z")}, ConsistentRead: aws.Bool(true)},
		}})
		if out != nil {
			// one table, named apart from the table's name
			items := out.Responses[table]
			sort.Slice(items, func(i, j int) bool {
				return items[i]["PK"].(*types.AttributeValueMemberS).Value < items[j]["PK"].(*types.AttributeValueMemberS).Value
			})
			out.Responses = map[string][]map[string]types.AttributeValue{"table": items}
		}
		add("BatchGetItem", out, err)
	}
	{
		out, err := api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: tbl, Key: k("P#1", "A"), ReturnValues: types.ReturnValueAllOld})
		add("DeleteItem", out, err)
		out, err = api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: tbl, Key: k("P#1", "A"), ConditionExpression: aws.String("attribute_exists(PK)")})
		add("DeleteItem condition fails", out, err)
	}
	return steps
}

// errView is what callers can tell of an error.
type errView struct {
	Op, Code, Message string
	Status            int
	Fault             smithy.ErrorFault
	CCFItem           map[string]types.AttributeValue
	Reasons           []types.CancellationReason
	Types             []string
}

func viewErr(err error) *errView {
	if err == nil {
		return nil
	}
	v := &errView{}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		v.Op = oe.Service() + "." + oe.Operation()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		v.Code, v.Message, v.Fault = ae.ErrorCode(), ae.ErrorMessage(), ae.ErrorFault()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		v.Status = re.HTTPStatusCode()
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		v.CCFItem = ccf.Item
		v.Types = append(v.Types, "ConditionalCheckFailed")
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		v.Reasons = tce.CancellationReasons
		v.Types = append(v.Types, "TransactionCanceled")
	}
	var rnf *types.ResourceNotFoundException
	if errors.As(err, &rnf) {
		v.Types = append(v.Types, "ResourceNotFound")
	}
	var gen *smithy.GenericAPIError
	if errors.As(err, &gen) {
		v.Types = append(v.Types, "Generic")
	}
	return v
}

// TestSameAsSDK runs one script of calls through the SDK client and
// through the lean client, each on tables of its own in dynoxide, and
// wants the same outputs and the same errors.
func TestSameAsSDK(t *testing.T) {
	ctx := context.Background()
	sdkEnv, leanEnv := emulators.ForTest(t), emulators.ForTest(t)
	lean := ddblean.New(dynamodb.NewFromConfig(leanEnv.Config))
	if !lean.Lean() {
		t.Fatal("the lean client is off")
	}
	want := script(ctx, sdkEnv.DDB, sdkEnv.Table, sdkEnv.OpsTable)
	got := script(ctx, lean, leanEnv.Table, leanEnv.OpsTable)
	if len(got) != len(want) {
		t.Fatalf("%d steps, SDK %d", len(got), len(want))
	}
	errs := 0
	for i := range want {
		w, g := want[i], got[i]
		if w.err != nil {
			errs++
		}
		if !reflect.DeepEqual(g.out, w.out) {
			t.Errorf("%s: output\nlean %#v\nSDK  %#v", w.name, g.out, w.out)
		}
		gv, wv := viewErr(g.err), viewErr(w.err)
		// Messages may name the table, which differs.
		if gv != nil && wv != nil {
			gv.Message = strings.ReplaceAll(gv.Message, leanEnv.Table, sdkEnv.Table)
		}
		if !reflect.DeepEqual(gv, wv) {
			t.Errorf("%s: error\nlean %#v (%v)\nSDK  %#v (%v)", w.name, gv, g.err, wv, w.err)
		}
	}
	if errs < 7 {
		t.Errorf("the script gave %d errors, want the 7 it provokes", errs)
	}
	if n := lean.LeanCalls(); n != int64(len(got)) {
		t.Errorf("%d calls took the lean path, want all %d", n, len(got))
	}
}

// TestAccessAuditSeesLeanCalls: the IAM access audit (accesstest), an
// Initialize middleware of the config, records the lean client's calls
// with their SDK inputs, as it does the SDK's.
func TestAccessAuditSeesLeanCalls(t *testing.T) {
	e := emulators.ForTest(t)
	lean := ddblean.New(dynamodb.NewFromConfig(accesstest.Instrument(e.Config)))
	if !lean.Lean() {
		t.Fatal("the lean client is off under accesstest")
	}
	ctx, rec := accesstest.WithRecorder(context.Background())
	if _, err := lean.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.Table), Key: k("TENANT#t", "A")}); err != nil {
		t.Fatal(err)
	}
	if _, err := lean.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.OpsTable), Key: k("RL#x#1", "RL"),
		UpdateExpression: aws.String("ADD c :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}}); err != nil {
		t.Fatal(err)
	}
	calls := rec.Calls()
	want := []accesstest.Call{
		{Op: "GetItem", Resource: e.Table, Key: "TENANT#t"},
		{Op: "UpdateItem", Resource: e.OpsTable, Write: true, Key: "RL#x#1"},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("recorded %v, want %v", calls, want)
	}
	if lean.LeanCalls() != 2 {
		t.Errorf("%d calls took the lean path, want 2", lean.LeanCalls())
	}
}

// TestOtherMiddlewaresUseSDK: an APIOption that adds to another step than
// Initialize needs the SDK's stack, so the client sends every call there.
func TestOtherMiddlewaresUseSDK(t *testing.T) {
	e := emulators.ForTest(t)
	cfg := e.Config.Copy()
	seen := 0
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("count", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			seen++
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
	})
	lean := ddblean.New(dynamodb.NewFromConfig(cfg))
	if lean.Lean() {
		t.Fatal("the lean path is on with a Finalize middleware")
	}
	if _, err := lean.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.Table), Key: k("P", "S")}); err != nil {
		t.Fatal(err)
	}
	if seen != 1 || lean.LeanCalls() != 0 {
		t.Errorf("Finalize middleware saw %d calls, lean path %d", seen, lean.LeanCalls())
	}
}

// TestConcurrentCalls: calls from many goroutines share the client (its
// connections, endpoint, middleware stacks); run it with -race.
func TestConcurrentCalls(t *testing.T) {
	e := emulators.ForTest(t)
	lean := ddblean.New(dynamodb.NewFromConfig(accesstest.Instrument(e.Config)))
	ctx := context.Background()
	const workers, each = 8, 20
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			var err error
			for i := 0; i < each && err == nil; i++ {
				_, err = lean.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.OpsTable), Key: k("RL#c", "RL"),
					UpdateExpression: aws.String("ADD c :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}})
				if err == nil {
					_, err = lean.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.Table), Key: k(fmt.Sprint("P#", w), "A")})
				}
			}
			errs <- err
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	out, err := lean.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.OpsTable), Key: k("RL#c", "RL"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if n := out.Item["c"].(*types.AttributeValueMemberN).Value; n != fmt.Sprint(workers*each) {
		t.Errorf("counter %s, want %d", n, workers*each)
	}
}
