// Package sandbox is a local stand-in for Meta's WhatsApp Cloud API: the
// provider sandbox that `make run` and the tests point the system at. It
// answers the Graph API paths the system calls with the Cloud API's own
// bodies and error objects:
//
//   - POST /{version}/{phone_number_id}/messages: accepted with a fresh
//     "wamid." id; 190 for a missing or unknown token, 100 for malformed
//     input, 131047 for a free-form message to a contact outside the
//     24-hour window, 132001 for a template it does not know (approved),
//     132000 for a wrong parameter count and 132012 for a parameter that
//     does not fit the template (header, body and button components are
//     checked against it: components.go), 130429 over the configured rate;
//   - GET and POST /{version}/{phone_number_id}/whatsapp_business_profile;
//   - GET and POST /{version}/{waba_id}/message_templates (approved at
//     once, announced by a message_template_status_update webhook).
//
// After each accepted send it posts the message's status webhooks (sent,
// delivered, read; failed with 131026 for a number marked undeliverable)
// to the configured webhook URL, signed with X-Hub-Signature-256 as Meta
// signs them, retrying a failed delivery with backoff as Meta does. Fault
// injection (a share of sends answered 429 or 500, or left hanging) serves
// the tests and benchmarks. Its own endpoints, under /_sandbox/, let a test
// make a contact write in (an inbound message webhook, which opens the
// window), change the faults and read what it "sent"; / shows the same as
// a page. State is in memory and safe for concurrent use.
package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/startmsg/chatbackend/shared/whatsapp"
)

// Faults are the share of send requests (after the token check) that
// fail on purpose, in percent: answered 429 (code 130429) or 500 (code
// 131000), or left without an answer for HangFor (a client's timeout).
// None of them records a message.
type Faults struct {
	Fail429Pct float64       `json:"fail_429_pct"`
	Fail500Pct float64       `json:"fail_500_pct"`
	HangPct    float64       `json:"hang_pct"`
	HangFor    time.Duration `json:"-"`
	// HangMS is HangFor in milliseconds, as the /_sandbox/faults endpoint
	// reads and writes it.
	HangMS int64 `json:"hang_ms"`
	// RatePerSecond, when above 0, answers sends over that many per
	// second (per phone number id) with 130429.
	RatePerSecond int `json:"rate_per_second"`
	// OutOfOrderStatuses posts a message's statuses last first (read,
	// delivered, sent), as Meta may: a receiver must not move a status
	// back. DuplicateWebhooks posts every status webhook twice, as Meta
	// may: a receiver must deduplicate.
	OutOfOrderStatuses bool `json:"out_of_order_statuses"`
	DuplicateWebhooks  bool `json:"duplicate_webhooks"`
}

func (f *Faults) normalize() error {
	for _, p := range []float64{f.Fail429Pct, f.Fail500Pct, f.HangPct} {
		if p < 0 || p > 100 {
			return fmt.Errorf("a fault share must be 0 to 100 percent, not %v", p)
		}
	}
	if f.Fail429Pct+f.Fail500Pct+f.HangPct > 100 {
		return fmt.Errorf("the fault shares add up to over 100 percent")
	}
	if f.RatePerSecond < 0 || f.HangMS < 0 {
		return fmt.Errorf("rate_per_second and hang_ms must not be negative")
	}
	if f.HangMS > 0 {
		f.HangFor = time.Duration(f.HangMS) * time.Millisecond
	}
	if f.HangFor <= 0 {
		f.HangFor = 30 * time.Second
	}
	f.HangMS = f.HangFor.Milliseconds()
	return nil
}

