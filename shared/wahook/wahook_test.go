package wahook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// fakeLookup is the pointer items in memory.
type fakeLookup struct {
	phones map[string]tenancy.WhatsAppRoute
	wabas  map[string][]tenancy.WhatsAppRoute
	verify map[string]bool
}

func (f *fakeLookup) WhatsAppByPhone(_ context.Context, id string) (tenancy.WhatsAppRoute, error) {
	if r, ok := f.phones[id]; ok {
		return r, nil
	}
	return tenancy.WhatsAppRoute{}, apperr.NotFound("Phone number id", id)
}

func (f *fakeLookup) WhatsAppByWABA(_ context.Context, id string) ([]tenancy.WhatsAppRoute, error) {
	return f.wabas[id], nil
}

func (f *fakeLookup) WhatsAppVerifyToken(_ context.Context, hash string) (bool, error) {
	return f.verify[hash], nil
}

type fakeInbox struct {
	mu    sync.Mutex
	items []InboxItem
}

func (f *fakeInbox) PutInbox(_ context.Context, it InboxItem) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = append(f.items, it)
	return nil
}

type fakePorts struct {
	lookup *fakeLookup
	inbox  *fakeInbox
}

func (p fakePorts) WhatsAppLookup() Lookup                           { return p.lookup }
func (p fakePorts) WhatsAppInbox() Inbox                             { return p.inbox }
func (p fakePorts) Clock() func() time.Time                          { return time.Now }
func (p fakePorts) handler(fn func(Ports) http.Handler) http.Handler { return fn(p) }

const (
	phoneID   = "106540352242922"
	wabaID    = "102290129340398"
	appSecret = "0123456789abcdef0123456789abcdef"
)

func newPorts() fakePorts {
	rt := tenancy.WhatsAppRoute{TenantID: "ten_1", ChannelID: "ch_1", DefaultCountry: "PK", PhoneNumberID: phoneID, WABAID: wabaID, AppSecret: appSecret}
	return fakePorts{
		lookup: &fakeLookup{phones: map[string]tenancy.WhatsAppRoute{phoneID: rt}, wabas: map[string][]tenancy.WhatsAppRoute{wabaID: {rt}},
			verify: map[string]bool{tenancy.Hash("verify-me"): true}},
		inbox: &fakeInbox{},
	}
}

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// textCall is a call with n text messages from n/2 contacts.
func textCall(phone string, n int) string {
	var msgs, cts []string
	for i := range n {
		from := fmt.Sprintf("1650555%04d", i%max(1, n/2))
		msgs = append(msgs, fmt.Sprintf(`{"from":"%s","id":"wamid.%06d","timestamp":"1749416383","type":"text","text":{"body":"hello %d"}}`, from, i, i))
		if i < max(1, n/2) {
			cts = append(cts, fmt.Sprintf(`{"profile":{"name":"User %d"},"wa_id":"%s"}`, i, from))
		}
	}
	return `{"object":"whatsapp_business_account","entry":[{"id":"` + wabaID + `","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",` +
		`"metadata":{"display_phone_number":"15550783881","phone_number_id":"` + phone + `"},"contacts":[` + strings.Join(cts, ",") + `],"messages":[` + strings.Join(msgs, ",") + `]}}]}]}`
}

