package ddblean

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkClient is an SDK client built offline (no call is made), for its
// protocol.
func sdkClient() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: "eu-west-1"})
}

func sdkBody(t *testing.T, o *op, in smithy.Serializable) []byte {
	t.Helper()
	c := &Client{opts: sdkClient().Options()}
	b, err := c.serialize(context.Background(), o, in)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: lean body is not JSON: %v\n%s", what, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: SDK body is not JSON: %v\n%s", what, err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\nlean %s\nSDK  %s", what, got, want)
	}
}

// oddStrings need escaping, or not, in JSON.
var oddStrings = []string{"", "plain", `quote " backslash \ slash /`, "tab\t nl\n cr\r bs\b ff\f nul\x00 esc\x1b del\x7f",
	"<html>&amp;</html>", "é ü ß 漢字 🙂", "line\u2028sep\u2029", "bad \xff utf8 \xc3", "\\u0041 literal"}

func avSamples() map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{
		"n":    &types.AttributeValueMemberN{Value: "-12.5e3"},
		"t":    &types.AttributeValueMemberBOOL{Value: true},
		"f":    &types.AttributeValueMemberBOOL{Value: false},
		"null": &types.AttributeValueMemberNULL{Value: true},
		"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 250, 255}},
		"eb":   &types.AttributeValueMemberB{Value: []byte{}},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"a", "b\"c"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
		"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberL{Value: []types.AttributeValue{}}}},
		"el":   &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"m":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"in": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}}},
	}
	for i, s := range oddStrings {
		m["s"+string(rune('a'+i))] = &types.AttributeValueMemberS{Value: s}
		m[s] = &types.AttributeValueMemberS{Value: "key " + s}
	}
	return m
}

func key() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "TENANT#t1"}, "SK": &types.AttributeValueMemberS{Value: "CONTACT#c\"1"}}
}

// TestEncodeMatchesSDK: every hand-written request body is the JSON the
// SDK's serialiser writes for the same input.
func TestEncodeMatchesSDK(t *testing.T) {
	names := map[string]string{"#a": "attr", "#q": `q"uote`}
	values := avSamples()
	tbl := aws.String("table-1")
	cases := []struct {
		name string
		o    *op
		in   smithy.Serializable
		cd   codec
	}{
		{"GetItem minimal", opGetItem, &dynamodb.GetItemInput{TableName: tbl, Key: key()}, nil},
		{"GetItem full", opGetItem, &dynamodb.GetItemInput{TableName: tbl, Key: key(), ConsistentRead: aws.Bool(false),
			ExpressionAttributeNames: names, ProjectionExpression: aws.String("#a, b"), ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal}, nil},
		{"GetItem empty names", opGetItem, &dynamodb.GetItemInput{TableName: tbl, Key: key(), ExpressionAttributeNames: map[string]string{}}, nil},
		{"PutItem", opPutItem, &dynamodb.PutItemInput{TableName: tbl, Item: values, ConditionExpression: aws.String("attribute_not_exists(PK)"),
			ExpressionAttributeNames: names, ExpressionAttributeValues: map[string]types.AttributeValue{":v": values["m"]},
			ReturnValues: types.ReturnValueAllOld, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			ReturnItemCollectionMetrics: types.ReturnItemCollectionMetricsSize, ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes}, nil},
		{"UpdateItem", opUpdateItem, &dynamodb.UpdateItemInput{TableName: tbl, Key: key(), UpdateExpression: aws.String("ADD #a :one SET x = :v"),
			ConditionExpression: aws.String("attribute_exists(PK)"), ExpressionAttributeNames: names,
			ExpressionAttributeValues: values, ReturnValues: types.ReturnValueUpdatedNew}, nil},
		{"DeleteItem", opDeleteItem, &dynamodb.DeleteItemInput{TableName: tbl, Key: key(), ConditionExpression: aws.String("#a = :v"),
			ExpressionAttributeNames: names, ExpressionAttributeValues: values, ReturnValues: types.ReturnValueAllOld}, nil},
		{"Query", opQuery, &dynamodb.QueryInput{TableName: tbl, IndexName: aws.String("GSI1"), KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
			FilterExpression: aws.String("#a <> :v"), ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ExclusiveStartKey: key(), Limit: aws.Int32(25), ScanIndexForward: aws.Bool(false), ConsistentRead: aws.Bool(true),
			ProjectionExpression: aws.String("PK"), Select: types.SelectSpecificAttributes, ReturnConsumedCapacity: types.ReturnConsumedCapacityNone}, nil},
		{"Query zero limit", opQuery, &dynamodb.QueryInput{TableName: tbl, Limit: aws.Int32(0), ScanIndexForward: aws.Bool(true)}, nil},
	}
	for _, tc := range cases {
		var cd codec
		switch in := tc.in.(type) {
		case *dynamodb.GetItemInput:
			cd = newGetItemCodec(in)
		case *dynamodb.PutItemInput:
			cd = newPutItemCodec(in)
		case *dynamodb.UpdateItemInput:
			cd = newUpdateItemCodec(in)
		case *dynamodb.DeleteItemInput:
			cd = newDeleteItemCodec(in)
		case *dynamodb.QueryInput:
			cd = newQueryCodec(in)
		}
		got, ok := cd.encode(nil)
		if !ok {
			t.Errorf("%s: the lean encoder does not cover it", tc.name)
			continue
		}
		sameJSON(t, tc.name, got, sdkBody(t, tc.o, tc.in))
	}
}