// Options configure a sandbox.
type Options struct {
	// AppSecret signs the webhook calls (X-Hub-Signature-256).
	AppSecret string
	// WebhookURL receives them (ours: <API>/v1/webhooks/whatsapp); none
	// are posted when it is empty.
	WebhookURL string
	// Tokens are the access tokens accepted; when empty, any well-formed
	// bearer token is.
	Tokens []string
	// WABAID is the WhatsApp Business Account id of the webhook entries
	// (default 100000000000001); DisplayPhoneNumber the business number's
	// display form in their metadata (default 15550001234).
	WABAID             string
	DisplayPhoneNumber string
	// Templates are approved from the start.
	Templates []Template
	Faults    Faults
	// Statuses posted after an accepted send, in order (default sent,
	// delivered, read), StatusDelay apart (default 20 ms).
	Statuses    []string
	StatusDelay time.Duration
	// WebhookRetries are the waits before each retry of a webhook call
	// that failed (default 1 s, 5 s, 30 s, 2 min, 10 min, 30 min, 1 h;
	// Meta retries for up to 7 days with growing intervals).
	WebhookRetries []time.Duration
	// WebhookTimeout bounds one webhook call (default 10 s).
	WebhookTimeout time.Duration
	// AsyncWindowErrors reports 131047 as Meta often does: the send is
	// accepted and a failed status webhook follows. By default the send
	// itself is refused with the error object.
	AsyncWindowErrors bool
	// Window is the customer service window (default 24 h).
	Window time.Duration
	// Now and Seed make time and the fault draws repeatable in tests.
	Now  func() time.Time
	Seed uint64
	// HTTPClient posts the webhooks.
	HTTPClient *http.Client
	// TwilioAccounts are the Twilio account SIDs accepted, with their auth
	// tokens (twilio.go); when empty, any AC… SID with any 32-hex token is.
	TwilioAccounts map[string]string
	// MaxRecords bounds the messages and webhook calls kept for the page
	// (default 100,000 and 1,000): the oldest go first.
	MaxRecords int
}

// Template is a template the sandbox knows.
type Template struct {
	ID         string                          `json:"id"`
	Name       string                          `json:"name"`
	Language   string                          `json:"language"`
	Category   string                          `json:"category"`
	Status     string                          `json:"status"`
	Components []whatsapp.TemplateDefComponent `json:"components,omitempty"`
	WABAID     string                          `json:"waba_id"`
}

// Record is one accepted send.
type Record struct {
	WAMID         string          `json:"wamid"`
	PhoneNumberID string          `json:"phone_number_id"`
	To            string          `json:"to"`
	Type          string          `json:"type"`
	Summary       string          `json:"summary"`
	Opaque        string          `json:"biz_opaque_callback_data,omitempty"`
	Status        string          `json:"status"`
	At            time.Time       `json:"at"`
	Request       json.RawMessage `json:"request"`
}

// WebhookCall is one webhook delivery attempt.
type WebhookCall struct {
	Kind    string    `json:"kind"` // status:<status>, message, template
	Ref     string    `json:"ref"`  // the wamid or template id
	Attempt int       `json:"attempt"`
	Status  int       `json:"http_status"`
	Error   string    `json:"error,omitempty"`
	At      time.Time `json:"at"`
}

// Stats count what the sandbox did.
type Stats struct {
	Requests        int            `json:"requests"`
	Accepted        int            `json:"accepted"`
	Refused         map[string]int `json:"refused"` // by Meta code
	Faults429       int            `json:"faults_429"`
	Faults500       int            `json:"faults_500"`
	Hangs           int            `json:"hangs"`
	RateLimited     int            `json:"rate_limited"`
	Duplicates      int            `json:"duplicates"` // sends whose biz_opaque_callback_data was seen before
	WebhooksOK      int            `json:"webhooks_ok"`
	WebhooksFailed  int            `json:"webhook_attempts_failed"`
	WebhooksDropped int            `json:"webhooks_given_up"`
}

// Sandbox is the fake Cloud API. Close stops its webhook deliveries.
type Sandbox struct {
	opt Options
	hc  *http.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	rng        *mrand.Rand
	faults     Faults
	tokens     map[string]bool
	records    []Record
	byWAMID    map[string]int // index into records (offset by dropped)
	dropped    int
	opaque     map[string]int
	windows    map[string]time.Time // wa_id → last inbound
	undeliver  map[string]bool
	templates  []Template
	profiles   map[string]whatsapp.Profile
	calls      []WebhookCall
	stats      Stats
	rateWindow map[string]rateCount
	nextTplID  int64
	twilio     []TwilioRecord
	landlines  map[string]bool
}

