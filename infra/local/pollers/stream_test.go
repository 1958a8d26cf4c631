package pollers

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
)

func streamPoller(t *testing.T, e *emulators.TestEnv, h func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)) *StreamPoller {
	return &StreamPoller{
		DDB:          e.DDB,
		Streams:      e.Streams,
		Table:        e.Table,
		Handler:      h,
		PollInterval: 20 * time.Millisecond,
		RetryDelay:   func(int) time.Duration { return time.Millisecond },
		Logger:       testLogger(t),
	}
}

// batches is a handler that passes each batch on and answers with the
// response returned by respond.
func batches(respond func(n int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)) (func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error), <-chan events.DynamoDBEvent) {
	ch := make(chan events.DynamoDBEvent, 100)
	var mu sync.Mutex
	n := 0
	return func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		mu.Lock()
		n++
		call := n
		mu.Unlock()
		ch <- ev
		return respond(call, ev)
	}, ch
}

func succeed(int, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return events.DynamoDBEventResponse{}, nil
}

func key(id string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"PK": &ddbtypes.AttributeValueMemberS{Value: "TEST"},
		"SK": &ddbtypes.AttributeValueMemberS{Value: id},
	}
}

func put(t *testing.T, e *emulators.TestEnv, id string, v int) {
	t.Helper()
	item := key(id)
	item["v"] = &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(v)}
	if _, err := e.DDB.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(e.Table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func sequences(recs []events.DynamoDBEventRecord) []string {
	var s []string
	for _, r := range recs {
		s = append(s, r.Change.SequenceNumber)
	}
	return s
}

// collect reads batches until it has n records.
func collect(t *testing.T, ch <-chan events.DynamoDBEvent, n int) []events.DynamoDBEventRecord {
	t.Helper()
	var recs []events.DynamoDBEventRecord
	for len(recs) < n {
		recs = append(recs, receive(t, ch, "stream batch").Records...)
	}
	return recs
}

func TestStreamInsertModifyRemove(t *testing.T) {
	e := emulators.ForTest(t)
	h, got := batches(succeed)
	run(t, streamPoller(t, e, h).Run)

	put(t, e, "a", 1)
	put(t, e, "a", 2)
	if _, err := e.DDB.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(e.Table), Key: key("a")}); err != nil {
		t.Fatal(err)
	}
	recs := collect(t, got, 3)

	d, err := e.DDB.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(e.Table)})
	if err != nil {
		t.Fatal(err)
	}
	image := func(v string) map[string]events.DynamoDBAttributeValue {
		if v == "" {
			return nil
		}
		return map[string]events.DynamoDBAttributeValue{
			"PK": events.NewStringAttribute("TEST"), "SK": events.NewStringAttribute("a"), "v": events.NewNumberAttribute(v),
		}
	}
	want := []struct{ name, oldV, newV string }{{"INSERT", "", "1"}, {"MODIFY", "1", "2"}, {"REMOVE", "2", ""}}
	for i, w := range want {
		r := recs[i]
		if r.EventName != w.name || r.EventSource != "aws:dynamodb" || r.EventSourceArn != aws.ToString(d.Table.LatestStreamArn) || r.AWSRegion == "" || r.EventID == "" {
			t.Errorf("record %d: %+v", i, r)
		}
		c := r.Change
		if !reflect.DeepEqual(c.Keys, map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute("TEST"), "SK": events.NewStringAttribute("a")}) {
			t.Errorf("record %d keys %v", i, c.Keys)
		}
		if !reflect.DeepEqual(c.OldImage, image(w.oldV)) || !reflect.DeepEqual(c.NewImage, image(w.newV)) {
			t.Errorf("record %d (%s): old %v new %v", i, w.name, c.OldImage, c.NewImage)
		}
		if c.StreamViewType != "NEW_AND_OLD_IMAGES" || c.SizeBytes == 0 || c.SequenceNumber == "" || c.ApproximateCreationDateTime.IsZero() {
			t.Errorf("record %d change %+v", i, c)
		}
	}
}

