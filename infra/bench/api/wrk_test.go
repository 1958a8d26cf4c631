package api

import (
	"strings"
	"testing"
	"time"
)

const wrkOK = `Running 10s test @ http://127.0.0.1:44035/v1/contact/42
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    48.46ms   12.02ms 150.03ms   80.00%
    Req/Sec   330.07     50.10   440.00     70.00%
  Latency Distribution
     50%   45.23ms
     75%   52.00ms
     90%   60.00ms
     99%    1.02s
  6604 requests in 10.01s, 4.10MB read
Requests/sec:    659.77
Transfer/sec:    419.50KB
`

const wrkErrors = `Running 1m test @ http://127.0.0.1:1/
  1 threads and 1 connections
  Latency Distribution
     50%  812.00us
     75%    1.00ms
     90%    2.00ms
     99%    3.00ms
  120000 requests in 1.00m, 2.37MB read
  Socket errors: connect 0, read 2, write 1, timeout 4
  Non-2xx or 3xx responses: 836
Requests/sec:   2000.00
`

func TestParseWrk(t *testing.T) {
	s, err := ParseWrk(wrkOK)
	if err != nil {
		t.Fatal(err)
	}
	want := WrkStats{Requests: 6604, Duration: 10010 * time.Millisecond, RequestsPerSec: 659.77,
		LatencyP50: 45230 * time.Microsecond, LatencyP99: 1020 * time.Millisecond, LatencyP50MS: 45.23, LatencyP99MS: 1020}
	if s != want {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}

	s, err = ParseWrk(wrkErrors)
	if err != nil {
		t.Fatal(err)
	}
	if s.Non2xx != 836 || s.SocketErrors != 7 || s.Requests != 120000 || s.Duration != time.Minute || s.LatencyP50 != 812*time.Microsecond {
		t.Errorf("got %+v", s)
	}

	if _, err := ParseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("output without results: no error")
	}
	if _, err := ParseWrk(strings.Replace(wrkOK, "10.01s", "10.01parsecs", 1)); err == nil {
		t.Error("unknown unit: no error")
	}
}

func TestLuaString(t *testing.T) {
	tests := map[string]string{
		"":                     `""`,
		"ct_abc":               `"ct_abc"`,
		`{"S":"a\b"}`:          `"{\"S\":\"a\\b\"}"`,
		"line\nnext\t\x00é":    `"line\010next\009\000\195\169"`,
		"AWS4-HMAC-SHA256 a=b": `"AWS4-HMAC-SHA256 a=b"`,
	}
	for in, want := range tests {
		if got := LuaString(in); got != want {
			t.Errorf("LuaString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestScriptsShape(t *testing.T) {
	g := GatewayScript("/v1/contact/42", []string{"ct_a", "ct_b"}, 90, 2)
	for _, want := range []string{`local path = "/v1/contact/42"`, `"ct_a",`, `"ct_b",`, "local per_token = 90", "local threads = 2", "function request()", "function setup(thread)"} {
		if !strings.Contains(g, want) {
			t.Errorf("gateway script lacks %q:\n%s", want, g)
		}
	}
	s := StaticScript("POST", "/", map[string]string{"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/x-amz-json-1.0"}, `{"TableName":"t"}`)
	for _, want := range []string{`["Content-Type"] = "application/x-amz-json-1.0",`, `["X-Amz-Target"] = "DynamoDB_20120810.GetItem",`, `"{\"TableName\":\"t\"}"`} {
		if !strings.Contains(s, want) {
			t.Errorf("static script lacks %q:\n%s", want, s)
		}
	}
	if strings.Index(s, "Content-Type") > strings.Index(s, "X-Amz-Target") {
		t.Error("headers not in a stable (sorted) order")
	}
}
