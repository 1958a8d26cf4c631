package ddbstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/shared/connections"
)

// A connection's hourly counters live in its activity partition
// (CONN#<t>#<id>), one item per hour, HR#<unix hour>: the attempts of that
// hour that succeeded (ok) and failed (bad), the sum (dur) and the largest
// (mx) of their durations in milliseconds. AddAttempts adds a batch's
// attempts to them with one UpdateItem per connection and hour (ADD), and
// a second, conditional one only when the batch's largest duration is
// above the item's; they expire HourlyTTL after their hour. Attempts that
// sent nothing (a switched-off connection) are not counted.
const skHourP = "HR#"

// Attribute names of an hourly item.
const (
	attrOK  = "ok"
	attrBad = "bad"
	attrDur = "dur"
	attrMax = "mx"
)

// HourlyTTL is how long an hour's counters are kept: the panel shows the
// last 24 hours.
const HourlyTTL = 48 * time.Hour

// hourSK is the sort key of the hour that holds ms.
func hourSK(hour int64) string { return fmt.Sprintf("%s%010d", skHourP, hour) }

// hourly is one hour's counts of one connection, as a batch adds them.
type hourly struct {
	pk       string
	hour     int64 // unix hours
	ok, bad  int64
	dur, max int64
}

// hourlyOf groups a batch's attempts (deduplicated as packItems does) by
// connection and hour, in the order met.
func hourlyOf(as []connections.ConnAttempt) []*hourly {
	var out []*hourly
	by := map[string]*hourly{}
	seen := map[string]bool{}
	for _, a := range as {
		if a.Outcome == connections.OutcomeDisabled {
			continue
		}
		pk := attemptPK(a.TenantID, a.ConnectionID)
		k := fmt.Sprintf("%s\x00%d\x00%s\x00%d", pk, a.Time, a.WebhookID, a.Attempt.Attempt)
		if seen[k] {
			continue
		}
		seen[k] = true
		hour := a.Time / int64(time.Hour/time.Millisecond)
		hk := pk + "\x00" + strconv.FormatInt(hour, 10)
		h := by[hk]
		if h == nil {
			h = &hourly{pk: pk, hour: hour}
			by[hk] = h
			out = append(out, h)
		}
		if a.Outcome == connections.OutcomeSuccess {
			h.ok++
		} else {
			h.bad++
		}
		h.dur += a.DurationMS
		h.max = max(h.max, a.DurationMS)
	}
	return out
}

// HourlyFlushEvery is how often a process adds its buffered attempt
// counts to the hourly items: a batch's counts join the buffer, which is
// written when this long has passed since its last write (at once for the
// first batch), or by a timer that long after, whichever comes first. The
// hot path then pays about one UpdateItem per connection and hour a second
// per process, not one a batch. An instance that stops (a Lambda instance
// retired while frozen) loses the counts of at most its last interval: the
// chart's counts are figures for a person, not the attempt log, which is
// written with every batch. A variable so that tests can set 0 (write with
// every batch).
var HourlyFlushEvery = time.Second

// hourlyBuffer is a process's counts not yet written, by connection and
// hour.
type hourlyBuffer struct {
	mu      sync.Mutex
	pending map[string]*hourly
	order   []string
	last    time.Time
	timer   *time.Timer
	ops     *string
}

// merge adds hs to the buffer. Call with mu held.
func (b *hourlyBuffer) merge(hs []*hourly) {
	if b.pending == nil {
		b.pending = map[string]*hourly{}
	}
	for _, h := range hs {
		k := h.pk + "\x00" + strconv.FormatInt(h.hour, 10)
		p := b.pending[k]
		if p == nil {
			c := *h
			b.pending[k] = &c
			b.order = append(b.order, k)
			continue
		}
		p.ok += h.ok
		p.bad += h.bad
		p.dur += h.dur
		p.max = max(p.max, h.max)
	}
}

// take empties the buffer and answers what it held. Call with mu held.
func (b *hourlyBuffer) take() []*hourly {
	out := make([]*hourly, 0, len(b.order))
	for _, k := range b.order {
		out = append(out, b.pending[k])
	}
	b.pending, b.order = nil, nil
	return out
}

// addHourly adds a batch's attempts to the process's buffered counters and
// writes the buffer when it is due (HourlyFlushEvery); otherwise a timer
// writes it then. A write that fails puts its counts back for the next.
func (c *Connections) addHourly(ctx context.Context, ops *string, as []connections.ConnAttempt) error {
	hs := hourlyOf(as)
	if len(hs) == 0 {
		return nil
	}
	b := &c.hourly
	b.mu.Lock()
	b.merge(hs)
	b.ops = ops
	now := time.Now()
	if wait := HourlyFlushEvery - now.Sub(b.last); wait > 0 {
		if b.timer == nil {
			b.timer = time.AfterFunc(wait, c.flushHourlyLater)
		}
		b.mu.Unlock()
		return nil
	}
	b.last = now
	due := b.take()
	b.mu.Unlock()
	c.writeHourly(ctx, ops, due)
	return nil
}

