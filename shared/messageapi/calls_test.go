package messageapi_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/routes/accesstest"
)

// callLog keeps the SDK calls of each message-send invocation.
type callLog struct {
	mu    sync.Mutex
	calls [][]accesstest.Call
}

func (l *callLog) record(fn string, calls []accesstest.Call) {
	if fn != "message-send" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, calls)
}

// last is the last invocation's calls, as sorted "Op table" lines (the
// reads are made at once, in no set order).
func (l *callLog) last(t *testing.T, s *stacktest.Stack) []string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls) == 0 {
		t.Fatal("no message-send invocation recorded")
	}
	var out []string
	for _, c := range l.calls[len(l.calls)-1] {
		table := c.Resource
		switch table {
		case s.Env.Table:
			table = "data"
		case s.Env.OpsTable:
			table = "ops"
		}
		out = append(out, c.Op+" "+table)
	}
	slices.Sort(out)
	return out
}

// POST /v1/messages reads each item once and writes what it must: the
// calls of one send are counted so that a redundant read cannot come back.
func TestSendCalls(t *testing.T) {
	var log callLog
	s, _, ten := withProviderOpts(t, stacktest.Options{OnCalls: log.record})
	tpl := func(to string) map[string]any {
		return map[string]any{"to": to, "type": "template",
			"template": map[string]any{"name": "order_update", "language": "en_US", "params": []string{"Ana"}}}
	}
	cases := []struct {
		name string
		body map[string]any
		want []string
	}{
		// The first send of the template reads it; the contact's key (and
		// its pre-migration key) is read once, found absent, and the
		// contact made in one transaction (with its search entry and the
		// tenant's contact count) without reading it again.
		{"new number, template read", tpl("+923244077001"), []string{
			"GetItem data", "GetItem data", "GetItem data", "PutItem data",
			"TransactWriteItems/Put data", "TransactWriteItems/Put ops", "TransactWriteItems/Update ops", "TransactWriteItems/Update ops", "UpdateItem ops"}},
		// Within templates.SendCacheTTL the approved template is not read
		// again.
		{"new number, template cached", tpl("+923244077002"), []string{
			"GetItem data", "GetItem data", "PutItem data",
			"TransactWriteItems/Put data", "TransactWriteItems/Put ops", "TransactWriteItems/Update ops", "TransactWriteItems/Update ops", "UpdateItem ops"}},
		// A contact that exists: one read of it, the message stored.
		{"known contact", tpl("+923244077001"), []string{"GetItem data", "PutItem data", "UpdateItem ops"}},
	}
	for _, c := range cases {
		send(t, s, ten.Token, c.body)
		got := log.last(t, s)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: calls\n  %s\nwant\n  %s", c.name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}
