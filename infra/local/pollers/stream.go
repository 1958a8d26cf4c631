package pollers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/startmsg/chatbackend/shared/routes"
)

// StreamPoller reads a table's stream and hands batches to Handler like a
// Lambda DynamoDB event source with ReportBatchItemFailures:
//
//   - each shard is read in order by its own goroutine, a child shard only
//     after its parent is read to the end;
//   - a handler error (or panic) retries the whole batch;
//   - BatchItemFailures (itemIdentifier = the record's SequenceNumber)
//     checkpoint the records before the lowest failed one and retry from it;
//     an identifier that names no record of the batch fails the whole batch;
//   - retries back off (RetryDelay); after MaxRetries retries of the same
//     record OnFailure gets the remaining records and the shard moves on;
//   - the checkpoint moves only past records handled or given up on.
type StreamPoller struct {
	DDB     *dynamodb.Client
	Streams *dynamodbstreams.Client
	Table   string
	// BatchSize is the most records per batch, 1 to 1000 (default 100).
	BatchSize int
	Handler   func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	// Filter, when set, keeps the records the handler is given, as a
	// Lambda event source mapping's FilterCriteria does: the others are
	// passed over (checkpointed, never handed over). See RouteFilter.
	Filter func(events.DynamoDBEventRecord) bool
	// Checkpoints is the file that keeps the position in each shard across
	// runs, so that a restart does not replay old records. "" keeps them in
	// memory: every Run starts at TRIM_HORIZON.
	Checkpoints string
	// MaxRetries is how often a failing record is retried before it is given
	// up on; 0 retries forever.
	MaxRetries int
	// OnFailure receives the records given up on (Lambda's on-failure
	// destination). Default: they are logged and dropped.
	OnFailure func(context.Context, []events.DynamoDBEventRecord)
	// PollInterval is the pause after an empty read (default 500 ms).
	PollInterval time.Duration
	// RetryDelay is the pause before the n-th retry of a record (n from 1).
	// Default: 500 ms, doubling up to 30 s.
	RetryDelay func(n int) time.Duration
	Logger     *slog.Logger // default slog.Default()
}

// shardRefresh is how often the shard list is read again.
const shardRefresh = 5 * time.Second

// Run reads the stream until ctx is cancelled and returns nil then. It
// returns an error if the stream cannot be found or a record cannot be
// converted or checkpointed.
func (p *StreamPoller) Run(ctx context.Context) error {
	c := *p
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.PollInterval == 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.RetryDelay == nil {
		c.RetryDelay = defaultRetryDelay
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.DDB == nil || c.Streams == nil || c.Table == "" || c.Handler == nil:
		return errors.New("stream poller: DDB, Streams, Table and Handler are required")
	case c.BatchSize < 1 || c.BatchSize > 1000:
		return fmt.Errorf("stream poller: BatchSize %d not in 1..1000", c.BatchSize)
	}
	d, err := c.DDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(c.Table)})
	if err != nil {
		return fmt.Errorf("stream poller: %w", err)
	}
	stream := aws.ToString(d.Table.LatestStreamArn)
	if stream == "" {
		return fmt.Errorf("stream poller: table %s has no stream", c.Table)
	}
	cps, err := loadCheckpoints(c.Checkpoints, stream)
	if err != nil {
		return fmt.Errorf("stream poller: %w", err)
	}

	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var wg sync.WaitGroup
	finished := make(chan struct{}, 1)
	started := map[string]bool{}
	for {
		shards, err := c.listShards(runCtx, stream)
		if err != nil && runCtx.Err() == nil {
			c.Logger.ErrorContext(ctx, "stream poller: describe stream", "stream", stream, "err", err)
		}
		for _, id := range readyShards(shards, started, func(id string) bool { return cps.get(id).Done }) {
			started[id] = true
			wg.Go(func() {
				if err := c.readShard(runCtx, stream, id, cps); err != nil {
					stop(fmt.Errorf("stream poller: shard %s: %w", id, err))
				}
				select {
				case finished <- struct{}{}:
				default:
				}
			})
		}
		select {
		case <-runCtx.Done():
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return context.Cause(runCtx)
		case <-finished:
		case <-time.After(shardRefresh):
		}
	}
}

