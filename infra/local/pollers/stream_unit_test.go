package pollers

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

func TestReadyShards(t *testing.T) {
	shard := func(id, parent string) types.Shard {
		s := types.Shard{ShardId: aws.String(id)}
		if parent != "" {
			s.ParentShardId = aws.String(parent)
		}
		return s
	}
	tests := []struct {
		name    string
		shards  []types.Shard
		started []string
		done    []string
		want    []string
	}{
		{"roots start", []types.Shard{shard("a", ""), shard("b", "")}, nil, nil, []string{"a", "b"}},
		{"child waits for parent", []types.Shard{shard("a", ""), shard("b", "a")}, nil, nil, []string{"a"}},
		{"child waits for a running parent", []types.Shard{shard("a", ""), shard("b", "a")}, []string{"a"}, nil, nil},
		{"child after parent done", []types.Shard{shard("a", ""), shard("b", "a")}, []string{"a"}, []string{"a"}, []string{"b"}},
		{"parent trimmed away", []types.Shard{shard("b", "gone")}, nil, nil, []string{"b"}},
		{"done shard not restarted", []types.Shard{shard("a", ""), shard("b", "a")}, nil, []string{"a", "b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := map[string]bool{}
			for _, id := range tt.started {
				started[id] = true
			}
			done := func(id string) bool { return slices.Contains(tt.done, id) }
			if got := readyShards(tt.shards, started, done); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLeadingSuccesses(t *testing.T) {
	recs := make([]events.DynamoDBEventRecord, 4)
	for i, seq := range []string{"7", "8", "9", "10"} {
		recs[i].Change.SequenceNumber = seq
	}
	fail := func(ids ...string) events.DynamoDBEventResponse {
		var r events.DynamoDBEventResponse
		for _, id := range ids {
			r.BatchItemFailures = append(r.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: id})
		}
		return r
	}
	tests := []struct {
		name    string
		resp    events.DynamoDBEventResponse
		want    int
		wantErr bool
	}{
		{"all handled", fail(), 4, false},
		{"lowest failure wins", fail("10", "8"), 1, true},
		{"first fails", fail("7"), 0, true},
		{"unknown identifier fails all", fail("9", "11"), 0, true},
		{"empty identifier fails all", fail(""), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := leadingSuccesses(recs, tt.resp)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestDefaultRetryDelay(t *testing.T) {
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		got = append(got, defaultRetryDelay(n))
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