func TestStreamPartialFailureRedeliversFromFailedRecord(t *testing.T) {
	e := emulators.ForTest(t)
	for i := range 5 {
		put(t, e, fmt.Sprint(i), i)
	}
	var failFrom []string
	h, got := batches(func(n int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if n > 1 {
			return events.DynamoDBEventResponse{}, nil
		}
		// Fail the 5th and the 3rd record: redelivery starts at the 3rd.
		failFrom = sequences(ev.Records)[2:]
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{
			{ItemIdentifier: ev.Records[4].Change.SequenceNumber},
			{ItemIdentifier: ev.Records[2].Change.SequenceNumber},
		}}, nil
	})
	var delays []int
	p := streamPoller(t, e, h)
	p.RetryDelay = func(n int) time.Duration { delays = append(delays, n); return time.Millisecond }
	run(t, p.Run)

	if first := receive(t, got, "first batch"); len(first.Records) != 5 {
		t.Fatalf("first batch has %d records, want 5", len(first.Records))
	}
	retry := receive(t, got, "retried batch")
	if !reflect.DeepEqual(sequences(retry.Records), failFrom) {
		t.Errorf("retried %v, want %v", sequences(retry.Records), failFrom)
	}
	quiet(t, got, 200*time.Millisecond, "batch after success")
	if !reflect.DeepEqual(delays, []int{1}) {
		t.Errorf("retry delays asked for %v, want [1]", delays)
	}
}

func TestStreamHandlerErrorRetriesThenGivesUp(t *testing.T) {
	e := emulators.ForTest(t)
	put(t, e, "poison", 1)
	put(t, e, "poison2", 2)
	h, got := batches(func(n int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if ev.Records[0].Change.Keys["SK"].String() != "poison" {
			return events.DynamoDBEventResponse{}, nil
		}
		if n == 1 {
			panic("boom") // a panic is a function error, not the end of the poller
		}
		return events.DynamoDBEventResponse{}, fmt.Errorf("attempt %d failed", n)
	})
	failed := make(chan []events.DynamoDBEventRecord, 1)
	p := streamPoller(t, e, h)
	p.MaxRetries = 2
	p.OnFailure = func(_ context.Context, recs []events.DynamoDBEventRecord) { failed <- recs }
	run(t, p.Run)

	for attempt := 1; attempt <= 3; attempt++ {
		if b := receive(t, got, "attempt"); len(b.Records) != 2 {
			t.Fatalf("attempt %d has %d records, want the whole batch of 2", attempt, len(b.Records))
		}
	}
	if recs := receive(t, failed, "OnFailure"); len(recs) != 2 {
		t.Errorf("OnFailure got %d records, want 2", len(recs))
	}
	put(t, e, "after", 3)
	if b := receive(t, got, "next batch"); b.Records[0].Change.Keys["SK"].String() != "after" {
		t.Errorf("after giving up got %v", b.Records[0].Change.Keys)
	}
}

func TestStreamRestartResumesFromCheckpoint(t *testing.T) {
	e := emulators.ForTest(t)
	file := filepath.Join(t.TempDir(), "state", "checkpoints.json")

	h, got := batches(succeed)
	p := streamPoller(t, e, h)
	p.Checkpoints = file
	stop := run(t, p.Run)
	put(t, e, "a", 1)
	put(t, e, "b", 1)
	collect(t, got, 2)
	stop()

	put(t, e, "c", 1)
	h2, got2 := batches(succeed)
	p2 := streamPoller(t, e, h2)
	p2.Checkpoints = file
	run(t, p2.Run)
	if b := receive(t, got2, "batch after restart"); len(b.Records) != 1 || b.Records[0].Change.Keys["SK"].String() != "c" {
		t.Errorf("after restart got %d records starting with %v, want only c", len(b.Records), b.Records[0].Change.Keys)
	}
	quiet(t, got2, 200*time.Millisecond, "replayed batch")
}

// With a Filter, the poller reads as many records as a GetRecords returns
// and hands over batches of BatchSize records that pass, as Lambda
// filters before it batches: a consumer that passes over most records
// gets full batches, not one passing record per BatchSize records read.
func TestStreamFilterBatchesPassingRecords(t *testing.T) {
	e := emulators.ForTest(t)
	for i := range 200 {
		put(t, e, fmt.Sprintf("k%03d", i), i)
	}
	h, got := batches(succeed)
	p := streamPoller(t, e, h)
	p.BatchSize = 3
	p.Filter = func(r events.DynamoDBEventRecord) bool {
		var v int
		_, _ = fmt.Sscan(r.Change.NewImage["v"].Number(), &v)
		return v%10 == 0
	}
	run(t, p.Run)
	var recs []events.DynamoDBEventRecord
	n := 0
	for len(recs) < 20 {
		ev := receive(t, got, "stream batch")
		n++
		if len(ev.Records) > 3 {
			t.Fatalf("batch of %d records, BatchSize 3", len(ev.Records))
		}
		recs = append(recs, ev.Records...)
	}
	for i, r := range recs {
		if v := r.Change.NewImage["v"].Number(); v != fmt.Sprint(i*10) {
			t.Fatalf("record %d: v %s, want %d (in order, each once)", i, v, i*10)
		}
	}
	if n > 7 {
		t.Errorf("20 passing records in %d batches, want 7 of at most 3", n)
	}
}
