package pollers

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/startmsg/chatbackend/infra/local/emulators"
)

// sqsEnv gives the test's deliveries queue a 1 s visibility timeout, so
// failed messages come back quickly.
func sqsEnv(t *testing.T) *emulators.TestEnv {
	e := emulators.ForTest(t)
	if _, err := e.SQS.SetQueueAttributes(t.Context(), &sqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(e.Queues.DeliveriesURL),
		Attributes: map[string]string{"VisibilityTimeout": "1"},
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

func send(t *testing.T, e *emulators.TestEnv, bodies ...string) {
	t.Helper()
	var entries []types.SendMessageBatchRequestEntry
	for _, b := range bodies {
		entries = append(entries, types.SendMessageBatchRequestEntry{
			Id:          aws.String(b),
			MessageBody: aws.String(b),
			MessageAttributes: map[string]types.MessageAttributeValue{
				"kind": {DataType: aws.String("String"), StringValue: aws.String("test")},
			},
		})
	}
	out, err := e.SQS.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(e.Queues.DeliveriesURL), Entries: entries})
	if err != nil || len(out.Failed) > 0 {
		t.Fatalf("send: %v %+v", err, out)
	}
}

// deliveries is a handler that passes every message on and answers each
// batch with respond's response.
func deliveries(respond func(call int, ev events.SQSEvent) (events.SQSEventResponse, error)) (func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), <-chan events.SQSMessage) {
	ch := make(chan events.SQSMessage, 100)
	var mu sync.Mutex
	n := 0
	return func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		mu.Lock()
		n++
		call := n
		mu.Unlock()
		for _, m := range ev.Records {
			ch <- m
		}
		return respond(call, ev)
	}, ch
}

func sqsPoller(t *testing.T, e *emulators.TestEnv, h func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)) *SQSPoller {
	return &SQSPoller{
		Client:   e.SQS,
		QueueURL: e.Queues.DeliveriesURL,
		QueueARN: e.Queues.DeliveriesARN,
		WaitTime: time.Second,
		Handler:  h,
		Logger:   testLogger(t),
	}
}

// waitEmpty waits until the queue holds no messages, visible or in flight.
func waitEmpty(t *testing.T, e *emulators.TestEnv) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := e.SQS.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
			QueueUrl:       aws.String(e.Queues.DeliveriesURL),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
		})
		if err != nil {
			t.Fatal(err)
		}
		if out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not empty: %v", out.Attributes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSQSPollerDeletesSuccessesKeepsFailures(t *testing.T) {
	e := sqsEnv(t)
	send(t, e, "a", "b", "c")
	h, got := deliveries(func(_ int, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		for _, m := range ev.Records {
			if m.Body == "b" && m.Attributes["ApproximateReceiveCount"] == "1" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
		}
		return resp, nil
	})
	run(t, sqsPoller(t, e, h).Run)

	first := map[string]events.SQSMessage{}
	for range 3 {
		m := receive(t, got, "message")
		first[m.Body] = m
	}
	m := first["a"]
	sum := md5.Sum([]byte("a"))
	if m.EventSource != "aws:sqs" || m.EventSourceARN != e.Queues.DeliveriesARN || m.AWSRegion != emulators.Region ||
		m.Md5OfBody != hex.EncodeToString(sum[:]) || m.MessageId == "" || m.ReceiptHandle == "" {
		t.Errorf("message shape %+v", m)
	}
	for _, a := range []string{"ApproximateReceiveCount", "SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"} {
		if m.Attributes[a] == "" {
			t.Errorf("attribute %s missing: %v", a, m.Attributes)
		}
	}
	if a := m.MessageAttributes["kind"]; aws.ToString(a.StringValue) != "test" || a.DataType != "String" {
		t.Errorf("message attribute %+v", a)
	}

	again := receive(t, got, "failed message again")
	if again.Body != "b" || again.MessageId != first["b"].MessageId || again.Attributes["ApproximateReceiveCount"] != "2" {
		t.Errorf("redelivered %s (receive count %s), want b the second time", again.Body, again.Attributes["ApproximateReceiveCount"])
	}
	waitEmpty(t, e) // nothing in flight either: a and c were deleted
}

