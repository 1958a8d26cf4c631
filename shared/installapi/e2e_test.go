package installapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/installations"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/scheduler"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

func TestMain(m *testing.M) { emulators.Main(m) }

var get = stacktest.Path

func want(t *testing.T, r stacktest.Response, status int, msgPart string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %d %s, want %d", r.Status, r.Body, status)
	}
	if msgPart != "" && !strings.Contains(fmt.Sprint(get(r.JSON, "message")), msgPart) {
		t.Fatalf("got %d %s, want a message with %q", r.Status, r.Body, msgPart)
	}
}

// inst makes an installation on a new WhatsApp tenant.
type inst struct {
	t                    stacktest.Tenant
	uuid, secret, bearer string
}

func newInstallation(t *testing.T, s *stacktest.Stack, body string) inst {
	t.Helper()
	wa := s.NewTenant("Flow", "whatsapp")
	r := s.Do("POST", "/v1/installations", "Bearer "+wa.Token, body)
	want(t, r, 201, "")
	in := inst{t: wa, uuid: get(r.JSON, "data.uuid").(string), secret: get(r.JSON, "data.secret").(string)}
	in.bearer = "Bearer " + in.secret
	return in
}

type pulled struct {
	ID, Lease, To, From, Message, DownloadLink string
	Seq                                        int64
}