// TestEncodeLeavesLegacyToSDK: inputs with legacy parameters (or a value
// the encoder does not know) are left to the SDK's serialiser.
func TestEncodeLeavesLegacyToSDK(t *testing.T) {
	for name, cd := range map[string]codec{
		"GetItem AttributesToGet": newGetItemCodec(&dynamodb.GetItemInput{Key: key(), AttributesToGet: []string{"a"}}),
		"PutItem Expected":        newPutItemCodec(&dynamodb.PutItemInput{Item: key(), Expected: map[string]types.ExpectedAttributeValue{}}),
		"UpdateItem AttributeUpdates": newUpdateItemCodec(&dynamodb.UpdateItemInput{Key: key(),
			AttributeUpdates: map[string]types.AttributeValueUpdate{}}),
		"DeleteItem ConditionalOperator": newDeleteItemCodec(&dynamodb.DeleteItemInput{Key: key(), ConditionalOperator: types.ConditionalOperatorAnd}),
		"Query KeyConditions":            newQueryCodec(&dynamodb.QueryInput{KeyConditions: map[string]types.Condition{}}),
		"Query QueryFilter":              newQueryCodec(&dynamodb.QueryInput{QueryFilter: map[string]types.Condition{}}),
		"GetItem nil value":              newGetItemCodec(&dynamodb.GetItemInput{Key: map[string]types.AttributeValue{"PK": nil}}),
		"PutItem unknown member":         newPutItemCodec(&dynamodb.PutItemInput{Item: map[string]types.AttributeValue{"x": &types.UnknownUnionMember{Tag: "X"}}}),
	} {
		if _, ok := cd.encode(nil); ok {
			t.Errorf("%s: encoded by hand", name)
		}
	}
}

// TestInputMembers: the input types have exactly the members the
// encoders know (an SDK upgrade that adds one fails here until the
// encoder handles it or leaves it to the SDK).
func TestInputMembers(t *testing.T) {
	for v, want := range map[reflect.Type]string{
		reflect.TypeFor[dynamodb.GetItemInput]():    "AttributesToGet ConsistentRead ExpressionAttributeNames Key ProjectionExpression ReturnConsumedCapacity TableName",
		reflect.TypeFor[dynamodb.PutItemInput]():    "ConditionExpression ConditionalOperator Expected ExpressionAttributeNames ExpressionAttributeValues Item ReturnConsumedCapacity ReturnItemCollectionMetrics ReturnValues ReturnValuesOnConditionCheckFailure TableName",
		reflect.TypeFor[dynamodb.UpdateItemInput](): "AttributeUpdates ConditionExpression ConditionalOperator Expected ExpressionAttributeNames ExpressionAttributeValues Key ReturnConsumedCapacity ReturnItemCollectionMetrics ReturnValues ReturnValuesOnConditionCheckFailure TableName UpdateExpression",
		reflect.TypeFor[dynamodb.DeleteItemInput](): "ConditionExpression ConditionalOperator Expected ExpressionAttributeNames ExpressionAttributeValues Key ReturnConsumedCapacity ReturnItemCollectionMetrics ReturnValues ReturnValuesOnConditionCheckFailure TableName",
		reflect.TypeFor[dynamodb.QueryInput]():      "AttributesToGet ConditionalOperator ConsistentRead ExclusiveStartKey ExpressionAttributeNames ExpressionAttributeValues FilterExpression IndexName KeyConditionExpression KeyConditions Limit ProjectionExpression QueryFilter ReturnConsumedCapacity ScanIndexForward Select TableName",
	} {
		var got []string
		rt := v
		for i := range rt.NumField() {
			if f := rt.Field(i); f.IsExported() {
				got = append(got, f.Name)
			}
		}
		slices.Sort(got)
		if strings.Join(got, " ") != want {
			t.Errorf("%s members:\n got %s\nwant %s", rt.Name(), strings.Join(got, " "), want)
		}
	}
}

// sdkDecode decodes body with the SDK's protocol into out.
func sdkDecode(t *testing.T, o *op, body string, out smithy.Deserializable) error {
	t.Helper()
	resp := &smithyhttp.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}}
	return sdkClient().Options().Protocol.DeserializeResponse(context.Background(), o.schema, dynamodb.TypeRegistry, resp, out)
}

