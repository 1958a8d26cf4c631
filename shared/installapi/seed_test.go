package installapi_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

// TestMessageDecodedOnce: the message is URL-decoded exactly once in both
// forms (a "%25" given encoded once more stays a "%"-sequence, "+" is a
// space in the JSON form's encoding, "%2B" a plus), MessageFlowLineBreak
// becomes a new line, and 4,096 characters (counted as characters, not
// bytes) are accepted while 4,097 are not.
func TestMessageDecodedOnce(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	u := in.uuid
	cases := []struct{ body, text string }{
		{`{"UUID":"` + u + `","ToMobileNumber":"972501234567","Message":"100%2525%20off"}`, "100%25 off"},
		{`{"UUID":"` + u + `","ToMobileNumber":"972501234567","Message":"a+b%2Bc"}`, "a b+c"},
		{`{"UUID":"` + u + `","ToMobileNumber":"972501234567","Message":"` + strings.Repeat("%D7%90", 4096) + `"}`, strings.Repeat("א", 4096)},
		{`{"UUID":"` + u + `","ToMobileNumber":"972501234567","Message":"oneMessageFlowLineBreaktwoMessageFlowLineBreak"}`, "one\ntwo\n"},
	}
	var texts []string
	for _, c := range cases {
		r := s.Do("POST", "/add_message", "", c.body)
		want(t, r, 200, "")
		texts = append(texts, c.text)
	}
	r := s.Do("GET", "/webhook/add_message?UUID="+u+"&ToMobileNumber=972501234567&wapMessage="+url.QueryEscape("100%25 off")+"MessageFlowLineBreak"+url.QueryEscape("a+b"), "", nil)
	want(t, r, 200, "")
	texts = append(texts, "100%25 off\na+b")
	want(t, s.Do("POST", "/add_message", "", `{"UUID":"`+u+`","ToMobileNumber":"972501234567","Message":"`+strings.Repeat("%D7%90", 4097)+`"}`), 400, "4096")
	want(t, s.Do("GET", "/webhook/add_message?UUID="+u+"&ToMobileNumber=972501234567&wapMessage="+strings.Repeat("a", 4097), "", nil), 400, "4096")
	got := pull(t, s, in, "?max=100")
	if len(got) != len(texts) {
		t.Fatalf("pulled %d, want %d", len(got), len(texts))
	}
	for i, p := range got {
		if p.Message != texts[i] {
			t.Fatalf("message %d is %q, want %q", i, p.Message, texts[i])
		}
	}
}

// TestOfflineForDays: messages wait while the installation is offline for
// days (nothing expires them), then come in order, and acked once.
func TestOfflineForDays(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	var ids []string
	for i := range 3 {
		r := s.Do("POST", "/add_message", "", fmt.Sprintf(`{"UUID":%q,"ToMobileNumber":"972501234567","Message":"m%d"}`, in.uuid, i))
		want(t, r, 200, "")
		ids = append(ids, get(r.JSON, "data.id").(string))
	}
	s.Clock.Add(10 * 24 * time.Hour)
	r := s.Do("GET", "/v1/installations/"+in.uuid, "Bearer "+in.t.Token, nil)
	if get(r.JSON, "data.online") != false {
		t.Fatalf("never pulled, shown online: %s", r.Body)
	}
	got := pull(t, s, in, "?max=10")
	if len(got) != 3 {
		t.Fatalf("after 10 days offline: %+v", got)
	}
	for i, p := range got {
		if p.ID != ids[i] {
			t.Fatalf("pulled %s at %d, want %s", p.ID, i, ids[i])
		}
		want(t, ack(s, in, p.ID, p.Lease, "sent", ""), 200, "")
	}
	if got := pull(t, s, in, ""); len(got) != 0 {
		t.Fatalf("after the acks: %+v", got)
	}
	r = s.Do("GET", "/v1/installations/"+in.uuid, "Bearer "+in.t.Token, nil)
	if get(r.JSON, "data.online") != true {
		t.Fatalf("after a pull: %s", r.Body)
	}
}

// TestHoursNeverOpen: hours that do not open within a year (Mondays only,
// every Monday a holiday) refuse the message with 422 rather than hold it
// for ever; nothing is queued.
func TestHoursNeverOpen(t *testing.T) {
	s := stacktest.New(t)
	now := s.Clock.Now().UTC()
	var holidays []string
	for d := range 400 {
		if day := now.AddDate(0, 0, d); day.Weekday() == time.Monday {
			holidays = append(holidays, `"`+day.Format("2006-01-02")+`"`)
		}
	}
	in := newInstallation(t, s, `{"name":"Closed","use_api":true,"hours":{"time_zone":"UTC","week":{"mon":[{"from":"09:00","to":"17:00"}]},"holidays":[`+strings.Join(holidays, ",")+`]}}`)
	want(t, s.Do("POST", "/add_message", "", `{"UUID":"`+in.uuid+`","ToMobileNumber":"972501234567","Message":"hi"}`), 422, "within a year")
	if got := pull(t, s, in, ""); len(got) != 0 {
		t.Fatalf("queued: %+v", got)
	}
}