func post(h http.Handler, body, sig string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/v1/webhooks/whatsapp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestReceiveSignature(t *testing.T) {
	body := textCall(phoneID, 2)
	for _, tc := range []struct {
		name   string
		sig    string
		status int
		stored int
	}{
		{"good", sign(appSecret, body), 200, 1},
		{"bad", sign("another secret", body), 403, 0},
		{"missing", "", 403, 0},
		{"not hex", "sha256=zz", 403, 0},
		{"no prefix", strings.TrimPrefix(sign(appSecret, body), "sha256="), 403, 0},
		{"sha1", "sha1=" + strings.TrimPrefix(sign(appSecret, body), "sha256="), 403, 0},
		{"over another body", sign(appSecret, body+" "), 403, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPorts()
			w := post(p.handler(WhatsappReceive), body, tc.sig)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if len(p.inbox.items) != tc.stored {
				t.Fatalf("%d inbox items, want %d", len(p.inbox.items), tc.stored)
			}
			if tc.status != 200 {
				var env struct {
					Status  string `json:"status"`
					Message string `json:"message"`
					Data    []any  `json:"data"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Status != "error" || env.Message == "" || env.Data == nil {
					t.Fatalf("not the error envelope: %s", w.Body)
				}
				return
			}
			it := p.inbox.items[0]
			if it.TenantID != "ten_1" || it.ChannelID != "ch_1" || it.PhoneNumberID != phoneID || string(it.Body) != body {
				t.Fatalf("inbox item %+v", it)
			}
		})
	}
}

// An unknown phone number id is answered 200 and dropped: Meta retries
// any other answer for days.
func TestReceiveUnknownPhone(t *testing.T) {
	p := newPorts()
	body := textCall("999999999999999", 2)
	w := post(p.handler(WhatsappReceive), body, sign("whatever", body))
	if w.Code != 200 || len(p.inbox.items) != 0 {
		t.Fatalf("status %d, %d items: %s", w.Code, len(p.inbox.items), w.Body)
	}
	// Malformed JSON is a 400, a wrong Content-Type too: never a 5xx.
	for _, b := range []string{`{"entry":`, `[]`, `"x"`, `{"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":5}}}]}]}`} {
		if w := post(p.handler(WhatsappReceive), b, sign(appSecret, b)); w.Code != 400 {
			t.Errorf("%s: %d %s", b, w.Code, w.Body)
		}
	}
}

// A call with 1,000 messages is one inbox write: the answer does not wait
// for them to be recorded.
func TestReceiveThousandMessagesIsOneWrite(t *testing.T) {
	p := newPorts()
	body := textCall(phoneID, 1000)
	if len(body) > httpapi.MaxBodyBytes {
		t.Fatalf("the call is %d bytes", len(body))
	}
	w := post(p.handler(WhatsappReceive), body, sign(appSecret, body))
	if w.Code != 200 || len(p.inbox.items) != 1 {
		t.Fatalf("status %d, %d items", w.Code, len(p.inbox.items))
	}
}

// The template status webhook names the WABA only (entry[].id).
func TestReceiveTemplateStatusByWABA(t *testing.T) {
	p := newPorts()
	body := `{"object":"whatsapp_business_account","entry":[{"id":"` + wabaID + `","time":1,"changes":[{"field":"message_template_status_update",` +
		`"value":{"event":"APPROVED","message_template_id":594425479261596,"message_template_name":"template_name","message_template_language":"en","reason":"NONE"}}]}]}`
	if w := post(p.handler(WhatsappReceive), body, sign("wrong", body)); w.Code != 403 {
		t.Fatalf("bad signature: %d", w.Code)
	}
	w := post(p.handler(WhatsappReceive), body, sign(appSecret, body))
	if w.Code != 200 || len(p.inbox.items) != 1 || p.inbox.items[0].WABAID != wabaID {
		t.Fatalf("status %d, items %+v", w.Code, p.inbox.items)
	}
}

func TestVerifyHandshake(t *testing.T) {
	p := newPorts()
	h := p.handler(WhatsappVerify)
	for _, tc := range []struct {
		query  string
		status int
	}{
		{"hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444", 200},
		{"hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", 403},
		{"hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1", 403},
		{"hub.mode=subscribe&hub.challenge=1", 403},
		{"", 403},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/webhooks/whatsapp?"+tc.query, nil))
		if w.Code != tc.status {
			t.Errorf("%s: %d, want %d", tc.query, w.Code, tc.status)
			continue
		}
		if tc.status == 200 {
			if w.Body.String() != "1158201444" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") || w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("answer %q %v", w.Body, w.Header())
			}
		}
	}
}

// memMessages is the message store in memory, idempotent by wamid.
type memMessages struct {
	mu       sync.Mutex
	inbound  map[string]messages.Message
	calls    int
	statuses []string
	sent     map[string]bool // wamids of messages "we sent"
}

func (m *memMessages) Inbound(_ context.Context, msg messages.Message) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	k := msg.ChannelID + "#" + msg.ProviderID
	if _, ok := m.inbound[k]; ok {
		return true, nil
	}
	m.inbound[k] = msg
	return false, nil
}

func (m *memMessages) ApplyStatus(_ context.Context, _, _, wamid string, st messages.Status, _ time.Time, f *messages.Failure) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.sent[wamid] {
		return apperr.NotFound("Message", wamid)
	}
	s := wamid + ":" + string(st)
	if f != nil {
		s += ":" + f.Code + ":" + f.Message
	}
	m.statuses = append(m.statuses, s)
	return nil
}

type memMarks struct {
	mu sync.Mutex
	m  map[string]bool
}

func (k *memMarks) Seen(_ context.Context, t, c, w string) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.m[t+"#"+c+"#"+w], nil
}

func (k *memMarks) Mark(_ context.Context, t, c, w string, _ time.Time) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[t+"#"+c+"#"+w] = true
	return nil
}

type memTemplates struct {
	mu      sync.Mutex
	updates []TemplateStatusUpdate
}

func (m *memTemplates) TemplateStatus(_ context.Context, _, _ string, u TemplateStatusUpdate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.updates = append(m.updates, u)
	return nil
}

// memContacts is a contacts.Store with the few methods the intake uses.
type memContacts struct {
	contacts.Store
	mu sync.Mutex
	m  map[string]contacts.Contact
}

func (s *memContacts) GetContact(_ context.Context, t, c, id string) (contacts.Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ct, ok := s.m[t+"#"+c+"#"+id]; ok {
		return ct, nil
	}
	return contacts.Contact{}, apperr.NotFound("Contact", id)
}

func (s *memContacts) CreateContact(_ context.Context, c contacts.Contact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := c.TenantID + "#" + c.ChannelID + "#" + c.ID
	if _, ok := s.m[k]; ok {
		return apperr.Exists("exists")
	}
	s.m[k] = c
	return nil
}

func (s *memContacts) UpdateContact(_ context.Context, prev, next contacts.Contact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[next.TenantID+"#"+next.ChannelID+"#"+next.ID] = next
	return nil
}

func (s *memContacts) ListFields(context.Context, string) ([]contacts.Field, error) { return nil, nil }

type fixture struct {
	in   *Intake
	msgs *memMessages
	tpls *memTemplates
	cts  *memContacts
	item InboxItem
}

func newIntake() fixture {
	f := fixture{msgs: &memMessages{inbound: map[string]messages.Message{}, sent: map[string]bool{}}, tpls: &memTemplates{},
		cts: &memContacts{m: map[string]contacts.Contact{}}}
	f.in = &Intake{Contacts: &contacts.Service{Store: f.cts, Now: time.Now,
		Phone: func(raw, _ string) (string, error) {
			if !strings.HasPrefix(raw, "+") || len(raw) < 8 {
				return "", fmt.Errorf("not a phone")
			}
			return raw, nil
		}},
		Messages: f.msgs, Templates: f.tpls, Marks: &memMarks{m: map[string]bool{}}}
	f.item = InboxItem{TenantID: "ten_1", ChannelID: "ch_1", DefaultCountry: "PK", PhoneNumberID: phoneID, WABAID: wabaID}
	return f
}

func (f fixture) process(t *testing.T, body string) Stats {
	t.Helper()
	var b Body
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	st, err := f.in.Process(context.Background(), f.item, b)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The same wamid posted twice is recorded once; the contact is made once,
// with its phone and profile name.
func TestIntakeDedupesByWamid(t *testing.T) {
	f := newIntake()
	body := textCall(phoneID, 4)
	st := f.process(t, body)
	if st.Inbound != 4 || st.Duplicate != 0 {
		t.Fatalf("first: %+v", st)
	}
	st = f.process(t, body)
	if st.Inbound != 0 || st.Duplicate != 4 {
		t.Fatalf("second: %+v", st)
	}
	if f.msgs.calls != 4 || len(f.msgs.inbound) != 4 {
		t.Fatalf("message store: %d calls, %d messages", f.msgs.calls, len(f.msgs.inbound))
	}
	c, ok := f.cts.m["ten_1#ch_1#16505550000"]
	if !ok || c.Fields["phone"] != "+16505550000" || c.Fields["firstName"] != "User 0" {
		t.Fatalf("contact %+v", c)
	}
	for _, m := range f.msgs.inbound {
		if m.Direction != messages.Inbound || m.Status != messages.StatusReceived || m.Type != messages.TypeText ||
			m.Text == nil || !strings.HasPrefix(m.Text.Body, "hello ") || m.ContactID == "" || m.CreatedAt != 1749416383000 {
			t.Fatalf("message %+v", m)
		}
	}
	// Another channel's call with the same wamids is its own.
	f.item.ChannelID = "ch_2"
	if st := f.process(t, body); st.Inbound != 4 {
		t.Fatalf("other channel: %+v", st)
	}
}

// A call's changes about another phone number are not this channel's.
func TestIntakeReadsOnlyItsPhone(t *testing.T) {
	f := newIntake()
	if st := f.process(t, textCall("555", 2)); st.Inbound != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestIntakeTypesStatusesTemplates(t *testing.T) {
	f := newIntake()
	f.msgs.sent["wamid.out1"] = true
	body := `{"object":"whatsapp_business_account","entry":[{"id":"` + wabaID + `","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",` +
		`"metadata":{"phone_number_id":"` + phoneID + `"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"923001234567"}],"messages":[` +
		`{"from":"923001234567","id":"wamid.img","timestamp":"1749416383","type":"image","image":{"id":"1","mime_type":"image/jpeg","caption":"my cat"}},` +
		`{"from":"923001234567","id":"wamid.loc","timestamp":"1749416384","type":"location","location":{"latitude":24.86,"longitude":67.01,"name":"Karachi"}},` +
		`{"from":"923001234567","id":"wamid.btn","timestamp":"1749416385","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"b1","title":"Yes"}}},` +
		`{"from":"923001234567","id":"wamid.unk","timestamp":"1749416386","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown"}]}],` +
		`"statuses":[{"id":"wamid.out1","status":"sent","timestamp":"1749416380","recipient_id":"923001234567"},` +
		`{"id":"wamid.out1","status":"failed","timestamp":"1749416381","recipient_id":"923001234567","errors":[{"code":131047,"title":"Re-engagement message","error_data":{"details":"More than 24 hours have passed"}}]},` +
		`{"id":"wamid.notours","status":"delivered","timestamp":"1749416381","recipient_id":"1"}]}},` +
		`{"field":"message_template_status_update","value":{"event":"REJECTED","message_template_id":594425479261596,"message_template_name":"t1","message_template_language":"en","reason":"INVALID_FORMAT"}}]}]}`
	st := f.process(t, body)
	if st.Inbound != 4 || st.Statuses != 2 || st.Templates != 1 || st.Skipped != 1 {
		t.Fatalf("%+v", st)
	}
	want := map[string]string{"wamid.img": "image:my cat", "wamid.loc": "location:24.86,67.01 Karachi", "wamid.btn": "interactive:Yes", "wamid.unk": "unsupported:Message type unknown"}
	for id, w := range want {
		m := f.msgs.inbound["ch_1#"+id]
		if got := string(m.Type) + ":" + m.Text.Body; got != w {
			t.Errorf("%s: %q, want %q", id, got, w)
		}
	}
	if got := strings.Join(f.msgs.statuses, "|"); got != "wamid.out1:sent|wamid.out1:failed:131047:Re-engagement message: More than 24 hours have passed" {
		t.Errorf("statuses %s", got)
	}
	if len(f.tpls.updates) != 1 || f.tpls.updates[0] != (TemplateStatusUpdate{WABAID: wabaID, TemplateID: "594425479261596", Name: "t1", Language: "en", Event: "REJECTED", Reason: "INVALID_FORMAT"}) {
		t.Errorf("templates %+v", f.tpls.updates)
	}
}

// A failing message store fails the item (the stream retries it), and
// nothing is marked: the retry records the message.
func TestIntakeStoreFailureIsRetried(t *testing.T) {
	f := newIntake()
	fail := &failing{memMessages: f.msgs, n: 1}
	f.in.Messages = fail
	var b Body
	_ = json.Unmarshal([]byte(textCall(phoneID, 1)), &b)
	if _, err := f.in.Process(context.Background(), f.item, b); err == nil {
		t.Fatal("no error")
	}
	if st := f.process(t, textCall(phoneID, 1)); st.Inbound != 1 {
		t.Fatalf("retry: %+v", st)
	}
}

type failing struct {
	*memMessages
	n int
}

func (f *failing) Inbound(ctx context.Context, m messages.Message) (bool, error) {
	if f.n > 0 {
		f.n--
		return false, fmt.Errorf("store down")
	}
	return f.memMessages.Inbound(ctx, m)
}

// A contact's text is Meta's: a NUL in it does not refuse the call (Meta
// would retry it for days).
func TestReceiveTakesAnyText(t *testing.T) {
	p := newPorts()
	body := strings.Replace(textCall(phoneID, 1), `"hello 0"`, `"a\u0000b \ud83d\ude00"`, 1)
	if !strings.Contains(body, `\u0000`) {
		t.Fatal("no NUL in the call")
	}
	if w := post(p.handler(WhatsappReceive), body, sign(appSecret, body)); w.Code != 200 || len(p.inbox.items) != 1 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// A call naming more ids than MaxIDsPerCall is refused before any lookup.
func TestReceiveBoundsLookups(t *testing.T) {
	p := newPorts()
	var changes []string
	for i := range MaxIDsPerCall + 1 {
		changes = append(changes, fmt.Sprintf(`{"field":"messages","value":{"metadata":{"phone_number_id":"%d"}}}`, 1000+i))
	}
	body := `{"entry":[{"id":"1","changes":[` + strings.Join(changes, ",") + `]}]}`
	lookups := 0
	p.lookup.phones = nil
	counting := &countingLookup{fakeLookup: p.lookup, n: &lookups}
	h := WhatsappReceive(fakeCounting{fakePorts: p, l: counting})
	if w := post(h, body, sign(appSecret, body)); w.Code != 400 || lookups != 0 {
		t.Fatalf("%d, %d lookups: %s", w.Code, lookups, w.Body)
	}
	body = `{"entry":[{"id":"1","changes":[` + strings.Join(changes[:MaxIDsPerCall], ",") + `]}]}`
	if w := post(h, body, sign(appSecret, body)); w.Code != 200 || lookups != MaxIDsPerCall {
		t.Fatalf("%d, %d lookups: %s", w.Code, lookups, w.Body)
	}
}

type countingLookup struct {
	*fakeLookup
	n *int
}

func (c *countingLookup) WhatsAppByPhone(ctx context.Context, id string) (tenancy.WhatsAppRoute, error) {
	*c.n++
	return c.fakeLookup.WhatsAppByPhone(ctx, id)
}

type fakeCounting struct {
	fakePorts
	l Lookup
}

func (p fakeCounting) WhatsAppLookup() Lookup { return p.l }