type rateCount struct {
	second int64
	n      int
}

// New returns a sandbox with opt's settings.
func New(opt Options) (*Sandbox, error) {
	if opt.WABAID == "" {
		opt.WABAID = "100000000000001"
	}
	if opt.DisplayPhoneNumber == "" {
		opt.DisplayPhoneNumber = "15550001234"
	}
	if opt.Statuses == nil {
		opt.Statuses = []string{"sent", "delivered", "read"}
	}
	for _, s := range opt.Statuses {
		if s != "sent" && s != "delivered" && s != "read" {
			return nil, fmt.Errorf("status %q: want sent, delivered or read", s)
		}
	}
	if opt.StatusDelay <= 0 {
		opt.StatusDelay = 20 * time.Millisecond
	}
	if opt.WebhookRetries == nil {
		opt.WebhookRetries = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour}
	}
	if opt.WebhookTimeout <= 0 {
		opt.WebhookTimeout = 10 * time.Second
	}
	if opt.Window <= 0 {
		opt.Window = 24 * time.Hour
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MaxRecords <= 0 {
		opt.MaxRecords = 100_000
	}
	if err := opt.Faults.normalize(); err != nil {
		return nil, err
	}
	seed := opt.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	hc := opt.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: opt.WebhookTimeout}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sandbox{
		opt: opt, hc: hc, ctx: ctx, cancel: cancel,
		rng: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), faults: opt.Faults,
		tokens: map[string]bool{}, byWAMID: map[string]int{}, opaque: map[string]int{}, windows: map[string]time.Time{},
		undeliver: map[string]bool{}, profiles: map[string]whatsapp.Profile{}, rateWindow: map[string]rateCount{},
		landlines: map[string]bool{},
		stats:     Stats{Refused: map[string]int{}}, nextTplID: 900000000000001,
	}
	for _, t := range opt.Tokens {
		s.tokens[t] = true
	}
	for _, t := range opt.Templates {
		if _, err := s.addTemplate(t, false); err != nil {
			cancel()
			return nil, err
		}
	}
	return s, nil
}

// Close stops the webhook deliveries in flight and waits for them.
func (s *Sandbox) Close() {
	s.cancel()
	s.wg.Wait()
}

// Wait waits until every webhook delivery started so far has ended
// (delivered or given up): tests call it before counting.
func (s *Sandbox) Wait() { s.wg.Wait() }

// SetFaults replaces the fault settings.
func (s *Sandbox) SetFaults(f Faults) error {
	if err := f.normalize(); err != nil {
		return err
	}
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	return nil
}

// CurrentFaults returns the fault settings.
func (s *Sandbox) CurrentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// OpenWindow records that contact waID wrote at t: free-form messages to
// it are accepted for the window's length after.
func (s *Sandbox) OpenWindow(waID string, t time.Time) {
	s.mu.Lock()
	s.windows[waID] = t
	s.mu.Unlock()
}

// CloseWindow forgets that waID wrote.
func (s *Sandbox) CloseWindow(waID string) {
	s.mu.Lock()
	delete(s.windows, waID)
	s.mu.Unlock()
}

// SetUndeliverable marks a number whose messages are accepted and then
// fail (a failed status webhook with 131026).
func (s *Sandbox) SetUndeliverable(waID string, on bool) {
	s.mu.Lock()
	if on {
		s.undeliver[waID] = true
	} else {
		delete(s.undeliver, waID)
	}
	s.mu.Unlock()
}

// Messages returns the accepted sends kept, oldest first.
func (s *Sandbox) Messages() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.records...)
}

// Calls returns the webhook delivery attempts kept, oldest first.
func (s *Sandbox) Calls() []WebhookCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WebhookCall(nil), s.calls...)
}

// Stats returns the counters.
func (s *Sandbox) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Refused = map[string]int{}
	for k, v := range s.stats.Refused {
		st.Refused[k] = v
	}
	return st
}