func pull(t *testing.T, s *stacktest.Stack, in inst, query string) []pulled {
	t.Helper()
	r := s.Do("GET", "/v1/installations/"+in.uuid+"/messages"+query, in.bearer, nil)
	want(t, r, 200, "")
	var out struct {
		Data []struct {
			ID           string `json:"id"`
			Seq          int64  `json:"seq"`
			Lease        string `json:"lease"`
			To           string `json:"to"`
			From         string `json:"from"`
			Message      string `json:"message"`
			DownloadLink string `json:"download_link"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	var ps []pulled
	for _, d := range out.Data {
		ps = append(ps, pulled{ID: d.ID, Seq: d.Seq, Lease: d.Lease, To: d.To, From: d.From, Message: d.Message, DownloadLink: d.DownloadLink})
	}
	return ps
}

func ack(s *stacktest.Stack, in inst, id, lease, status, errText string) stacktest.Response {
	body := map[string]any{"lease": lease, "status": status}
	if errText != "" {
		body["error"] = errText
	}
	return s.Do("POST", "/v1/installations/"+in.uuid+"/messages/"+id+"/ack", in.bearer, body)
}

// TestSeed004 runs the seed's own examples (both forms) and its bad
// inputs through the stack, then the installed sender's pull and ack.
func TestSeed004(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","numbers":["+972501234567"],"use_api":true}`)

	// Not on a Messenger channel.
	ms := s.NewTenant("Page", "messenger")
	want(t, s.Do("POST", "/v1/installations", "Bearer "+ms.Token, `{"name":"x"}`), 422, "WhatsApp channels")

	add := func(body string) stacktest.Response { return s.Do("POST", "/add_message", "", body) }
	link := func(q string) stacktest.Response { return s.Do("GET", "/webhook/add_message?"+q, "", nil) }
	u := in.uuid

	// Bad input: nothing is queued.
	want(t, add(`{"UUID":"your-messageflow-uuid","ToMobileNumber":"972501234567","Message":"hi"}`), 401, "UUID")
	want(t, add(`{"UUID":"`+installations.NewUUID()+`","ToMobileNumber":"972501234567","Message":"hi"}`), 401, "UUID")
	want(t, add(`{"UUID":"`+u+`","Message":"hi"}`), 400, "ToMobileNumber")
	want(t, add(`{"UUID":"`+u+`","ToMobileNumber":"972501234567"}`), 400, "Message")
	want(t, add(`{"UUID":"`+u+`","ToMobileNumber":"hello","Message":"hi"}`), 400, "ToMobileNumber")
	want(t, add(`{"UUID":"`+u+`","ToMobileNumber":"05012","ToCountryCode":"972","Message":"hi"}`), 400, "ToCountryCode")
	want(t, add(`{"UUID":"`+u+`","ToMobileNumber":"972501234567","FromMobileNumber":"972509999999","Message":"hi"}`), 400, "FromMobileNumber")
	want(t, add(`{"UUID":"`+u+`","ToMobileNumber":"972501234567","Message":"`+strings.Repeat("a", 4097)+`"}`), 400, "4096")
	want(t, add(`{"UUID":"`+u+`","ToMobileNumber":"972501234567","Message":"hi","DownloadLink":"ftp://x/y"}`), 400, "DownloadLink")
	want(t, add(`{"UUID":"`+u+`","ToMobileNumber":"972501234567","Message":"hi","DownloadLink":"../etc/passwd"}`), 400, "DownloadLink")
	want(t, link("UUID="+u+"&ToMobileNumber=972501234567"), 400, "Message")
	if got := pull(t, s, in, ""); len(got) != 0 {
		t.Fatalf("bad input queued %+v", got)
	}

	// The seed's examples, in order.
	ids := []string{}
	for _, b := range []string{
		`{"UUID":"` + u + `","ToMobileNumber":"972501234567","Message":"Hello%20Dana%2C%20your%20order%20shipped."}`,
		`{"UUID":"` + u + `","ToMobileNumber":"972501234568","FromMobileNumber":"972501234567","Message":"line%20oneMessageFlowLineBreakline%20two"}`,
		`{"UUID":"` + u + `","ToMobileNumber":"0501234569","ToCountryCode":"972","Message":"1%2B1"}`,
		`{"UUID":"` + strings.ToUpper(u) + `","ToMobileNumber":"0501234569","ToCountryCode":972,"DownloadLink":"https://www.dropbox.com/s/xxxxxxxx/Logo.jpg?dl=1","Message":"logo"}`,
		`{"uuid":"` + u + `","toMobileNumber":"0501234569","toCountryCode":"972","DownloadLink":"C:/Users/your-user-name/Pictures/path","Message":"file"}`,
	} {
		r := add(b)
		want(t, r, 200, "")
		if get(r.JSON, "data.status") != "queued" || get(r.JSON, "data.held") != false {
			t.Fatalf("%s: %s", b, r.Body)
		}
		ids = append(ids, get(r.JSON, "data.id").(string))
	}
	for _, q := range []string{
		"UUID=" + u + "&ToMobileNumber=972501234567&wapMessage=" + url.QueryEscape("link one"),
		"UUID=" + u + "&toMobileNumber=05xxxxxxxx&toCountryCode=972&wapMessage=x", // placeholder digits: refused
	} {
		r := link(q)
		if strings.Contains(q, "xxxx") {
			want(t, r, 400, "ToMobileNumber")
			continue
		}
		want(t, r, 200, "")
		ids = append(ids, get(r.JSON, "data.id").(string))
	}
	// Backslashes and the link's own query string in downloadLink, as the seed writes them.
	req, _ := http.NewRequest("GET", s.URL+"/webhook/add_message?UUID="+u+`&toMobileNumber=0501234569&toCountryCode=972&fromMobileNumber=972501234567&downloadLink=C:\Users\your-user-name\Pictures\path&wapMessage=back%20slash`, nil)
	r := s.Send(req)
	want(t, r, 200, "")
	ids = append(ids, get(r.JSON, "data.id").(string))

	// The installed sender: a wrong secret or another installation's is 401.
	other := newInstallation(t, s, `{"name":"Other","use_api":true}`)
	want(t, s.Do("GET", "/v1/installations/"+u+"/messages", other.bearer, nil), 401, "secret")
	want(t, s.Do("GET", "/v1/installations/"+u+"/messages", "", nil), 401, "secret")
	want(t, s.Do("GET", "/v1/installations/"+u+"/messages", "Bearer "+in.t.Token, nil), 401, "secret")
	want(t, s.Do("GET", "/v1/installations/"+u+"/messages?wait=21", in.bearer, nil), 400, "wait")

	first := pull(t, s, in, "?max=3")
	if len(first) != 3 || first[0].ID != ids[0] || first[1].ID != ids[1] || first[2].ID != ids[2] {
		t.Fatalf("first pull %+v, want %v", first, ids[:3])
	}
	if first[0].To != "+972501234567" || first[0].Message != "Hello Dana, your order shipped." {
		t.Fatalf("%+v", first[0])
	}
	if first[1].From != "+972501234567" || first[1].Message != "line one\nline two" || first[2].Message != "1+1" || first[2].To != "+972501234569" {
		t.Fatalf("%+v %+v", first[1], first[2])
	}
	// Head-of-line: nothing more while the first three are leased.
	if got := pull(t, s, in, ""); len(got) != 0 {
		t.Fatalf("a pull during the lease got %+v", got)
	}
	// Acks: a lease of another message, a bad status, then sent; again is the same answer.
	want(t, ack(s, in, first[0].ID, first[1].Lease, "sent", ""), 409, "lease")
	want(t, ack(s, in, first[0].ID, first[0].Lease, "delivered", ""), 400, "status")
	want(t, ack(s, in, first[0].ID, "nonsense", "sent", ""), 400, "lease")
	want(t, ack(s, other, first[0].ID, first[0].Lease, "sent", ""), 404, "") // not in that installation's queue
	for range 2 {
		r := ack(s, in, first[0].ID, first[0].Lease, "sent", "")
		want(t, r, 200, "")
		if get(r.JSON, "data.status") != "sent" {
			t.Fatalf("%s", r.Body)
		}
	}
	want(t, ack(s, in, first[1].ID, first[1].Lease, "failed", "Number not on WhatsApp"), 200, "")
	// The message as the Messages API shows it.
	r = s.Do("GET", "/v1/messages/"+first[1].ID, "Bearer "+in.t.Token, nil)
	if get(r.JSON, "data.status") != "failed" || get(r.JSON, "data.installation_id") != u || get(r.JSON, "data.error.message") != "Number not on WhatsApp" {
		t.Fatalf("%s", r.Body)
	}

	// The third is unacked: after its lease it comes back first, and the
	// old lease's ack is refused.
	s.Clock.Add(installations.DefaultLease + time.Second)
	again := pull(t, s, in, "?max=2&lease=30")
	if len(again) != 2 || again[0].ID != ids[2] || again[1].ID != ids[3] || again[0].Lease == first[2].Lease {
		t.Fatalf("after the lease: %+v", again)
	}
	want(t, ack(s, in, first[2].ID, first[2].Lease, "sent", ""), 409, "lease")
	want(t, ack(s, in, again[0].ID, again[0].Lease, "sent", ""), 200, "")
	want(t, ack(s, in, again[1].ID, again[1].Lease, "sent", ""), 200, "")
	if again[1].DownloadLink != "https://www.dropbox.com/s/xxxxxxxx/Logo.jpg?dl=1" {
		t.Fatalf("%+v", again[1])
	}
	rest := pull(t, s, in, "?max=100")
	if len(rest) != len(ids)-4 {
		t.Fatalf("rest %+v", rest)
	}
	for i, p := range rest {
		if p.ID != ids[4+i] {
			t.Fatalf("rest[%d] = %s, want %s", i, p.ID, ids[4+i])
		}
		want(t, ack(s, in, p.ID, p.Lease, "sent", ""), 200, "")
	}
	if rest[0].DownloadLink != "C:/Users/your-user-name/Pictures/path" || rest[len(rest)-1].DownloadLink != `C:\Users\your-user-name\Pictures\path` || rest[1].Message != "link one" {
		t.Fatalf("%+v", rest)
	}
	if got := pull(t, s, in, ""); len(got) != 0 {
		t.Fatalf("after every ack: %+v", got)
	}

	// Management: the pull marked it online; "Use API" off refuses.
	r = s.Do("GET", "/v1/installations/"+u, "Bearer "+in.t.Token, nil)
	if get(r.JSON, "data.online") != true || get(r.JSON, "data.last_seen_at") == float64(0) {
		t.Fatalf("%s", r.Body)
	}
	want(t, s.Do("GET", "/v1/installations/"+u, "Bearer "+other.t.Token, nil), 404, "")
	want(t, s.Do("PUT", "/v1/installations/"+u, "Bearer "+in.t.Token, `{"use_api":false}`), 200, "")
	want(t, add(`{"UUID":"`+u+`","ToMobileNumber":"972501234567","Message":"hi"}`), 403, "Use API")
	r = s.Do("GET", "/v1/installations", "Bearer "+in.t.Token, nil)
	if l, _ := get(r.JSON, "data").([]any); len(l) != 1 {
		t.Fatalf("%s", r.Body)
	}
	want(t, s.Do("PUT", "/v1/installations/"+u, "Bearer "+in.t.Token, `{"numbers":["nope"]}`), 400, "numbers[0]")
	want(t, s.Do("PUT", "/v1/installation_hours", "Bearer "+in.t.Token, `{"hours":{"time_zone":"Asia/Jerusalem","week":{"sun":[{"from":"09:00","to":"18:00"}]}}}`), 200, "")
	r = s.Do("GET", "/v1/installation_hours", "Bearer "+in.t.Token, nil)
	if get(r.JSON, "data.hours.time_zone") != "Asia/Jerusalem" {
		t.Fatalf("%s", r.Body)
	}
}

// TestRelease: a held message waits in its place; the release (the
// scheduler's handler, called directly) makes it pullable, queued, once;
// a pull after its release time releases it itself.
func TestRelease(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	store := s.Deps.InstallationStore()
	svc := &installations.Service{Store: store, Now: s.Clock.Now}
	ctx := context.Background()
	now := s.Clock.Now()
	enqueue := func(held time.Time, text string) string {
		m := messages.Message{ID: tenancy.NewID("msg"), TenantID: in.t.ID, ChannelID: in.t.ChannelID, ChannelKind: "whatsapp",
			Direction: messages.Outbound, Type: messages.TypeText, Text: &messages.Text{Body: text}, To: "+972501234567",
			Status: messages.StatusQueued, InstallationID: in.uuid, CreatedAt: now.UnixMilli()}
		e := installations.Entry{MessageID: m.ID, TenantID: m.TenantID, To: m.To, Text: text, CreatedAt: m.CreatedAt}
		var due *scheduler.Due
		if !held.IsZero() {
			m.Status, m.HeldUntil, e.HoldUntil = messages.StatusHeld, held.UnixMilli(), held.UnixMilli()
			due = &scheduler.Due{Kind: installations.ReleaseKind, TenantID: m.TenantID, Ref: m.ID, At: held}
		}
		if _, err := store.Enqueue(ctx, in.uuid, m, e, due); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	held := enqueue(now.Add(time.Hour), "held")
	later := enqueue(time.Time{}, "after it")
	// The held message blocks the queue (order is kept).
	if got := pull(t, s, in, ""); len(got) != 0 {
		t.Fatalf("pulled %+v while the first is held", got)
	}
	r := s.Do("GET", "/v1/messages/"+held, "Bearer "+in.t.Token, nil)
	if get(r.JSON, "data.status") != "held" || get(r.JSON, "data.held_until") != float64(now.Add(time.Hour).UnixMilli()) {
		t.Fatalf("%s", r.Body)
	}
	d := scheduler.Due{Kind: installations.ReleaseKind, TenantID: in.t.ID, Ref: held, At: now.Add(time.Hour)}
	for range 2 { // idempotent
		if err := svc.Release(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Release(ctx, scheduler.Due{Kind: installations.ReleaseKind, TenantID: in.t.ID, Ref: "msg_gone"}); err != nil {
		t.Fatalf("a gone message: %v", err)
	}
	if err := svc.Release(ctx, scheduler.Due{Kind: "other", Ref: held}); err == nil {
		t.Fatal("a due item of another kind was taken")
	}
	r = s.Do("GET", "/v1/messages/"+held, "Bearer "+in.t.Token, nil)
	if get(r.JSON, "data.status") != "queued" {
		t.Fatalf("%s", r.Body)
	}
	got := pull(t, s, in, "?max=5")
	if len(got) != 2 || got[0].ID != held || got[1].ID != later {
		t.Fatalf("after the release: %+v", got)
	}
	for _, p := range got {
		want(t, ack(s, in, p.ID, p.Lease, "sent", ""), 200, "")
	}
	// The release after the ack changes nothing.
	if err := svc.Release(ctx, d); err != nil {
		t.Fatal(err)
	}
	r = s.Do("GET", "/v1/messages/"+held, "Bearer "+in.t.Token, nil)
	if get(r.JSON, "data.status") != "sent" {
		t.Fatalf("%s", r.Body)
	}
	// A due hold the scheduler has not released yet: the pull does it.
	due := enqueue(now.Add(time.Minute), "due")
	s.Clock.Add(2 * time.Minute)
	got = pull(t, s, in, "")
	if len(got) != 1 || got[0].ID != due {
		t.Fatalf("due: %+v", got)
	}
}

// TestOfflineThenOnline: messages queued while the installation is
// offline all arrive exactly once across pulls, lease expiries and
// concurrent pullers, each pull in order; a long poll is woken by a new
// message.
func TestOfflineThenOnline(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	const n = 40
	var ids []string
	for i := range n {
		r := s.Do("POST", "/add_message", "", fmt.Sprintf(`{"UUID":%q,"ToMobileNumber":"972501234567","Message":"m%d"}`, in.uuid, i))
		want(t, r, 200, "")
		ids = append(ids, get(r.JSON, "data.id").(string))
	}
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for {
				ps := pull(t, s, in, "?max=7")
				if len(ps) == 0 {
					mu.Lock()
					done := len(got) == n
					mu.Unlock()
					if done {
						return
					}
					time.Sleep(20 * time.Millisecond)
					continue
				}
				for i, p := range ps {
					if i > 0 && p.Seq <= ps[i-1].Seq {
						t.Errorf("a pull out of order: %+v", ps)
					}
					if w == 0 && i == len(ps)-1 && p.Seq%5 == 0 {
						break // this worker "crashes" before acking its last: it comes back later
					}
					r := ack(s, in, p.ID, p.Lease, "sent", "")
					if r.Status == 409 {
						break // its lease was taken over meanwhile
					}
					want(t, r, 200, "")
					mu.Lock()
					got = append(got, p.ID)
					mu.Unlock()
				}
				s.Clock.Add(installations.DefaultLease) // leases of crashed work end
			}
		})
	}
	wg.Wait()
	// Exactly once each; the order per pull is the creation order (each
	// worker's acks are in it; a single puller's order is TestSeed004's).
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("%s acked twice", id)
		}
		seen[id] = true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("%s never acked", id)
		}
	}
	// A long poll is woken by the next message.
	res := make(chan []pulled, 1)
	go func() { res <- pull(t, s, in, "?wait=10") }()
	time.Sleep(200 * time.Millisecond)
	want(t, s.Do("POST", "/add_message", "", fmt.Sprintf(`{"UUID":%q,"ToMobileNumber":"972501234567","Message":"late"}`, in.uuid)), 200, "")
	if ps := <-res; len(ps) != 1 || ps[0].Message != "late" {
		t.Fatalf("long poll: %+v", ps)
	}
}

