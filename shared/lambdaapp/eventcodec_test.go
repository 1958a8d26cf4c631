package lambdaapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func sampleEvents(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("../../events/apigw/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// checkDecode: when decodeEvent takes an input, encoding/json reads the
// same event from it.
func checkDecode(t *testing.T, b []byte) (decoded bool) {
	t.Helper()
	var got events.APIGatewayProxyRequest
	if err := decodeEvent(b, &got); err != nil {
		return false
	}
	var want events.APIGatewayProxyRequest
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("decodeEvent took %q, encoding/json refuses it: %v", b, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ndecodeEvent   %#v\nencoding/json %#v", b, got, want)
	}
	return true
}

// TestDecodeEventSamples: every sample API Gateway event is read by hand,
// exactly as encoding/json reads it.
func TestDecodeEventSamples(t *testing.T) {
	for name, b := range sampleEvents(t) {
		if !checkDecode(t, b) {
			t.Errorf("%s: left to encoding/json", name)
		}
	}
}

var trickyEvents = []string{
	`{"path":"/a\u00e9\"b\\","headers":{"X":"a\tb"},"body":"\ud83d\ude00 \ud800 x"}`,
	`{"body":"caf\xc3\xa9 \xff"}`,
	`{"Path":"/upper"}`,
	`{"headers":{"a":"1"},"headers":{"b":"2"}}`,
	`{"headers":null,"headers":{"b":"2"}}`,
	`{"requestContext":{"requestTimeEpoch":1.5}}`,
	`{"requestContext":{"requestTimeEpoch":1e3}}`,
	`{"requestContext":{"requestTimeEpoch":99999999999999999999}}`,
	`{"requestContext":{"requestTimeEpoch":-12,"authorizer":{"n":-0.5e-3,"b":true,"f":false,"z":null,"o":{"x":[1,"2"]},"s":"v"}}}`,
	`{"requestContext":{"identity":{"clientCert":{"clientCertPem":"pem","validity":{"notAfter":"x"}}}}}`,
	`{"requestContext":{"identity":{"clientCert":null}}}`,
	`{"unknown":{"deep":[1,2,{"a":null}],"s":"x"},"path":"/p"}`,
	`{"multiValueHeaders":{"A":["1","2"],"B":[],"C":null},"multiValueQueryStringParameters":{"q":["x"]}}`,
	`{"headers":{"a":null},"body":null,"isBase64Encoded":null}`,
	` { "path" : "/sp" , "isBase64Encoded" : true } `,
	`{"path":"/x"} trailing`,
	`{"path":"/x"`,
	`{"path":01}`,
	`{"path":"a` + "\x01" + `"}`,
	`null`,
	`[]`,
	`{"requestContext":{"path":"/stage/x","requestContext":1}}`,
	`{"pathParameters":{"contactId":"a%2Fb"},"stageVariables":{}}`,
	`{"headers":{"K":"v"},"HEADERS":{"k":"w"}}`,
	`{"ﬀ":1,"ſtage":2}`,
	`{"requestContext":{"ſtage":"x"}}`,
}

// TestDecodeEventTricky: escapes, invalid UTF-8, keys in another case,
// repeated maps, numbers: decodeEvent agrees with encoding/json or leaves
// the event to it, and Invoke hands the handler the event encoding/json
// reads.
func TestDecodeEventTricky(t *testing.T) {
	for _, s := range trickyEvents {
		checkDecode(t, []byte(s))
		var want events.APIGatewayProxyRequest
		wantErr := json.Unmarshal([]byte(s), &want)
		var got events.APIGatewayProxyRequest
		_, err := Invoker{H: func(_ context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			got = ev
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		}}.Invoke(context.Background(), []byte(s))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%q: Invoke error %v, encoding/json's %v", s, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%q: the handler got %#v, want %#v", s, got, want)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, b := range sampleEvents(f) {
		f.Add(b)
	}
	for _, s := range trickyEvents {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b) })
}

