package pollers

import (
	"context"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func TestSQSFailures(t *testing.T) {
	batch := []events.SQSMessage{{MessageId: "m1"}, {MessageId: "m2"}}
	tests := []struct {
		name    string
		ids     []string
		want    map[string]bool
		wantErr bool
	}{
		{"none", nil, map[string]bool{}, false},
		{"some", []string{"m2"}, map[string]bool{"m2": true}, false},
		{"unknown identifier fails all", []string{"m1", "m3"}, nil, true},
		{"empty identifier fails all", []string{""}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp events.SQSEventResponse
			for _, id := range tt.ids {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
			}
			got, err := sqsFailures(batch, resp)
			if !reflect.DeepEqual(got, tt.want) || (err != nil) != tt.wantErr {
				t.Errorf("got %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestARNRegion(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:sqs:us-east-1:000000000000:deliveries": "us-east-1",
		"not-an-arn": "",
	} {
		if got := arnRegion(arn); got != want {
			t.Errorf("arnRegion(%q) = %q, want %q", arn, got, want)
		}
	}
}

func TestHTTPTimeout(t *testing.T) {
	tests := []struct {
		name   string
		client any
		want   time.Duration
		wantOK bool
	}{
		{"SDK default", awshttp.NewBuildableClient(), 0, false},
		{"request timeout", awshttp.NewBuildableClient().WithTimeout(10 * time.Second), 10 * time.Second, true},
		{"read timeout", awshttp.NewBuildableClient().WithReadTimeout(15 * time.Minute), 15 * time.Minute, true},
		{"shorter of both", awshttp.NewBuildableClient().WithTimeout(time.Minute).WithReadTimeout(3 * time.Second), 3 * time.Second, true},
		{"net/http client", &http.Client{Timeout: 2 * time.Second}, 2 * time.Second, true},
		{"net/http client without timeout", &http.Client{}, 0, false},
		{"no client", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := httpTimeout(tt.client); got != tt.want || ok != tt.wantOK {
				t.Errorf("got %s, %v; want %s, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// A client that gives up before the queue answers a long poll would leave
// the messages of that answer in flight: Run refuses it.
func TestSQSPollerRefusesHTTPTimeoutShorterThanLongPoll(t *testing.T) {
	handler := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}
	for _, tc := range []struct {
		timeout time.Duration
		wait    time.Duration
		ok      bool
	}{
		{10 * time.Second, 20 * time.Second, false},
		{20 * time.Second, 20 * time.Second, false},
		{25 * time.Second, 20 * time.Second, true},
		{10 * time.Second, time.Second, true},
	} {
		client := sqs.New(sqs.Options{Region: "us-east-1", HTTPClient: awshttp.NewBuildableClient().WithTimeout(tc.timeout)})
		p := &SQSPoller{Client: client, QueueURL: "http://127.0.0.1:1/queue", WaitTime: tc.wait, Handler: handler}
		ctx, cancel := context.WithCancel(t.Context())
		cancel() // a valid poller returns at once
		err := p.Run(ctx)
		if (err == nil) != tc.ok {
			t.Errorf("HTTP timeout %s, long poll %s: Run = %v, want error %v", tc.timeout, tc.wait, err, !tc.ok)
		}
	}
}

// TestSQSPollerReceiveVisibilityWholeSeconds: SQS takes a receive's
// visibility in whole seconds.
func TestSQSPollerReceiveVisibilityWholeSeconds(t *testing.T) {
	handler := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}
	for _, tc := range []struct {
		v  time.Duration
		ok bool
	}{
		{0, true}, {-1, true}, {time.Second, true}, {30 * time.Second, true},
		{500 * time.Millisecond, false}, {1500 * time.Millisecond, false},
	} {
		client := sqs.New(sqs.Options{Region: "us-east-1"})
		p := &SQSPoller{Client: client, QueueURL: "http://127.0.0.1:1/queue", ReceiveVisibility: tc.v, Handler: handler}
		ctx, cancel := context.WithCancel(t.Context())
		cancel() // a valid poller returns at once
		if err := p.Run(ctx); (err == nil) != tc.ok {
			t.Errorf("ReceiveVisibility %s: Run = %v, want error %v", tc.v, err, !tc.ok)
		}
	}
}
