package pollers

import (
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
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
