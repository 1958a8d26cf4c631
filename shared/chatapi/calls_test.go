package chatapi_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/routes/accesstest"
	"github.com/startmsg/chatbackend/shared/templates"
)

// Seed 002's sendTemplate reads each item once: the template (then not
// again within templates.SendCacheTTL), the contact's key and its
// pre-migration key, found absent, the contact made without reading it
// again, and the message stored.
func TestSendTemplateCalls(t *testing.T) {
	var (
		mu    sync.Mutex
		calls [][]accesstest.Call
	)
	s := stacktest.NewWith(t, stacktest.Options{OnCalls: func(fn string, cs []accesstest.Call) {
		if fn == "chatapi-send-template" {
			mu.Lock()
			calls = append(calls, cs)
			mu.Unlock()
		}
	}})
	wa := s.NewTenant("Acme", "whatsapp")
	newSeedTemplate(t, s.Deps, wa.ID, wa.ChannelID, templates.StatusApproved)
	newContact := []string{"GetItem data", "GetItem data", "PutItem data", "TransactWriteItems/Put data", "TransactWriteItems/Put ops",
		"TransactWriteItems/Update ops", "TransactWriteItems/Update ops", "UpdateItem ops"}
	for i, c := range []struct {
		phone string
		want  []string
	}{
		{"79995253422", append([]string{"GetItem data"}, newContact...)}, // the template read
		{"79995253423", newContact},
		{"79995253422", []string{"GetItem data", "PutItem data", "UpdateItem ops"}}, // a known contact
	} {
		r := s.Do("POST", "/sendTemplate?token="+wa.Token, "",
			`{"phone":"`+c.phone+`","template":"template_name","namespace":"namespace_of_template","language":{"code":"en","policy":"deterministic"}}`)
		if r.Status != 200 {
			t.Fatalf("send %d: %d %s", i, r.Status, r.Body)
		}
		mu.Lock()
		last := calls[len(calls)-1]
		mu.Unlock()
		var got []string
		for _, c := range last {
			table := c.Resource
			switch table {
			case s.Env.Table:
				table = "data"
			case s.Env.OpsTable:
				table = "ops"
			}
			got = append(got, c.Op+" "+table)
		}
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("send %d: calls\n  %s\nwant\n  %s", i, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}