// avJSON is every attribute type as DynamoDB writes it.
const avJSON = `{"s":{"S":"a \"q\" \\ \/ \u00e9\ud83d\ude42 \n"},"n":{"N":"-1.5E3"},"b":{"B":"AAEC+v8="},"t":{"BOOL":true},"f":{"BOOL":false},"z":{"NULL":true},` +
	`"ss":{"SS":["x","y"]},"ns":{"NS":["1","2"]},"bs":{"BS":["AQ==","AgM="]},"l":{"L":[{"S":"x"},{"L":[]},{"M":{}}]},"el":{"L":[]},"m":{"M":{"k":{"N":"1"},"e":{"SS":[]}}},"lone":{"S":"\ud800 x"}}`

// TestDecodeMatchesSDK: the hand-written decoder gives the outputs the
// SDK's deserialiser gives for the same answers.
func TestDecodeMatchesSDK(t *testing.T) {
	cases := []struct {
		name string
		o    *op
		body string
		cd   codec
	}{
		{"GetItem item", opGetItem, `{"Item":` + avJSON + `}`, newGetItemCodec(nil)},
		{"GetItem none", opGetItem, `{}`, newGetItemCodec(nil)},
		{"GetItem empty body", opGetItem, ``, newGetItemCodec(nil)},
		{"PutItem", opPutItem, ` { "Attributes" : ` + avJSON + ` } `, newPutItemCodec(nil)},
		{"UpdateItem", opUpdateItem, `{"Attributes":{"count":{"N":"7"}}}`, newUpdateItemCodec(nil)},
		{"DeleteItem", opDeleteItem, `{}`, newDeleteItemCodec(nil)},
		{"Query", opQuery, `{"Count":2,"Items":[` + avJSON + `,{}],"LastEvaluatedKey":{"PK":{"S":"p"},"SK":{"S":"s"}},"ScannedCount":3}`, newQueryCodec(nil)},
		{"Query empty", opQuery, `{"Count":0,"Items":[],"ScannedCount":0}`, newQueryCodec(nil)},
	}
	for _, tc := range cases {
		if !tc.cd.decode([]byte(tc.body)) {
			t.Errorf("%s: the lean decoder does not cover it", tc.name)
			continue
		}
		want := reflect.New(reflect.TypeOf(tc.cd.output()).Elem()).Interface().(smithy.Deserializable)
		if err := sdkDecode(t, tc.o, tc.body, want); err != nil {
			t.Fatalf("%s: SDK: %v", tc.name, err)
		}
		if !reflect.DeepEqual(tc.cd.output(), want) {
			t.Errorf("%s:\nlean %#v\nSDK  %#v", tc.name, tc.cd.output(), want)
		}
	}
}

// TestDecodeLeavesOthersToSDK: answers with members the decoder does not
// know, or that are not valid JSON, are left to the SDK's deserialiser.
func TestDecodeLeavesOthersToSDK(t *testing.T) {
	for name, body := range map[string]string{
		"consumed capacity": `{"Item":{},"ConsumedCapacity":{"TableName":"t","CapacityUnits":0.5}}`,
		"unknown type":      `{"Item":{"a":{"X":"1"}}}`,
		"two types":         `{"Item":{"a":{"S":"1","N":"1"}}}`,
		"broken":            `{"Item":{"a":{"S":"1"}}`,
		"trailing":          `{"Item":{}} x`,
		"bad base64":        `{"Item":{"a":{"B":"!!"}}}`,
		"control char":      "{\"Item\":{\"a\":{\"S\":\"a\x01\"}}}",
	} {
		cd := newGetItemCodec(nil)
		if cd.decode([]byte(body)) {
			t.Errorf("%s: decoded by hand", name)
		}
	}
	if cd := newQueryCodec(nil); cd.decode([]byte(`{"Count":1.5}`)) {
		t.Error("a fractional Count decoded by hand")
	}
}

// TestAllocs keeps the hand-written path lean: encoding a GetItem needs no
// allocation beyond its buffer, decoding a two-attribute item a handful.
func TestAllocs(t *testing.T) {
	in := &dynamodb.GetItemInput{TableName: aws.String("t"), Key: key(), ConsistentRead: aws.Bool(true)}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() {
		cd := getItemCodec{in: in}
		cd.encode(buf[:0])
	}); n > 0 {
		t.Errorf("GetItem encode: %v allocations", n)
	}
	body := []byte(`{"Item":{"PK":{"S":"TENANT#t"},"SK":{"S":"CONTACT#c"}}}`)
	if n := testing.AllocsPerRun(100, func() {
		cd := getItemCodec{}
		cd.decode(body)
	}); n > 12 {
		t.Errorf("GetItem decode: %v allocations", n)
	}
}