func TestSQSPollerFunctionErrorAndPanicKeepAll(t *testing.T) {
	e := sqsEnv(t)
	send(t, e, "a", "b")
	h, got := deliveries(func(call int, _ events.SQSEvent) (events.SQSEventResponse, error) {
		switch call {
		case 1:
			panic("boom")
		case 2:
			return events.SQSEventResponse{}, errors.New("function error")
		}
		return events.SQSEventResponse{}, nil
	})
	p := sqsPoller(t, e, h)
	p.Concurrency = 1
	run(t, p.Run)

	count := map[string]int{}
	for range 6 { // both messages, three times each: panic, error, success
		count[receive(t, got, "message").Body]++
	}
	if count["a"] != 3 || count["b"] != 3 {
		t.Errorf("deliveries %v, want each message 3 times", count)
	}
	waitEmpty(t, e)
}

// lossyProxy stands between the SDK and the SQS emulator and loses the
// answer to the first ReceiveMessage that hands out messages: the queue has
// put them in flight, the client gets the status line, the headers and half
// the body, then a connection reset. That is how a batch went missing under
// load (a 200 whose body read failed with "use of closed network
// connection", which the SDK retried).
type lossyProxy struct {
	t         *testing.T
	target    string
	transport *http.Transport
	mu        sync.Mutex
	lost      []string // IDs of the messages in the lost answer
}

func (p *lossyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, answer, ok := forward(w, r, p.target, p.transport)
	if !ok {
		return
	}
	if r.Header.Get("X-Amz-Target") == "AmazonSQS.ReceiveMessage" && resp.StatusCode == http.StatusOK && p.loseOnce(answer) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			p.t.Errorf("hijack: %v", err)
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", resp.Header.Get("Content-Type"), len(answer))
		buf.Write(answer[:len(answer)/2])
		if err := buf.Flush(); err != nil {
			p.t.Errorf("write half an answer: %v", err)
		}
		_ = conn.(*net.TCPConn).SetLinger(0) // close with a reset
		conn.Close()
		return
	}
	reply(w, resp, answer)
}

// loseOnce reports whether answer, a ReceiveMessage answer, is the one to
// lose: the first that holds messages.
func (p *lossyProxy) loseOnce(answer []byte) bool {
	var out struct{ Messages []struct{ MessageId string } }
	if err := json.Unmarshal(answer, &out); err != nil || len(out.Messages) == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lost != nil {
		return false
	}
	for _, m := range out.Messages {
		p.lost = append(p.lost, m.MessageId)
	}
	return true
}

func (p *lossyProxy) lostIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lost)
}

// attemptCount is the number of HTTP attempts of one SDK call.
type attemptCount struct{ n atomic.Int32 }

type attemptCountKey struct{}

// countReceiveAttempts makes every ReceiveMessage call through the client
// report how many times it was sent.
func countReceiveAttempts(report func(attempts int)) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		if err := st.Initialize.Add(middleware.InitializeMiddlewareFunc("count-attempts",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if _, ok := in.Parameters.(*sqs.ReceiveMessageInput); !ok {
					return next.HandleInitialize(ctx, in)
				}
				c := &attemptCount{}
				out, md, err := next.HandleInitialize(context.WithValue(ctx, attemptCountKey{}, c), in)
				report(int(c.n.Load()))
				return out, md, err
			}), middleware.Before); err != nil {
			return err
		}
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("count-attempt",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if c, ok := ctx.Value(attemptCountKey{}).(*attemptCount); ok {
					c.n.Add(1)
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	}
}

// logRecorder keeps the messages of the records logged through it (and
// passes them on).
type logRecorder struct {
	slog.Handler
	mu   *sync.Mutex
	msgs *[]string
}

func (l logRecorder) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	*l.msgs = append(*l.msgs, r.Message)
	l.mu.Unlock()
	return l.Handler.Handle(ctx, r)
}

func (l logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return logRecorder{l.Handler.WithAttrs(as), l.mu, l.msgs}
}

func (l logRecorder) WithGroup(name string) slog.Handler {
	return logRecorder{l.Handler.WithGroup(name), l.mu, l.msgs}
}