// flushHourlyLater is the timer's write of the buffer.
func (c *Connections) flushHourlyLater() {
	b := &c.hourly
	b.mu.Lock()
	b.timer = nil
	b.last = time.Now()
	due, ops := b.take(), b.ops
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.writeHourly(ctx, ops, due)
}

// writeHourly adds counts to their hourly items: per connection and hour
// one UpdateItem, which also sets the largest duration when the hour has
// none yet and answers the one it had; a second UpdateItem, conditional,
// raises it when the counts' is larger (a race lost to another process's
// larger one writes nothing). Counts whose write failed go back to the
// buffer (a counter write is not retried by the caller: the attempt log is
// written, and logging the batch again would count it twice).
func (c *Connections) writeHourly(ctx context.Context, ops *string, hs []*hourly) {
	names := map[string]string{"#ok": attrOK, "#bad": attrBad, "#dur": attrDur, "#ttl": TTLAttribute, "#mx": attrMax}
	var failed []*hourly
	for _, h := range hs {
		k := key(h.pk, hourSK(h.hour))
		ttl := time.Unix(h.hour*3600, 0).Add(HourlyTTL).Unix()
		res, err := c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                ops,
			Key:                      k,
			UpdateExpression:         aws.String("ADD #ok :ok, #bad :bad, #dur :dur SET #ttl = :ttl, #mx = if_not_exists(#mx, :mx)"),
			ExpressionAttributeNames: names,
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":ok": avN(h.ok), ":bad": avN(h.bad), ":dur": avN(h.dur), ":ttl": avN(ttl), ":mx": avN(h.max),
			},
			ReturnValues: types.ReturnValueUpdatedOld,
		})
		if err != nil {
			failed = append(failed, h)
			continue
		}
		old, had := numAttr(res.Attributes, attrMax)
		if !had || old >= h.max {
			continue
		}
		// Best effort: a failure leaves the hour's largest duration lower.
		c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 ops,
			Key:                       k,
			UpdateExpression:          aws.String("SET #mx = :mx"),
			ConditionExpression:       aws.String("#mx < :mx"),
			ExpressionAttributeNames:  map[string]string{"#mx": attrMax},
			ExpressionAttributeValues: map[string]types.AttributeValue{":mx": avN(h.max)},
		})
	}
	if len(failed) > 0 {
		b := &c.hourly
		b.mu.Lock()
		b.merge(failed)
		b.mu.Unlock()
	}
}

// numAttr reads a number attribute of an item; ok is false when absent.
func numAttr(it map[string]types.AttributeValue, name string) (int64, bool) {
	n, _ := it[name].(*types.AttributeValueMemberN)
	if n == nil {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}

// HourlyStats returns a connection's last 24 hours of attempts, one bucket
// per hour, oldest first, the last the hour that holds now (hours without
// attempts are zeros): one eventually consistent Query of its hourly
// items.
func (c *Connections) HourlyStats(ctx context.Context, tenantID, connectionID string, now time.Time) ([]connections.HourStat, error) {
	ops, err := c.ops()
	if err != nil {
		return nil, err
	}
	last := now.UnixMilli() / int64(time.Hour/time.Millisecond)
	first := last - connections.StatsHours + 1
	out := make([]connections.HourStat, connections.StatsHours)
	for i := range out {
		out[i].Hour = (first + int64(i)) * 3600
	}
	page, err := c.API.Query(ctx, &dynamodb.QueryInput{
		TableName:              ops,
		KeyConditionExpression: aws.String("PK = :pk AND SK BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(attemptPK(tenantID, connectionID)), ":a": avS(hourSK(first)), ":b": avS(hourSK(last)),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("hourly stats of connection %s: %w", connectionID, err)
	}
	for _, it := range page.Items {
		sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
		if sk == nil {
			return nil, errors.New("an hourly item without its sort key")
		}
		hour, err := strconv.ParseInt(strings.TrimPrefix(sk.Value, skHourP), 10, 64)
		if err != nil || hour < first || hour > last {
			continue
		}
		b := &out[hour-first]
		ok, _ := numAttr(it, attrOK)
		bad, _ := numAttr(it, attrBad)
		b.Successes, b.Failures = int(ok), int(bad)
		b.DurationSumMS, _ = numAttr(it, attrDur)
		b.DurationMaxMS, _ = numAttr(it, attrMax)
	}
	return out, nil
}