// TestStatusReachesWebhooks: the channel's chat-api webhook hears of an
// installation message's ack, as of any message's status.
func TestStatusReachesWebhooks(t *testing.T) {
	s := stacktest.New(t)
	s.Pipeline()
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	bodies := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
	}))
	defer srv.Close()
	want(t, s.Do("POST", "/webhook?token="+in.t.Token, "", `{"webhookUrl":"`+srv.URL+`"}`), 200, "")
	r := s.Do("POST", "/add_message", "", `{"UUID":"`+in.uuid+`","ToMobileNumber":"972501234567","Message":"hi"}`)
	want(t, r, 200, "")
	id := get(r.JSON, "data.id").(string)
	ps := pull(t, s, in, "")
	want(t, ack(s, in, ps[0].ID, ps[0].Lease, "sent", ""), 200, "")
	timeout := time.After(30 * time.Second)
	for {
		select {
		case b := <-bodies:
			if strings.Contains(b, id) && strings.Contains(b, `"status":"sent"`) {
				return
			}
		case <-timeout:
			t.Fatal("no webhook with the message's sent status")
		}
	}
}

// TestAckBatch: up to 50 acks in one call; one stale lease among them
// leaves the others acked, each with its own result.
func TestAckBatch(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	for i := range 4 {
		want(t, s.Do("POST", "/add_message", "", fmt.Sprintf(`{"UUID":%q,"ToMobileNumber":"972501234567","Message":"m%d"}`, in.uuid, i)), 200, "")
	}
	ps := pull(t, s, in, "?max=2")
	acks := func(items ...map[string]any) stacktest.Response {
		return s.Do("POST", "/v1/installations/"+in.uuid+"/acks", in.bearer, map[string]any{"acks": items})
	}
	want(t, acks(), 400, "acks")
	want(t, acks(map[string]any{"id": ps[0].ID, "lease": ps[0].Lease, "status": "sent"}, map[string]any{"id": ps[0].ID, "lease": ps[0].Lease, "status": "sent"}), 400, "twice")
	r := acks(map[string]any{"id": ps[0].ID, "lease": ps[0].Lease, "status": "sent"}, map[string]any{"id": ps[1].ID, "lease": ps[1].Lease, "status": "failed", "error": "no"})
	want(t, r, 200, "")
	if get(r.JSON, "data") == nil || fmt.Sprint(r.JSON["data"]) != fmt.Sprintf("[map[code:200 id:%s status:sent] map[code:200 id:%s status:failed]]", ps[0].ID, ps[1].ID) {
		t.Fatalf("%s", r.Body)
	}
	ps2 := pull(t, s, in, "?max=2")
	s.Clock.Add(installations.DefaultLease + time.Second)
	ps3 := pull(t, s, in, "?max=2") // the same two again, leased anew
	r = acks(map[string]any{"id": ps3[0].ID, "lease": ps3[0].Lease, "status": "sent"}, map[string]any{"id": ps2[1].ID, "lease": ps2[1].Lease, "status": "sent"})
	want(t, r, 200, "")
	if fmt.Sprint(r.JSON["data"]) != fmt.Sprintf("[map[code:200 id:%s status:sent] map[code:409 error:%s id:%s]]", ps3[0].ID, installations.ErrStaleLease.Message, ps2[1].ID) {
		t.Fatalf("%s", r.Body)
	}
	want(t, acks(map[string]any{"id": ps3[1].ID, "lease": ps3[1].Lease, "status": "sent"}), 200, "")
	if got := pull(t, s, in, ""); len(got) != 0 {
		t.Fatalf("left: %+v", got)
	}
}

