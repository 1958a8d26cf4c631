package ddbstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// addHourly adds a batch's attempts to their connections' hourly counters:
// per connection and hour one UpdateItem, which also sets the largest
// duration when the hour has none yet and answers the one it had; a second
// UpdateItem, conditional, raises it when the batch's is larger (a race
// lost to another batch's larger one writes nothing).
func (c *Connections) addHourly(ctx context.Context, ops *string, as []connections.ConnAttempt) error {
	names := map[string]string{"#ok": attrOK, "#bad": attrBad, "#dur": attrDur, "#ttl": TTLAttribute, "#mx": attrMax}
	for _, h := range hourlyOf(as) {
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
			return fmt.Errorf("hourly counters: %w", err)
		}
		old, had := numAttr(res.Attributes, attrMax)
		if !had || old >= h.max {
			continue
		}
		_, err = c.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 ops,
			Key:                       k,
			UpdateExpression:          aws.String("SET #mx = :mx"),
			ConditionExpression:       aws.String("#mx < :mx"),
			ExpressionAttributeNames:  map[string]string{"#mx": attrMax},
			ExpressionAttributeValues: map[string]types.AttributeValue{":mx": avN(h.max)},
		})
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			return fmt.Errorf("hourly counters: %w", err)
		}
	}
	return nil
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
