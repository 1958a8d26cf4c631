package emulators

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/infra/local/provision"
)

// ageStreamRecords sets created_at of the stack's stream records numbered
// from..to to at, as if they had been written then.
func ageStreamRecords(t *testing.T, s *Stack, from, to int, at time.Time) {
	t.Helper()
	script := `const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(process.argv[1]);
db.exec("PRAGMA busy_timeout = 5000");
db.prepare("UPDATE _stream_records SET created_at = ? WHERE CAST(sequence_number AS INTEGER) BETWEEN ? AND ?").run(Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4]));`
	out, err := exec.Command(s.node, "--no-warnings", "-e", script, s.dynamoDB,
		strconv.FormatInt(at.Unix(), 10), strconv.Itoa(from), strconv.Itoa(to)).CombinedOutput()
	if err != nil {
		t.Fatalf("age stream records: %v: %s", err, out)
	}
}

// TestTrimStreams: records older than the retention go, recent ones stay,
// each table's newest stays whatever its age (so numbering goes on), and a
// stream poller reading the table goes on receiving new records, numbered
// after the old ones, once its old records are trimmed.
func TestTrimStreams(t *testing.T) {
	s := startStack(t, Options{DataDir: t.TempDir()})
	ctx := t.Context()
	cfg := s.AWSConfig()
	ddb := dynamodb.NewFromConfig(cfg)
	streams := dynamodbstreams.NewFromConfig(cfg)
	if err := provision.EnsureTables(ctx, ddb, "trimmed", "trimmed-ops"); err != nil {
		t.Fatal(err)
	}
	put := func(i int) {
		t.Helper()
		_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("trimmed"), Item: map[string]ddbtypes.AttributeValue{
			"PK": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("ITEM#%d", i)},
			"SK": &ddbtypes.AttributeValueMemberS{Value: "X"},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	var seen []int
	poller := &pollers.StreamPoller{DDB: ddb, Streams: streams, Table: "trimmed", PollInterval: 20 * time.Millisecond,
		Checkpoints: filepath.Join(t.TempDir(), "checkpoints.json"),
		Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range ev.Records {
				n, _ := strconv.Atoi(r.Change.SequenceNumber)
				seen = append(seen, n)
			}
			return events.DynamoDBEventResponse{}, nil
		}}
	pctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- poller.Run(pctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("poller: %v", err)
		}
	})
	waitSeen := func(want []int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			got := slices.Clone(seen)
			mu.Unlock()
			if slices.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("poller saw %v, want %v", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	held := func() []int {
		t.Helper()
		d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("trimmed")})
		if err != nil {
			t.Fatal(err)
		}
		desc, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: d.Table.LatestStreamArn})
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, sh := range desc.StreamDescription.Shards {
			it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: d.Table.LatestStreamArn,
				ShardId: sh.ShardId, ShardIteratorType: "TRIM_HORIZON"})
			if err != nil {
				t.Fatal(err)
			}
			out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				n, _ := strconv.Atoi(aws.ToString(r.Dynamodb.SequenceNumber))
				got = append(got, n)
			}
		}
		return got
	}

	for i := 1; i <= 6; i++ {
		put(i)
	}
	waitSeen([]int{1, 2, 3, 4, 5, 6})
	old := time.Now().Add(-StreamRetention - time.Hour)
	ageStreamRecords(t, s, 1, 4, old)
	ageStreamRecords(t, s, 5, 5, time.Now().Add(-StreamRetention+time.Hour)) // 23 h: kept

	n, err := s.TrimStreams(ctx, StreamRetention)
	if err != nil {
		t.Fatal(err)
	}
	if got := held(); n != 4 || !slices.Equal(got, []int{5, 6}) {
		t.Fatalf("trimmed %d, stream holds %v; want 4 trimmed and [5 6] kept", n, got)
	}

	// Every record is old: the newest (7) stays, so the next ones are
	// numbered 8 and 9, not 1 and 2, and the poller, whose checkpoint is
	// at 7, receives them.
	put(7)
	waitSeen([]int{1, 2, 3, 4, 5, 6, 7})
	ageStreamRecords(t, s, 1, 7, old)
	if n, err = s.TrimStreams(ctx, StreamRetention); err != nil || n != 2 {
		t.Fatalf("second trim: %d, %v; want 2 (5 and 6)", n, err)
	}
	if got := held(); !slices.Equal(got, []int{7}) {
		t.Fatalf("stream holds %v after trimming everything old, want the newest, [7]", got)
	}
	put(8)
	put(9)
	waitSeen([]int{1, 2, 3, 4, 5, 6, 7, 8, 9})
	if got := held(); !slices.Equal(got, []int{7, 8, 9}) {
		t.Fatalf("stream holds %v, want [7 8 9]", got)
	}

	// Nothing to trim: a fresh in-memory stack, or a missing file.
	if n, err := startStack(t, Options{}).TrimStreams(ctx, StreamRetention); n != 0 || err != nil {
		t.Errorf("fresh in-memory stack: %d, %v", n, err)
	}
	if _, err := TrimStreams(ctx, s.node, filepath.Join(t.TempDir(), "none.sqlite"), time.Now()); err == nil || !strings.Contains(err.Error(), "trim streams") {
		t.Errorf("missing file: %v", err)
	}
}

// TestStreamIndexes: dynoxide's stream statements, as its binary holds them,
// are served by an index in every file Start gives it (in memory too), not
// by a scan of every stream record, and the in-memory file goes at Stop.
func TestStreamIndexes(t *testing.T) {
	s := startStack(t, Options{})
	ctx := t.Context()
	ddb := dynamodb.NewFromConfig(s.AWSConfig())
	if err := provision.EnsureTables(ctx, ddb, "indexed", "indexed-ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("indexed"), Item: map[string]ddbtypes.AttributeValue{
		"PK": &ddbtypes.AttributeValueMemberS{Value: "ITEM#1"}, "SK": &ddbtypes.AttributeValueMemberS{Value: "X"}}}); err != nil {
		t.Fatal(err)
	}

	dir, err := localDir("")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "node_modules", "@dynoxide", "linux-x64", "dynoxide"))
	if err != nil {
		t.Fatal(err)
	}
	script := `const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(process.argv[1]);
console.log(db.prepare("EXPLAIN QUERY PLAN " + process.argv[2]).all().map((r) => r.detail).join("; "));`
	for _, q := range StreamQueries {
		if !bytes.Contains(bin, []byte(q)) {
			t.Errorf("dynoxide no longer runs %q: check its stream statements and the indexes IndexStreams adds", q)
			continue
		}
		out, err := exec.Command(s.node, "--no-warnings", "-e", script, s.dynamoDB, q).CombinedOutput()
		if err != nil {
			t.Fatalf("query plan: %v: %s", err, out)
		}
		plan := strings.TrimSpace(string(out))
		if !strings.Contains(plan, "INDEX _stream_records_") || strings.Contains(plan, "SCAN _stream_records") {
			t.Errorf("%q runs as %q, want a search of one of IndexStreams' indexes", q, plan)
		}
	}

	if s.tmpDir == "" || !strings.HasPrefix(s.dynamoDB, s.tmpDir) {
		t.Fatalf("in-memory stack keeps dynoxide's file at %q, not in a folder of its own", s.dynamoDB)
	}
	s.Stop()
	if _, err := os.Stat(s.tmpDir); !os.IsNotExist(err) {
		t.Errorf("after Stop, %s: %v, want it gone", s.tmpDir, err)
	}
}