// TestHeldThroughAddMessage: a message added on a holiday of its
// installation's hours is answered held until the next opening, is not
// handed out meanwhile, and the scheduler's ticker (not a pull) releases
// it once that time has come.
func TestHeldThroughAddMessage(t *testing.T) {
	s := stacktest.New(t)
	now := s.Clock.Now().UTC()
	today := now.Format("2006-01-02")
	in := newInstallation(t, s, `{"name":"Office","numbers":["+972501234567"],"use_api":true,`+
		`"hours":{"time_zone":"UTC","week":{"mon":[{"from":"00:00","to":"24:00"}],"tue":[{"from":"00:00","to":"24:00"}],`+
		`"wed":[{"from":"00:00","to":"24:00"}],"thu":[{"from":"00:00","to":"24:00"}],"fri":[{"from":"00:00","to":"24:00"}],`+
		`"sat":[{"from":"00:00","to":"24:00"}],"sun":[{"from":"00:00","to":"24:00"}]},"holidays":["`+today+`"]}}`)
	s.Pipeline()

	r := s.Do("POST", "/add_message", "", `{"UUID":"`+in.uuid+`","ToMobileNumber":"972501234567","Message":"after%20the%20holiday"}`)
	want(t, r, 200, "")
	opening := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	if get(r.JSON, "data.held") != true || get(r.JSON, "data.status") != "held" || get(r.JSON, "data.held_until") != opening.Format(time.RFC3339) {
		t.Fatalf("added on a holiday: %s, want held until %s", r.Body, opening.Format(time.RFC3339))
	}
	id, _ := get(r.JSON, "data.id").(string)
	if got := pull(t, s, in, ""); len(got) != 0 {
		t.Fatalf("pulled %+v before the opening", got)
	}

	// The opening comes: the ticker releases the message on its own.
	s.Clock.Add(opening.Sub(now) + time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = s.Do("GET", "/v1/messages/"+id, "Bearer "+in.t.Token, nil)
		if get(r.JSON, "data.status") == "queued" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if get(r.JSON, "data.status") != "queued" {
		t.Fatalf("after the opening, without a pull: %s, want queued by the scheduler", r.Body)
	}
	if got := pull(t, s, in, ""); len(got) != 1 || got[0].ID != id || got[0].Message != "after the holiday" {
		t.Fatalf("pulled %+v, want the released message", got)
	}
}

// TestHoursBackToChannels: an installation with its own hours goes back
// to its channel's with hours null on an update: a message it would have
// held is then queued at once (the channel's hours: always open).
func TestHoursBackToChannels(t *testing.T) {
	s := stacktest.New(t)
	today := s.Clock.Now().UTC().Format("2006-01-02")
	week := `"week":{`
	for i, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		week += map[bool]string{true: ",", false: ""}[i > 0] + `"` + d + `":[{"from":"00:00","to":"24:00"}]`
	}
	closedToday := `{"time_zone":"UTC",` + week + `},"holidays":["` + today + `"]}`
	in := newInstallation(t, s, `{"name":"Office","use_api":true,"hours":`+closedToday+`}`)
	add := func() stacktest.Response {
		r := s.Do("POST", "/add_message", "", `{"UUID":"`+in.uuid+`","ToMobileNumber":"972501234567","Message":"hi"}`)
		want(t, r, 200, "")
		return r
	}
	if r := add(); get(r.JSON, "data.held") != true {
		t.Fatalf("on its own holiday: %s", r.Body)
	}
	want(t, s.Do("PUT", "/v1/installations/"+in.uuid, "Bearer "+in.t.Token, `{"name":"Office"}`), 200, "")
	if r := s.Do("GET", "/v1/installations/"+in.uuid, "Bearer "+in.t.Token, nil); get(r.JSON, "data.hours.time_zone") != "UTC" {
		t.Fatalf("an update without hours kept them: %s", r.Body)
	}
	r := s.Do("PUT", "/v1/installations/"+in.uuid, "Bearer "+in.t.Token, `{"hours":null}`)
	want(t, r, 200, "")
	if h, ok := r.JSON["data"].(map[string]any)["hours"]; !ok || h != nil {
		t.Fatalf("after hours null: %s", r.Body)
	}
	if r := s.Do("GET", "/v1/installations/"+in.uuid, "Bearer "+in.t.Token, nil); get(r.JSON, "data.hours") != nil {
		t.Fatalf("after hours null, read again: %s", r.Body)
	}
	if r := add(); get(r.JSON, "data.held") != false || get(r.JSON, "data.status") != "queued" {
		t.Fatalf("on the channel's hours (always open): %s", r.Body)
	}
	// The channel's hours apply now: a holiday of the channel holds it.
	want(t, s.Do("PUT", "/v1/installation_hours", "Bearer "+in.t.Token, `{"hours":`+closedToday+`}`), 200, "")
	if r := add(); get(r.JSON, "data.held") != true {
		t.Fatalf("on the channel's holiday: %s", r.Body)
	}
}