// Sends returns how many accepted sends carried biz_opaque_callback_data
// id (our message id): more than 1 is a message sent twice.
func (s *Sandbox) Sends(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opaque[id]
}

// Reset forgets messages, windows, webhook calls and counters (templates,
// profiles and faults stay).
func (s *Sandbox) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records, s.byWAMID, s.dropped, s.opaque = nil, map[string]int{}, 0, map[string]int{}
	s.windows, s.undeliver, s.calls = map[string]time.Time{}, map[string]bool{}, nil
	s.stats = Stats{Refused: map[string]int{}}
	s.rateWindow = map[string]rateCount{}
	s.twilio, s.landlines = nil, map[string]bool{}
}

// newWAMID is a fresh WhatsApp message id: "wamid." and base64 of random
// bytes, as Meta's look.
func newWAMID() string {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	return "wamid." + base64.StdEncoding.EncodeToString(b)
}

// record keeps an accepted send; call with s.mu held.
func (s *Sandbox) record(r Record) {
	s.records = append(s.records, r)
	s.byWAMID[r.WAMID] = s.dropped + len(s.records) - 1
	if r.Opaque != "" {
		if s.opaque[r.Opaque] > 0 {
			s.stats.Duplicates++
		}
		s.opaque[r.Opaque]++
	}
	if over := len(s.records) - s.opt.MaxRecords; over > 0 {
		for _, old := range s.records[:over] {
			delete(s.byWAMID, old.WAMID)
		}
		s.records = append([]Record(nil), s.records[over:]...)
		s.dropped += over
	}
}

