package messenger_test

import (
	"encoding/json"
	"testing"

	"github.com/startmsg/chatbackend/shared/messenger"
	"github.com/startmsg/chatbackend/shared/routes"
)

func items(t *testing.T, body string) []messenger.Item {
	t.Helper()
	var b messenger.Body
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	return b.Items()
}

func TestItems(t *testing.T) {
	got := items(t, threeEvents)
	if len(got) != 4 {
		t.Fatalf("%d items", len(got))
	}
	if got[0].PSID != "111" || got[0].Collected.PostbackID != "GET_STARTED" ||
		got[1].Collected.Field != "email" || string(got[1].Collected.Value) != `"ana@example.com"` ||
		got[2].Collected.Location != "54.6872,25.2797" || got[3].PSID != "222" || got[3].Collected.PostbackID != "BUY" {
		t.Fatalf("%+v", got)
	}
	keys := map[string]bool{}
	for _, it := range got {
		if len(it.Key) != 32 || keys[it.Key] {
			t.Fatalf("key %q: empty, malformed or repeated", it.Key)
		}
		keys[it.Key] = true
	}
	// The same call again has the same keys.
	for i, it := range items(t, threeEvents) {
		if it.Key != got[i].Key {
			t.Errorf("item %d: key %s, was %s", i, it.Key, got[i].Key)
		}
	}
}

func TestItemKeys(t *testing.T) {
	key := func(ev string) string {
		t.Helper()
		its := items(t, `{"object":"page","entry":[{"messaging":[`+ev+`]}]}`)
		if len(its) != 1 {
			t.Fatalf("%s: %d items", ev, len(its))
		}
		return its[0].Key
	}
	pb := key(`{"sender":{"id":"1"},"timestamp":5,"postback":{"payload":"A"}}`)
	for what, ev := range map[string]string{
		"another time":     `{"sender":{"id":"1"},"timestamp":6,"postback":{"payload":"A"}}`,
		"another sender":   `{"sender":{"id":"2"},"timestamp":5,"postback":{"payload":"A"}}`,
		"another payload":  `{"sender":{"id":"1"},"timestamp":5,"postback":{"payload":"B"}}`,
		"a quick reply":    `{"sender":{"id":"1"},"timestamp":5,"message":{"quick_reply":{"payload":"A"}}}`,
		"a postback's mid": `{"sender":{"id":"1"},"timestamp":5,"postback":{"mid":"m.9","payload":"A"}}`,
	} {
		if key(ev) == pb {
			t.Errorf("%s: same key as the first postback", what)
		}
	}
	// A message is known by its mid, whatever else it says.
	if key(`{"sender":{"id":"1"},"timestamp":5,"message":{"mid":"m.1","quick_reply":{"payload":"a@b.co"}}}`) !=
		key(`{"sender":{"id":"1"},"timestamp":9,"message":{"mid":"m.1","quick_reply":{"payload":"a@b.co"}}}`) {
		t.Error("the same mid at another timestamp: another key")
	}
}

// TestStreamFilter: the intake's stream filter (routes, which imports no
// handler code) is the inbox items' key prefix.
func TestStreamFilter(t *testing.T) {
	for _, f := range routes.EventFunctions {
		if f.Function == "messenger-intake" {
			if f.KeyPrefix != messenger.InboxKeyPrefix || f.Source != "stream" {
				t.Fatalf("messenger-intake: source %q, filter %q, want the stream and %q", f.Source, f.KeyPrefix, messenger.InboxKeyPrefix)
			}
			return
		}
	}
	t.Fatal("messenger-intake is not in routes.EventFunctions")
}