// failingMessages fails every message update on the data table, and
// refuses every transaction that touches it: an ack that went the way
// acks went before they were one transaction (it recorded itself on its
// entry) and died before the message's status.
type failingMessages struct {
	ddbstore.API
	table string
}

func (f failingMessages) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if aws.ToString(in.TableName) == f.table {
		return nil, errors.New("the process died here")
	}
	return f.API.UpdateItem(ctx, in, o...)
}

func (f failingMessages) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	reasons := make([]types.CancellationReason, len(in.TransactItems))
	for i, it := range in.TransactItems {
		reasons[i].Code = aws.String("None")
		if it.Update != nil && aws.ToString(it.Update.TableName) == f.table {
			reasons[i].Code = aws.String("ConditionalCheckFailed")
		}
	}
	return nil, &types.TransactionCanceledException{Message: aws.String("refused"), CancellationReasons: reasons}
}

// TestAckFinishedAfterACrash: an ack that recorded itself on its entry
// but did not set the message's status (the process died) is finished by
// the same ack repeated, or else by the next pull, which goes past it;
// the message is sent once, and its lease can ack it no more otherwise.
func TestAckFinishedAfterACrash(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	var ids []string
	for i := range 3 {
		r := s.Do("POST", "/add_message", "", fmt.Sprintf(`{"UUID":%q,"ToMobileNumber":"972501234567","Message":"m%d"}`, in.uuid, i))
		want(t, r, 200, "")
		ids = append(ids, get(r.JSON, "data.id").(string))
	}
	ps := pull(t, s, in, "?max=2")
	if len(ps) != 2 {
		t.Fatalf("pulled %+v", ps)
	}
	real := s.Deps.InstallationStore().(*ddbstore.Installations)
	dying := &ddbstore.Installations{API: failingMessages{API: real.API, table: real.Table}, Table: real.Table, OpsTable: real.OpsTable}
	ctx := context.Background()
	for _, p := range ps {
		if _, err := dying.Ack(ctx, in.t.ID, in.uuid, p.ID, p.Seq, p.Lease, messages.StatusSent, nil, s.Clock.Now()); err == nil {
			t.Fatal("the dying ack succeeded")
		}
	}
	status := func(id string) any {
		return get(s.Do("GET", "/v1/messages/"+id, "Bearer "+in.t.Token, nil).JSON, "data.status")
	}
	if status(ps[0].ID) != "queued" {
		t.Fatal("the message's status was set")
	}
	// The first: its ack again (the answer was lost) finishes it.
	want(t, ack(s, in, ps[0].ID, ps[0].Lease, "sent", ""), 200, "")
	want(t, ack(s, in, ps[0].ID, ps[0].Lease, "failed", "no"), 409, "")
	if status(ps[0].ID) != "sent" {
		t.Fatalf("after the repeated ack: %v", status(ps[0].ID))
	}
	// The second: the next pull finishes it and hands out the third; its
	// lease ended meanwhile, and it is not handed out again.
	s.Clock.Add(installations.DefaultLease + time.Second)
	got := pull(t, s, in, "?max=5")
	if len(got) != 1 || got[0].ID != ids[2] {
		t.Fatalf("after the dead ack: %+v, want only %s", got, ids[2])
	}
	if status(ps[1].ID) != "sent" {
		t.Fatalf("the pull did not finish the ack: %v", status(ps[1].ID))
	}
	want(t, ack(s, in, ps[1].ID, ps[1].Lease, "sent", ""), 200, "") // the same ack again
	want(t, ack(s, in, got[0].ID, got[0].Lease, "sent", ""), 200, "")
	if got := pull(t, s, in, ""); len(got) != 0 {
		t.Fatalf("left: %+v", got)
	}
}