func (p *StreamPoller) listShards(ctx context.Context, stream string) ([]types.Shard, error) {
	var shards []types.Shard
	var start *string
	for {
		out, err := p.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(stream), ExclusiveStartShardId: start})
		if err != nil {
			return nil, err
		}
		shards = append(shards, out.StreamDescription.Shards...)
		if start = out.StreamDescription.LastEvaluatedShardId; start == nil {
			return shards, nil
		}
	}
}

// readyShards returns the shards to start reading: not started, not done,
// and whose parent is done or no longer listed.
func readyShards(shards []types.Shard, started map[string]bool, done func(string) bool) []string {
	listed := make(map[string]bool, len(shards))
	for _, s := range shards {
		listed[aws.ToString(s.ShardId)] = true
	}
	var ready []string
	for _, s := range shards {
		id, parent := aws.ToString(s.ShardId), aws.ToString(s.ParentShardId)
		if started[id] || done(id) || (listed[parent] && !done(parent)) {
			continue
		}
		ready = append(ready, id)
	}
	return ready
}

// readShard delivers one shard's records until the shard ends (it is then
// marked done) or ctx is cancelled.
func (p *StreamPoller) readShard(ctx context.Context, stream, shard string, cps *checkpoints) error {
	var iter *string
	for ctx.Err() == nil {
		if iter == nil {
			var err error
			if iter, err = p.iterator(ctx, stream, shard, cps.get(shard).Sequence); err != nil {
				p.retryLater(ctx, "get shard iterator", shard, err)
				continue
			}
		}
		out, err := p.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(int32(p.readLimit()))})
		if err != nil {
			iter = nil // start again from the checkpoint, which is where iter was
			p.retryLater(ctx, "get records", shard, err)
			continue
		}
		segs, err := p.segments(out.Records, stream)
		if err != nil {
			return err
		}
		for _, seg := range segs {
			if err := p.deliver(ctx, stream, shard, seg, cps); err != nil || ctx.Err() != nil {
				return err
			}
		}
		if out.NextShardIterator == nil {
			return cps.set(shard, checkpoint{Sequence: cps.get(shard).Sequence, Done: true})
		}
		iter = out.NextShardIterator
		if len(out.Records) == 0 {
			_ = sleep(ctx, p.PollInterval)
		}
	}
	return nil
}

// maxGetRecords is the most records one GetRecords returns (DynamoDB
// Streams' limit).
const maxGetRecords = 1000

// readLimit is how many records a GetRecords asks for: BatchSize, or with a
// Filter as many as one call returns, as Lambda filters the records it
// reads before it makes batches of BatchSize of those that pass (a
// consumer that passes over most records would otherwise read them
// BatchSize at a time and fall behind a busy table).
func (p *StreamPoller) readLimit() int {
	if p.Filter == nil {
		return p.BatchSize
	}
	return maxGetRecords
}

// segments cuts records read into runs that each hold at most BatchSize
// records passing the Filter, delivered in order.
func (p *StreamPoller) segments(raw []types.Record, stream string) ([][]types.Record, error) {
	if len(raw) <= p.BatchSize || p.Filter == nil {
		if len(raw) == 0 {
			return nil, nil
		}
		return [][]types.Record{raw}, nil
	}
	var segs [][]types.Record
	start, passed := 0, 0
	for i, r := range raw {
		rec, err := streamRecord(r, stream)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", aws.ToString(r.EventID), err)
		}
		if !p.Filter(rec) {
			continue
		}
		if passed == p.BatchSize {
			segs = append(segs, raw[start:i])
			start, passed = i, 0
		}
		passed++
	}
	return append(segs, raw[start:]), nil
}

func (p *StreamPoller) retryLater(ctx context.Context, what, shard string, err error) {
	if ctx.Err() == nil {
		p.Logger.ErrorContext(ctx, "stream poller: "+what, "table", p.Table, "shard", shard, "err", err)
		_ = sleep(ctx, time.Second)
	}
}

// iterator starts after the checkpoint, or at the oldest record without one
// or when the checkpointed record has been trimmed.
func (p *StreamPoller) iterator(ctx context.Context, stream, shard, after string) (*string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
	if after != "" {
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(after)
	}
	out, err := p.Streams.GetShardIterator(ctx, in)
	var trimmed *types.TrimmedDataAccessException
	if errors.As(err, &trimmed) {
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeTrimHorizon, nil
		out, err = p.Streams.GetShardIterator(ctx, in)
	}
	if err != nil {
		return nil, err
	}
	return out.ShardIterator, nil
}