// TestInvokeResponse: Invoke's answer reads back as the handler's response.
func TestInvokeResponse(t *testing.T) {
	for _, res := range []events.APIGatewayProxyResponse{
		{},
		{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json", "X-RateLimit-Limit": "100"}, Body: `{"status":"success","data":{"id":"1<>&"}}`},
		{StatusCode: 404, Headers: map[string]string{}, MultiValueHeaders: map[string][]string{"Set-Cookie": {"a=1", "b=2"}, "X": nil, "Y": {}}, Body: "line\nbreak\t\"quoted\" \\ \x00\x1f \u2028\u2029 é 😀"},
		{StatusCode: 200, Body: "aGVsbG8=", IsBase64Encoded: true},
	} {
		out, err := Invoker{H: func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			return res, nil
		}}.Invoke(context.Background(), []byte(`{"path":"/x"}`))
		if err != nil {
			t.Fatal(err)
		}
		var got events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if !reflect.DeepEqual(got, res) {
			t.Errorf("%q reads as %#v, want %#v", out, got, res)
		}
	}
}

// TestDecodeEventAllocations: the hand decoder allocates less than a
// third of what encoding/json does for the same event.
func TestDecodeEventAllocations(t *testing.T) {
	b := sampleEvents(t)["contact-get.json"]
	if b == nil {
		t.Fatal("no contact-get.json sample")
	}
	hand := testing.AllocsPerRun(50, func() {
		var ev events.APIGatewayProxyRequest
		if err := decodeEvent(b, &ev); err != nil {
			t.Fatal(err)
		}
	})
	std := testing.AllocsPerRun(50, func() {
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if hand*3 > std {
		t.Errorf("decodeEvent: %v allocations, encoding/json %v", hand, std)
	}
}

// runtimeEncoding is res as the Lambda runtime (and Invoke before
// appendResponse) encodes it.
func runtimeEncoding(t testing.TB, res *events.APIGatewayProxyResponse) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(res); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestAppendResponseBytes: appendResponse writes the very bytes
// encoding/json does, for answers of every shape.
func TestAppendResponseBytes(t *testing.T) {
	many := map[string][]string{}
	for i := range 40 {
		many[fmt.Sprintf("X-H%02d", 40-i)] = []string{strconv.Itoa(i), "<&>"}
	}
	for _, res := range []events.APIGatewayProxyResponse{
		{},
		{StatusCode: -1, Headers: map[string]string{}, MultiValueHeaders: map[string][]string{}},
		{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json", "X-RateLimit-Limit": "100", "a": "\x00"}, Body: `{"status":"success","data":{"id":"1<>&"}}`},
		{StatusCode: 404, MultiValueHeaders: map[string][]string{"Set-Cookie": {"a=1", "b=2"}, "X": nil, "Y": {}, "\xff": {"\u2028"}}, Body: "line\nbreak\t\"quoted\" \\ \x00\x1f\x7f \u2028\u2029 é 😀 \xc3"},
		{StatusCode: 200, Body: "aGVsbG8=", IsBase64Encoded: true},
		{StatusCode: 201, MultiValueHeaders: many},
	} {
		if got, want := appendResponse(nil, &res), runtimeEncoding(t, &res); !bytes.Equal(got, want) {
			t.Errorf("appendResponse(%#v)\n = %s\nwant %s", res, got, want)
		}
	}
}

func FuzzAppendResponse(f *testing.F) {
	f.Add(200, "Content-Type", "application/json", `{"data":{"id":"1"}}`, false)
	f.Add(404, "Set-Cookie", "a=\x00\u2028", "\xff", true)
	f.Fuzz(func(t *testing.T, status int, key, value, body string, b64 bool) {
		res := events.APIGatewayProxyResponse{StatusCode: status, Body: body, IsBase64Encoded: b64,
			Headers:           map[string]string{key: value, value: key},
			MultiValueHeaders: map[string][]string{key: {value, body}, body: nil, value: {}}}
		if got, want := appendResponse(nil, &res), runtimeEncoding(t, &res); !bytes.Equal(got, want) {
			t.Errorf("appendResponse(%#v)\n = %s\nwant %s", res, got, want)
		}
	})
}
