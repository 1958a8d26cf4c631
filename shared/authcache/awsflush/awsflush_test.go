package awsflush

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/startmsg/chatbackend/shared/appenv"
)

// TestFlushCallsAPIGateway checks the call the function makes: a signed
// DELETE of the stage's /cache/authorizers, API Gateway's
// FlushStageAuthorizersCache.
func TestFlushCallsAPIGateway(t *testing.T) {
	var got []string
	status := http.StatusAccepted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		if !strings.Contains(r.Header.Get("Authorization"), "/apigateway/aws4_request") {
			t.Errorf("not signed for apigateway: %q", r.Header.Get("Authorization"))
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	cfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	env := map[string]string{appenv.RestAPIID: "a1b2c3", appenv.APIStageName: "prod"}
	f, err := New(cfg, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := f.FlushAuthorizerCache(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "DELETE /restapis/a1b2c3/stages/prod/cache/authorizers" {
		t.Fatalf("calls %v", got)
	}
	status = http.StatusForbidden
	if err := f.FlushAuthorizerCache(context.Background()); err == nil || !strings.Contains(err.Error(), "a1b2c3/prod") {
		t.Fatalf("a refused flush: %v", err)
	}
}

func TestNewNeedsTheStage(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{appenv.RestAPIID: "a1b2c3"},
		{appenv.APIStageName: "prod"},
	} {
		if _, err := New(aws.Config{Region: "eu-west-1"}, func(k string) string { return env[k] }); err == nil ||
			!strings.Contains(err.Error(), appenv.RestAPIID) {
			t.Errorf("%v: err %v", env, err)
		}
	}
}