// deliver hands records to the handler until all are handled or given up
// on, or ctx is cancelled, checkpointing as it goes.
func (p *StreamPoller) deliver(ctx context.Context, stream, shard string, raw []types.Record, cps *checkpoints) error {
	recs := make([]events.DynamoDBEventRecord, 0, len(raw))
	last := ""
	for _, r := range raw {
		rec, err := streamRecord(r, stream)
		if err != nil {
			return fmt.Errorf("record %s: %w", aws.ToString(r.EventID), err)
		}
		last = rec.Change.SequenceNumber
		if p.Filter == nil || p.Filter(rec) {
			recs = append(recs, rec)
		}
	}
	if len(recs) == 0 {
		// Every record filtered out: the function is not invoked.
		return cps.set(shard, checkpoint{Sequence: last})
	}
	for retry := 0; ; {
		start := time.Now()
		resp, err := invoke(ctx, p.Handler, events.DynamoDBEvent{Records: recs})
		handled := 0
		if err == nil {
			handled, err = leadingSuccesses(recs, resp)
		} else {
			err = fmt.Errorf("function error: %w", err)
		}
		attrs := []any{"table", p.Table, "shard", shard, "records", len(recs),
			"first", recs[0].Change.SequenceNumber, "last", recs[len(recs)-1].Change.SequenceNumber,
			"handled", handled, "duration", time.Since(start)}
		if handled > 0 {
			if err := cps.set(shard, checkpoint{Sequence: recs[handled-1].Change.SequenceNumber}); err != nil {
				return err
			}
			retry = 0
		}
		if err == nil {
			p.Logger.InfoContext(ctx, "stream batch", attrs...)
			if last != recs[len(recs)-1].Change.SequenceNumber {
				// Records filtered out after the last one handed over.
				return cps.set(shard, checkpoint{Sequence: last})
			}
			return nil
		}
		recs = recs[handled:]
		retry++
		if p.MaxRetries > 0 && retry > p.MaxRetries {
			p.Logger.ErrorContext(ctx, "stream batch given up", append(attrs, "err", err, "retries", p.MaxRetries)...)
			if p.OnFailure != nil {
				p.OnFailure(ctx, recs)
			}
			return cps.set(shard, checkpoint{Sequence: recs[len(recs)-1].Change.SequenceNumber})
		}
		p.Logger.WarnContext(ctx, "stream batch failed", append(attrs, "err", err, "retry", retry)...)
		if sleep(ctx, p.RetryDelay(retry)) != nil {
			return nil
		}
	}
}

// leadingSuccesses returns how many records precede the lowest failed one,
// and an error if any failed. An identifier that names no record of the
// batch fails the whole batch.
func leadingSuccesses(recs []events.DynamoDBEventRecord, resp events.DynamoDBEventResponse) (int, error) {
	if len(resp.BatchItemFailures) == 0 {
		return len(recs), nil
	}
	index := make(map[string]int, len(recs))
	for i, r := range recs {
		index[r.Change.SequenceNumber] = i
	}
	lowest := len(recs)
	for _, f := range resp.BatchItemFailures {
		i, ok := index[f.ItemIdentifier]
		if !ok {
			return 0, fmt.Errorf("batchItemFailures names %q, not a record of the batch", f.ItemIdentifier)
		}
		lowest = min(lowest, i)
	}
	return lowest, fmt.Errorf("partial failure from sequence number %s", recs[lowest].Change.SequenceNumber)
}

func defaultRetryDelay(n int) time.Duration {
	return min(500*time.Millisecond<<min(n-1, 6), 30*time.Second)
}

// RouteFilter is a stream poller's Filter for a consumer's event filter
// patterns (routes.EventFunction.StreamFilters; nil: every record).
func RouteFilter(fs []routes.StreamFilter) func(events.DynamoDBEventRecord) bool {
	if len(fs) == 0 {
		return nil
	}
	return func(rec events.DynamoDBEventRecord) bool {
		pk := ""
		if v, ok := rec.Change.Keys["PK"]; ok && v.DataType() == events.DataTypeString {
			pk = v.String()
		}
		return routes.MatchAny(fs, rec.EventName, pk, func(attr string) (string, bool) {
			v, ok := rec.Change.NewImage[attr]
			if !ok || v.DataType() != events.DataTypeString {
				return "", false
			}
			return v.String(), true
		})
	}
}
