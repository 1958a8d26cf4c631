package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/delivery"
)

// memStore is a small in-memory connections.Store.
type memStore struct {
	mu       sync.Mutex
	conns    map[string]connections.Connection
	attempts []connections.Attempt
	dead     []connections.Dead
	results  []bool
	disabled map[string]string
	getErr   error
	deadErr  error
	gets     int
}

func newStore(cs ...connections.Connection) *memStore {
	m := &memStore{conns: map[string]connections.Connection{}, disabled: map[string]string{}}
	for _, c := range cs {
		m.conns[c.ID] = c
	}
	return m
}

func (m *memStore) CreateConnection(_ context.Context, c connections.Connection) error { return nil }
func (m *memStore) GetConnection(_ context.Context, _, id string) (connections.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	if m.getErr != nil {
		return connections.Connection{}, m.getErr
	}
	c, ok := m.conns[id]
	if !ok {
		return c, apperr.NotFound("Item", "")
	}
	return c, nil
}
func (m *memStore) ListConnections(context.Context, string) ([]connections.Connection, error) {
	return nil, nil
}
func (m *memStore) PutConnection(context.Context, connections.Connection) error { return nil }
func (m *memStore) DeleteConnection(context.Context, string, string) error      { return nil }
func (m *memStore) RecordResult(_ context.Context, _, id string, success bool, at time.Time) (connections.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.results = append(m.results, success)
	c := m.conns[id]
	if success {
		c.FailingSince = 0
	} else if c.FailingSince == 0 {
		c.FailingSince = at.Unix()
	}
	m.conns[id] = c
	return c, nil
}
func (m *memStore) Disable(_ context.Context, _, id, reason string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.disabled[id] = reason
	return nil
}
func (m *memStore) AddAttempt(_ context.Context, _, _ string, a connections.Attempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts = append(m.attempts, a)
	return nil
}
func (m *memStore) Attempts(context.Context, string, string, int) ([]connections.Attempt, error) {
	return nil, nil
}
func (m *memStore) FindAttempt(context.Context, string, string, string) (connections.Attempt, error) {
	return connections.Attempt{}, apperr.NotFound("Item", "")
}
func (m *memStore) AddDead(_ context.Context, d connections.Dead) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.deadErr != nil {
		return m.deadErr
	}
	m.dead = append(m.dead, d)
	return nil
}
func (m *memStore) ListDead(context.Context, string, int, string) (connections.DeadPage, error) {
	return connections.DeadPage{}, nil
}
func (m *memStore) GetDead(context.Context, string, string) (connections.Dead, error) {
	return connections.Dead{}, apperr.NotFound("Item", "")
}
func (m *memStore) DeleteDead(context.Context, string, string) error { return nil }

var _ connections.Store = (*memStore)(nil)

type fakeSender struct{ res delivery.Result }

func (f fakeSender) Send(context.Context, string, http.Header, []byte) delivery.Result { return f.res }

// fakeQueue records the visibility changes and the messages sent.
type fakeQueue struct {
	mu      sync.Mutex
	vis     []int32
	sent    []sqstypes.SendMessageBatchRequestEntry
	calls   int      // SendMessageBatch calls
	fail    bool     // ChangeMessageVisibility fails
	sendErr error    // SendMessageBatch fails
	refuse  []string // bodies containing one of these are refused
}

func (q *fakeQueue) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.vis = append(q.vis, in.VisibilityTimeout)
	if q.fail {
		return nil, errors.New("sqs down")
	}
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (q *fakeQueue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	if q.sendErr != nil {
		return nil, q.sendErr
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if slices.ContainsFunc(q.refuse, func(s string) bool { return strings.Contains(aws.ToString(e.MessageBody), s) }) {
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError")})
			continue
		}
		q.sent = append(q.sent, e)
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("new-" + aws.ToString(e.Id))})
	}
	return out, nil
}