// TestSQSPollerLostReceiveAnswer is the regression test of a batch that
// stalled the connector benchmark: a ReceiveMessage whose answer is lost on
// the way must not be re-sent by the SDK (the retry receives other
// messages, and the poller never learns that a batch is in flight). The
// poller reports the loss and polls on; the lost batch comes back after
// its visibility timeout, as in AWS, and is handled then.
func TestSQSPollerLostReceiveAnswer(t *testing.T) {
	e := sqsEnv(t) // 1 s visibility timeout
	proxy := &lossyProxy{t: t, target: e.Stack.SQSEndpoint, transport: &http.Transport{}}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	t.Cleanup(proxy.transport.CloseIdleConnections)

	var (
		mu       sync.Mutex
		attempts []int // per ReceiveMessage call
		logged   []string
	)
	cfg := e.Config.Copy()
	cfg.APIOptions = append(cfg.APIOptions, countReceiveAttempts(func(n int) {
		mu.Lock()
		attempts = append(attempts, n)
		mu.Unlock()
	}))
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	send(t, e, "a", "b", "c")
	h, got := deliveries(func(int, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	})
	p := sqsPoller(t, e, h)
	p.Client = client
	p.Concurrency = 1
	p.Logger = slog.New(logRecorder{testLogger(t).Handler(), &mu, &logged})
	stop := run(t, p.Run)

	handed := map[string]events.SQSMessage{}
	for range 3 {
		m := receive(t, got, "message")
		handed[m.MessageId] = m
	}
	waitEmpty(t, e)
	stop()

	lost := proxy.lostIDs()
	if len(lost) != 3 {
		t.Fatalf("lost answer held %d messages, want all 3", len(lost))
	}
	for _, id := range lost {
		m, ok := handed[id]
		if !ok {
			t.Errorf("message %s of the lost answer never handled", id)
		} else if n := m.Attributes["ApproximateReceiveCount"]; n != "2" {
			t.Errorf("message %s (%s) handled at receive %s, want 2: after its visibility timeout", id, m.Body, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, n := range attempts {
		if n > 1 {
			t.Errorf("ReceiveMessage call %d sent %d times, want once: a re-sent receive strands the batch of a lost answer", i+1, n)
		}
	}
	if !slices.ContainsFunc(logged, func(m string) bool { return strings.Contains(m, "receive answer lost") }) {
		t.Errorf("the lost receive answer was not reported; logged %q", logged)
	}
}

// TestSQSPollerDrain: with Drain, a batch in hand when Run's context ends
// finishes with a live context (its message is deleted), and Run returns
// after it; without Drain its context ends at once and the message stays.
func TestSQSPollerDrain(t *testing.T) {
	for _, drain := range []time.Duration{0, 5 * time.Second} {
		t.Run(fmt.Sprint("drain=", drain), func(t *testing.T) {
			e := emulators.ForTest(t) // the 180 s visibility timeout: a kept message does not come back
			send(t, e, "in-hand")
			started := make(chan struct{})
			var handlerErr atomic.Value
			p := sqsPoller(t, e, func(ctx context.Context, _ events.SQSEvent) (events.SQSEventResponse, error) {
				close(started)
				select {
				case <-time.After(500 * time.Millisecond): // an attempt under way
				case <-ctx.Done():
				}
				handlerErr.Store(fmt.Sprint(ctx.Err()))
				return events.SQSEventResponse{}, ctx.Err()
			})
			p.Drain = drain
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("no batch")
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			out, err := e.SQS.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(e.Queues.DeliveriesURL),
				AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
			if err != nil {
				t.Fatal(err)
			}
			kept := out.Attributes["ApproximateNumberOfMessagesNotVisible"]
			if drain > 0 && (handlerErr.Load() != "<nil>" || kept != "0") {
				t.Errorf("with Drain: handler context %v, %s message(s) kept; want it to finish and the message deleted", handlerErr.Load(), kept)
			}
			if drain == 0 && (handlerErr.Load() == "<nil>" || kept != "1") {
				t.Errorf("without Drain: handler context %v, %s message(s) kept; want it cancelled and the message kept", handlerErr.Load(), kept)
			}
		})
	}
}

// forward sends r on to target and reads the whole answer; on failure it
// answers 502 itself and reports false.
func forward(w http.ResponseWriter, r *http.Request, target string, transport *http.Transport) (*http.Response, []byte, bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return nil, nil, false
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return nil, nil, false
	}
	req.Header = r.Header.Clone()
	resp, err := transport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return nil, nil, false
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return nil, nil, false
	}
	return resp, answer, true
}

// reply passes a forwarded answer on unchanged.
func reply(w http.ResponseWriter, resp *http.Response, answer []byte) {
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}