// TestReleasedMessageWebhooks: a message held, then released by the
// scheduler's ticker, reaches the channel's chat-api webhook as a message
// queued at once does: nothing while it waits (chat-api has no status
// for a message not yet sent), then, on its ack, one call with the
// message (fromMe) and its "sent" ack.
func TestReleasedMessageWebhooks(t *testing.T) {
	s := stacktest.New(t)
	now := s.Clock.Now().UTC()
	today := now.Format("2006-01-02")
	week := `"week":{`
	for i, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		week += map[bool]string{true: ",", false: ""}[i > 0] + `"` + d + `":[{"from":"00:00","to":"24:00"}]`
	}
	in := newInstallation(t, s, `{"name":"Office","use_api":true,"hours":{"time_zone":"UTC",`+week+`},"holidays":["`+today+`"]}}`)
	s.Pipeline()
	var mu sync.Mutex
	calls := map[string][]string{} // message id → bodies that name it
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body struct {
			Messages []struct{ ID string } `json:"messages"`
			Ack      []struct{ ID string } `json:"ack"`
		}
		_ = json.Unmarshal(b, &body)
		ids := map[string]bool{}
		for _, m := range body.Messages {
			ids[m.ID] = true
		}
		for _, a := range body.Ack {
			ids[a.ID] = true
		}
		mu.Lock()
		for id := range ids {
			calls[id] = append(calls[id], string(b))
		}
		mu.Unlock()
	}))
	defer srv.Close()
	want(t, s.Do("POST", "/webhook?token="+in.t.Token, "", `{"webhookUrl":"`+srv.URL+`"}`), 200, "")

	r := s.Do("POST", "/add_message", "", `{"UUID":"`+in.uuid+`","ToMobileNumber":"972501234567","Message":"held"}`)
	want(t, r, 200, "")
	held := get(r.JSON, "data.id").(string)
	if get(r.JSON, "data.held") != true {
		t.Fatalf("%s", r.Body)
	}
	s.Clock.Add(time.Date(now.Year(), now.Month(), now.Day()+1, 0, 1, 0, 0, time.UTC).Sub(now))
	deadline := time.Now().Add(30 * time.Second)
	for get(s.Do("GET", "/v1/messages/"+held, "Bearer "+in.t.Token, nil).JSON, "data.status") != "queued" {
		if time.Now().After(deadline) {
			t.Fatal("not released by the ticker")
		}
		time.Sleep(200 * time.Millisecond)
	}
	r = s.Do("POST", "/add_message", "", `{"UUID":"`+in.uuid+`","ToMobileNumber":"972501234567","Message":"queued"}`)
	want(t, r, 200, "")
	queued := get(r.JSON, "data.id").(string)
	ps := pull(t, s, in, "?max=5")
	if len(ps) != 2 || ps[0].ID != held || ps[1].ID != queued {
		t.Fatalf("pulled %+v", ps)
	}
	mu.Lock()
	early := len(calls[held]) + len(calls[queued])
	mu.Unlock()
	for _, p := range ps {
		want(t, ack(s, in, p.ID, p.Lease, "sent", ""), 200, "")
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(calls[held]) + len(calls[queued])
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooks after the acks: %v", calls)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // anything more would come now
	mu.Lock()
	defer mu.Unlock()
	if early != 0 {
		t.Fatalf("webhooks before the acks: %v", calls)
	}
	shape := func(id string) string {
		if len(calls[id]) != 1 {
			t.Fatalf("%s: %d webhooks, want 1: %v", id, len(calls[id]), calls[id])
		}
		var body struct {
			Messages []struct {
				ID     string `json:"id"`
				FromMe bool   `json:"fromMe"`
			} `json:"messages"`
			Ack []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"ack"`
		}
		if err := json.Unmarshal([]byte(calls[id][0]), &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Messages) != 1 || body.Messages[0].ID != id || !body.Messages[0].FromMe || len(body.Ack) != 1 || body.Ack[0].ID != id {
			t.Fatalf("%s: %s", id, calls[id][0])
		}
		return fmt.Sprintf("fromMe message + ack %s", body.Ack[0].Status)
	}
	if h, q := shape(held), shape(queued); h != q || h != "fromMe message + ack sent" {
		t.Fatalf("released: %s; queued at once: %s", h, q)
	}
}

// A message added for an installation is among its channel's messages
// (GET /v1/messages), with its status.
func TestAddedMessageListedOnChannel(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	r := s.Do("POST", "/add_message", "", fmt.Sprintf(`{"UUID":%q,"ToMobileNumber":"972501234567","Message":"listed"}`, in.uuid))
	want(t, r, 200, "")
	id := get(r.JSON, "data.id").(string)
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := s.Do("GET", "/v1/messages", "Bearer "+in.t.Token, nil)
		want(t, l, 200, "")
		if d, _ := l.JSON["data"].([]any); len(d) == 1 && get(d[0], "id") == id && get(d[0], "status") != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the added message is not listed: %s", l.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