// statusRank orders a record's statuses: it shows the furthest reached.
var statusRank = map[string]int{"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}

// setStatus moves a kept record's status forward.
func (s *Sandbox) setStatus(wamid, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.byWAMID[wamid]; ok && i-s.dropped >= 0 && i-s.dropped < len(s.records) {
		if r := &s.records[i-s.dropped]; statusRank[status] > statusRank[r.Status] {
			r.Status = status
		}
	}
}

func (s *Sandbox) logCall(c WebhookCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	if over := len(s.calls) - 1000; over > 0 {
		s.calls = append([]WebhookCall(nil), s.calls[over:]...)
	}
	if c.Status >= 200 && c.Status < 300 {
		s.stats.WebhooksOK++
	} else {
		s.stats.WebhooksFailed++
	}
}

// deliver posts one webhook payload, retrying on the schedule until it
// is answered 2xx, the schedule ends or the sandbox closes. It reports
// the first attempt's HTTP status (0: no answer).
func (s *Sandbox) deliver(kind, ref string, p whatsapp.WebhookPayload) int {
	if s.opt.WebhookURL == "" {
		return 0
	}
	body, _ := json.Marshal(p)
	first := 0
	for attempt := 0; ; attempt++ {
		status, err := s.post(body)
		c := WebhookCall{Kind: kind, Ref: ref, Attempt: attempt + 1, Status: status, At: s.opt.Now()}
		if err != nil {
			c.Error = err.Error()
		}
		s.logCall(c)
		if attempt == 0 {
			first = status
		}
		if status >= 200 && status < 300 {
			return first
		}
		if attempt >= len(s.opt.WebhookRetries) {
			s.mu.Lock()
			s.stats.WebhooksDropped++
			s.mu.Unlock()
			return first
		}
		select {
		case <-s.ctx.Done():
			return first
		case <-time.After(s.opt.WebhookRetries[attempt]):
		}
	}
}

func (s *Sandbox) post(body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", s.opt.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(s.opt.AppSecret, body))
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sink [512]byte
	for {
		if _, err := resp.Body.Read(sink[:]); err != nil {
			break
		}
	}
	return resp.StatusCode, nil
}

// payload wraps one change in Meta's envelope.
func (s *Sandbox) payload(field string, value any) whatsapp.WebhookPayload {
	raw, _ := json.Marshal(value)
	return whatsapp.WebhookPayload{Object: "whatsapp_business_account", Entry: []whatsapp.WebhookEntry{{
		ID: s.opt.WABAID, Time: s.opt.Now().Unix(), Changes: []whatsapp.WebhookChange{{Field: field, Value: raw}},
	}}}
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// postStatuses sends a message's status webhooks in order, in the
// background.
func (s *Sandbox) postStatuses(r Record, failure *whatsapp.StatusError) {
	if s.opt.WebhookURL == "" && failure == nil {
		// Nothing to post, but the record moves on as the webhooks would say.
		s.setStatus(r.WAMID, s.opt.Statuses[len(s.opt.Statuses)-1])
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		conv := &whatsapp.Conversation{ID: conversationID(r.To)}
		conv.Origin.Type = "service"
		if r.Type == "template" {
			conv.Origin.Type = "marketing"
		}
		s.mu.Lock()
		f := s.faults
		s.mu.Unlock()
		steps := slices.Clone(s.opt.Statuses)
		if f.OutOfOrderStatuses {
			slices.Reverse(steps)
		}
		if failure != nil {
			steps = []string{"failed"}
		}
		for _, st := range steps {
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(s.opt.StatusDelay):
			}
			status := whatsapp.Status{ID: r.WAMID, Status: st, Timestamp: unix(s.opt.Now()), RecipientID: r.To, BizOpaqueCallbackData: r.Opaque}
			if st == "failed" {
				status.Errors = []whatsapp.StatusError{*failure}
			} else {
				status.Conversation = conv
				status.Pricing = &whatsapp.Pricing{Billable: true, PricingModel: "PMP", Category: conv.Origin.Type}
			}
			v := whatsapp.MessagesValue{MessagingProduct: "whatsapp",
				Metadata: whatsapp.Metadata{DisplayPhoneNumber: s.opt.DisplayPhoneNumber, PhoneNumberID: r.PhoneNumberID},
				Statuses: []whatsapp.Status{status}}
			p := s.payload("messages", v)
			s.setStatus(r.WAMID, st)
			s.deliver("status:"+st, r.WAMID, p)
			if f.DuplicateWebhooks {
				s.deliver("status:"+st+" (again)", r.WAMID, p)
			}
		}
	}()
}

func conversationID(waID string) string {
	return fmt.Sprintf("%032x", []byte(waID))[:32]
}

// Inbound makes contact from (a wa_id) write text to phone number
// phoneNumberID: it opens the contact's window and posts the inbound
// message webhook, returning the message's wamid and the first delivery
// attempt's HTTP status (0 when there is no webhook URL or no answer);
// a failed delivery is retried in the background.
func (s *Sandbox) Inbound(phoneNumberID, from, name, text string) (string, int) {
	now := s.opt.Now()
	s.OpenWindow(from, now)
	wamid := newWAMID()
	c := whatsapp.WebhookContact{WaID: from}
	c.Profile.Name = name
	v := whatsapp.MessagesValue{MessagingProduct: "whatsapp",
		Metadata: whatsapp.Metadata{DisplayPhoneNumber: s.opt.DisplayPhoneNumber, PhoneNumberID: phoneNumberID},
		Contacts: []whatsapp.WebhookContact{c},
		Messages: []whatsapp.InboundMessage{{From: from, ID: wamid, Timestamp: unix(now), Type: "text", Text: &whatsapp.TextObject{Body: text}}}}
	p := s.payload("messages", v)
	if s.opt.WebhookURL == "" {
		return wamid, 0
	}
	// The first attempt now, so a test sees its answer; retries after.
	body, _ := json.Marshal(p)
	status, err := s.post(body)
	call := WebhookCall{Kind: "message", Ref: wamid, Attempt: 1, Status: status, At: now}
	if err != nil {
		call.Error = err.Error()
	}
	s.logCall(call)
	if (status < 200 || status > 299) && len(s.opt.WebhookRetries) > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(s.opt.WebhookRetries[0]):
			}
			s.deliver("message", wamid, p)
		}()
	}
	return wamid, status
}
