package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// fakeDynamo answers every call with an empty JSON object.
type fakeDynamo struct{ targets []string }

func (f *fakeDynamo) Do(r *http.Request) (*http.Response, error) {
	f.targets = append(f.targets, r.Header.Get("X-Amz-Target"))
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:       io.NopCloser(strings.NewReader("{}")),
		Request:    r,
	}, nil
}

func TestRecorder(t *testing.T) {
	rec := &Recorder{}
	fake := &fakeDynamo{}
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("a", "b", ""),
		HTTPClient:   fake,
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		APIOptions:   []func(*middleware.Stack) error{rec.APIOption},
	}
	ddb := dynamodb.NewFromConfig(cfg)
	ctx := context.Background()
	get := &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "CRED#x"}}}

	if _, err := ddb.GetItem(ctx, get); err != nil {
		t.Fatal(err)
	}
	if rec.Len() != 0 {
		t.Fatalf("recorded %d calls before Start", rec.Len())
	}
	rec.Start()
	if _, err := ddb.GetItem(ctx, get); err != nil {
		t.Fatal(err)
	}
	from := rec.Len()
	if _, err := ddb.Query(Direct(ctx), &dynamodb.QueryInput{TableName: aws.String("t")}); err != nil {
		t.Fatal(err)
	}
	since := rec.Since(from)
	calls := rec.Stop()
	if _, err := ddb.GetItem(ctx, get); err != nil {
		t.Fatal(err)
	}
	if len(fake.targets) != 4 {
		t.Errorf("the fake saw %d calls, want 4", len(fake.targets))
	}
	if len(calls) != 2 || rec.Len() != 0 {
		t.Fatalf("recorded %d calls, want 2; after Stop Len = %d", len(calls), rec.Len())
	}
	if calls[0].Op != "GetItem" || calls[0].Direct || calls[0].Input != get || calls[0].Took <= 0 || calls[0].Err != nil {
		t.Errorf("first call %+v", calls[0])
	}
	if calls[1].Op != "Query" || !calls[1].Direct {
		t.Errorf("second call %+v, want a direct Query", calls[1])
	}
	if len(since) != 1 || since[0].Op != "Query" {
		t.Errorf("Since(%d) = %+v", from, since)
	}
	if rec.Since(99) != nil {
		t.Error("Since past the end is not empty")
	}
	counts := CountOps(calls, func(c Call) bool { return !c.Direct }, nil)
	if len(counts) != 1 || counts["GetItem"] != 1 {
		t.Errorf("CountOps = %v", counts)
	}
	if d := Durations(calls, nil); len(d) != 2 {
		t.Errorf("Durations = %v", d)
	}
}

func TestOpName(t *testing.T) {
	for in, want := range map[any]string{
		&dynamodb.GetItemInput{}:            "GetItem",
		&dynamodb.TransactWriteItemsInput{}: "TransactWriteItems",
		"plain":                             "string",
	} {
		if got := OpName(in); got != want {
			t.Errorf("OpName(%T) = %q, want %q", in, got, want)
		}
	}
}
