package routes

import (
	"slices"
	"strings"
)

// StreamFilter is one pattern of a stream consumer's event filter: a
// record passes when its item's partition key starts with Prefix and, when
// they are set, its event name is one of Events and each attribute of
// NewImage is a string of its new image holding one of the values listed.
// A consumer is invoked for the records that pass any of its patterns:
// the CDK app writes them as the event source mapping's FilterCriteria
// (Pattern), and the local stream poller applies the same (Match).
type StreamFilter struct {
	Prefix   string
	Events   []string
	NewImage map[string][]string
}

// MoreStreamFilters are further patterns of a stream consumer, beyond the
// one of its EventFunction.KeyPrefix (every record of those items). The
// trigger router also acts on messages (ddbstore.MessageKeyPrefix), and on
// those records only: a new message (an outbound one to queue on the
// outbox, an inbound one for the chat-api webhooks), and an outbound
// message's change to a status past queued (the webhooks' "ack" entries;
// a status only moves forward, so such a change is always a new status).
// The sender's own writes on a queued message (a retry's count and error;
// its claims are on the operations table) and anything else reach it no
// more.
var MoreStreamFilters = map[string][]StreamFilter{
	"trigger-router": {
		{Prefix: "MSG#", Events: []string{"INSERT"}},
		{Prefix: "MSG#", Events: []string{"MODIFY"}, NewImage: map[string][]string{
			"direction": {"outbound"},
			"status":    {"sent", "delivered", "read", "completed", "failed"},
		}},
		// An automation's call of a connection (shared/autorun).
		{Prefix: "AUTOCALL#", Events: []string{"INSERT"}},
	},
}

// StreamFilters are the consumer's patterns (none: every record).
func (e EventFunction) StreamFilters() []StreamFilter {
	if e.KeyPrefix == "" {
		return nil
	}
	return append([]StreamFilter{{Prefix: e.KeyPrefix}}, MoreStreamFilters[e.Function]...)
}

// KeyPrefixes are every partition-key prefix the stream consumer acts on
// (none: every record).
func (e EventFunction) KeyPrefixes() []string {
	var out []string
	for _, f := range e.StreamFilters() {
		if !slices.Contains(out, f.Prefix) {
			out = append(out, f.Prefix)
		}
	}
	return out
}

// Pattern is the filter as a Lambda event filter pattern on a DynamoDB
// stream record (attribute names: the data table's key "PK").
func (f StreamFilter) Pattern() map[string]any {
	ddb := map[string]any{"Keys": map[string]any{"PK": map[string]any{"S": []any{map[string]any{"prefix": f.Prefix}}}}}
	if len(f.NewImage) > 0 {
		img := map[string]any{}
		for attr, vals := range f.NewImage {
			img[attr] = map[string]any{"S": vals}
		}
		ddb["NewImage"] = img
	}
	p := map[string]any{"dynamodb": ddb}
	if len(f.Events) > 0 {
		p["eventName"] = f.Events
	}
	return p
}

// Match reports whether a record passes the filter: its event name, its
// item's partition key, and its new image's string attributes (str
// answers "", false for an attribute that is missing or not a string).
func (f StreamFilter) Match(eventName, pk string, str func(attr string) (string, bool)) bool {
	if !strings.HasPrefix(pk, f.Prefix) || (len(f.Events) > 0 && !slices.Contains(f.Events, eventName)) {
		return false
	}
	for attr, vals := range f.NewImage {
		v, ok := str(attr)
		if !ok || !slices.Contains(vals, v) {
			return false
		}
	}
	return true
}

// MatchAny reports whether a record passes any of the filters (true when
// there are none).
func MatchAny(fs []StreamFilter, eventName, pk string, str func(attr string) (string, bool)) bool {
	if len(fs) == 0 {
		return true
	}
	for _, f := range fs {
		if f.Match(eventName, pk, str) {
			return true
		}
	}
	return false
}