// tasks decodes the messages sent.
func (q *fakeQueue) tasks(t *testing.T) []connections.Task {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []connections.Task
	for _, e := range q.sent {
		var task connections.Task
		if err := json.Unmarshal([]byte(aws.ToString(e.MessageBody)), &task); err != nil {
			t.Fatal(err)
		}
		out = append(out, task)
	}
	return out
}

func (q *fakeQueue) delays() []int32 {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []int32
	for _, e := range q.sent {
		out = append(out, e.DelaySeconds)
	}
	return out
}

// message is task as the queue hands it out for the receives-th time.
func message(t *testing.T, task connections.Task, receives int) events.SQSMessage {
	b, err := json.Marshal(task)
	if err != nil {
		t.Fatal(err)
	}
	return events.SQSMessage{MessageId: "m-" + task.ID, ReceiptHandle: "rh-" + task.ID, Body: string(b),
		Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(receives)}}
}

func TestHandle(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	conn := connections.Connection{ID: "conn_1", TenantID: "ten_1", URL: "https://example.com/hook", Enabled: true,
		Secrets: []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
	del := connections.Delivery{ID: "msg_1", TenantID: "ten_1", ConnectionID: "conn_1", Trigger: connections.TriggerEmail, Payload: []byte(`{"email":"a@b.c"}`)}
	ok := delivery.Result{Outcome: connections.OutcomeSuccess, Status: 200}
	http500 := delivery.Result{Outcome: connections.OutcomeHTTP, Status: 500}
	cases := []struct {
		name string
		res  delivery.Result
		// made is the attempts the message says were made; receives its
		// receive count (1 when 0).
		made, receives int
		notBefore      time.Time
		conn           *connections.Connection
		body           string
		getErr         error
		deadErr        error
		refuse         bool // SQS refuses the retry's message
		wantFailed     bool
		wantVis        []int32
		wantDelay      []int32 // the retry's message: its delay
		wantNotBefore  time.Time
		wantDead       int
		wantAtt        int
		wantDisable    string
		wantResults    []bool
		// wantOutcome is the attempt's outcome when not the sender's.
		wantOutcome connections.Outcome
	}{
		{name: "success writes no health change", res: ok, wantAtt: 1},
		{name: "first success after failures clears the clock", res: ok, made: 2, conn: &connections.Connection{ID: "conn_1", TenantID: "ten_1", URL: conn.URL, Enabled: true, Secrets: conn.Secrets, FailingSince: now.Add(-time.Hour).Unix()},
			wantAtt: 1, wantResults: []bool{true}},
		{name: "5xx is queued again 5 s later", res: http500, wantDelay: []int32{5}, wantAtt: 1, wantResults: []bool{false}},
		{name: "third attempt waits 30 min: delayed 15 min, due in 30", res: http500, made: 2, wantDelay: []int32{900}, wantNotBefore: now.Add(30 * time.Minute), wantAtt: 1, wantResults: []bool{false}},
		{name: "timeout is retried", res: delivery.Result{Outcome: connections.OutcomeTimeout}, made: 1, wantDelay: []int32{300}, wantAtt: 1, wantResults: []bool{false}},
		{name: "Retry-After is honoured", res: delivery.Result{Outcome: connections.OutcomeHTTP, Status: 429, RetryAfter: 2 * time.Minute}, wantDelay: []int32{120}, wantAtt: 1, wantResults: []bool{false}},
		{name: "a long Retry-After is finished by hiding", res: delivery.Result{Outcome: connections.OutcomeHTTP, Status: 429, RetryAfter: 3 * time.Hour}, wantDelay: []int32{900}, wantNotBefore: now.Add(3 * time.Hour), wantAtt: 1, wantResults: []bool{false}},
		{name: "last attempt ends dead", res: http500, made: 7, wantDead: 1, wantAtt: 1, wantResults: []bool{false}},
		{name: "last attempt ends dead however often the message was received", res: http500, made: 7, receives: 15, wantDead: 1, wantAtt: 1, wantResults: []bool{false}},
		{name: "404 is final", res: delivery.Result{Outcome: connections.OutcomeHTTP, Status: 404}, wantDead: 1, wantAtt: 1, wantResults: []bool{false}},
		{name: "410 switches the connection off", res: delivery.Result{Outcome: connections.OutcomeHTTP, Status: 410}, wantDead: 1, wantAtt: 1, wantDisable: "410", wantResults: []bool{false}},
		{name: "failing for 5 days", res: http500, made: 1, conn: &connections.Connection{ID: "conn_1", TenantID: "ten_1", URL: conn.URL, Enabled: true, Secrets: conn.Secrets, FailingSince: now.Add(-5*24*time.Hour - time.Minute).Unix()},
			wantDelay: []int32{300}, wantAtt: 1, wantDisable: "5 days"},
		{name: "deleted connection drops the delivery", res: ok, conn: &connections.Connection{ID: "other"}},
		{name: "disabled connection keeps the delivery dead", res: ok, conn: &connections.Connection{ID: "conn_1", Enabled: false}, wantDead: 1},
		{name: "unreadable message is dropped", res: ok, body: "{nope"},
		{name: "store failure keeps the message, 5 s", res: ok, getErr: errors.New("throttled"), wantFailed: true, wantVis: []int32{5}},
		{name: "store failure at the 4th receive: 40 s", res: ok, receives: 4, getErr: errors.New("throttled"), wantFailed: true, wantVis: []int32{40}},
		{name: "store failure at the 16th receive: 15 min", res: ok, receives: 16, getErr: errors.New("throttled"), wantFailed: true, wantVis: []int32{900}},
		{name: "a connection without a usable secret is not signed, and not retried", res: ok, conn: &connections.Connection{ID: "conn_1", TenantID: "ten_1", URL: conn.URL, Enabled: true},
			wantDead: 1, wantAtt: 1, wantResults: []bool{false}, wantOutcome: connections.OutcomeSigning},
		{name: "a dead delivery that cannot be kept stays queued", res: http500, made: 7, deadErr: errors.New("throttled"), wantFailed: true, wantVis: []int32{5}, wantAtt: 1, wantResults: []bool{false}},
		{name: "a retry SQS refuses keeps the message, hidden for the wait", res: http500, made: 1, refuse: true, wantFailed: true, wantVis: []int32{300}, wantAtt: 1, wantResults: []bool{false}},
		{name: "received before it is due: hidden, no attempt", res: ok, made: 3, receives: 1, notBefore: now.Add(2 * time.Hour), wantFailed: true, wantVis: []int32{7200}},
		{name: "received when due: attempted", res: ok, made: 3, receives: 2, notBefore: now.Add(500 * time.Millisecond), wantAtt: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cn := conn
			if c.conn != nil {
				cn = *c.conn
			}
			store := newStore(cn)
			store.getErr, store.deadErr = c.getErr, c.deadErr
			q := &fakeQueue{}
			if c.refuse {
				q.refuse = []string{`"msg_1"`}
			}
			d := &Dispatcher{Store: store, Sender: fakeSender{c.res}, Queue: q, QueueURL: "q", Now: func() time.Time { return now },
				Jitter: func() float64 { return 0 }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			metricsOut = func([]byte) {}
			task := connections.Task{Delivery: del, Attempts: c.made}
			if !c.notBefore.IsZero() {
				task.NotBefore = c.notBefore.UnixMilli()
			}
			m := message(t, task, max(c.receives, 1))
			if c.body != "" {
				m.Body = c.body
			}
			out, err := d.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{m}})
			if err != nil {
				t.Fatal(err)
			}
			if failed := len(out.BatchItemFailures) == 1; failed != c.wantFailed {
				t.Fatalf("failed = %v, want %v", failed, c.wantFailed)
			}
			if !slices.Equal(q.vis, c.wantVis) {
				t.Fatalf("visibility %v, want %v", q.vis, c.wantVis)
			}
			if got := q.delays(); !slices.Equal(got, c.wantDelay) {
				t.Fatalf("retries queued with delays %v, want %v", got, c.wantDelay)
			}
			for _, next := range q.tasks(t) {
				// The retry carries the delivery whole and the count of
				// attempts made, this one included.
				if next.ID != del.ID || string(next.Payload) != string(del.Payload) || next.ConnectionID != del.ConnectionID || next.Attempts != c.made+1 {
					t.Fatalf("retry %+v, want the delivery with %d attempts made", next, c.made+1)
				}
				var want int64
				if !c.wantNotBefore.IsZero() {
					want = c.wantNotBefore.UnixMilli()
				}
				if next.NotBefore != want {
					t.Fatalf("retry not before %d, want %d", next.NotBefore, want)
				}
			}
			if len(store.dead) != c.wantDead || len(store.attempts) != c.wantAtt {
				t.Fatalf("dead %d attempts %d, want %d %d", len(store.dead), len(store.attempts), c.wantDead, c.wantAtt)
			}
			if !slices.Equal(store.results, c.wantResults) {
				t.Fatalf("results %v, want %v", store.results, c.wantResults)
			}
			wantOutcome := c.res.Outcome
			if c.wantOutcome != "" {
				wantOutcome = c.wantOutcome
			}
			if c.wantDead == 1 {
				dd := store.dead[0]
				if dd.ID != "msg_1" || dd.ConnectionID != "conn_1" || dd.TenantID != "ten_1" || dd.DiedAt != now.Unix() || string(dd.Payload) != string(del.Payload) {
					t.Fatalf("dead %+v", dd)
				}
				if c.wantAtt == 1 && (dd.LastAttempt.Outcome != wantOutcome || dd.LastAttempt.Attempt != c.made+1) {
					t.Fatalf("dead delivery's last attempt %+v, want outcome %s", dd.LastAttempt, wantOutcome)
				}
			}
			reason := store.disabled["conn_1"]
			if (c.wantDisable == "") != (reason == "") || (c.wantDisable != "" && !contains(reason, c.wantDisable)) {
				t.Fatalf("disabled %q, want %q", reason, c.wantDisable)
			}
			if c.wantAtt == 1 {
				a := store.attempts[0]
				retried := len(c.wantDelay) > 0 || c.refuse
				if a.WebhookID != "msg_1" || a.Attempt != c.made+1 || a.RequestBody != string(del.Payload) || (a.Final == retried && c.deadErr == nil) {
					t.Fatalf("attempt %+v, want attempt %d", a, c.made+1)
				}
				if a.Outcome != wantOutcome || (wantOutcome == c.res.Outcome && a.HTTPCode != c.res.Status) {
					t.Fatalf("attempt outcome %s %d, want %s %d", a.Outcome, a.HTTPCode, wantOutcome, c.res.Status)
				}
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestBatchInParallel: one slow target does not hold up the others.
func TestBatchInParallel(t *testing.T) {
	store := newStore(connections.Connection{ID: "c", TenantID: "t", URL: "https://x", Enabled: true, Secrets: []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}})
	var mu sync.Mutex
	inFlight, peak := 0, 0
	sender := senderFunc(func() delivery.Result {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return delivery.Result{Outcome: connections.OutcomeSuccess, Status: 200}
	})
	d := &Dispatcher{Store: store, Sender: sender, Queue: &fakeQueue{}, Now: time.Now, Jitter: func() float64 { return 0 }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	metricsOut = func([]byte) {}
	var ev events.SQSEvent
	for i := range 10 {
		ev.Records = append(ev.Records, message(t, connections.Task{Delivery: connections.Delivery{ID: "msg_" + strconv.Itoa(i), TenantID: "t", ConnectionID: "c", Payload: []byte("{}")}}, 1))
	}
	if _, err := d.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if peak != 10 {
		t.Fatalf("%d attempts at once, want the whole batch (10)", peak)
	}
	if store.gets != 1 {
		t.Fatalf("%d reads of the connection for one batch, want 1", store.gets)
	}
}

type senderFunc func() delivery.Result

func (f senderFunc) Send(context.Context, string, http.Header, []byte) delivery.Result { return f() }
