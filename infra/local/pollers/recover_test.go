package pollers

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/infra/local/emulators"
)

// TestSQSPollerLostAnswerComesBackSoon: the queue has its real visibility
// timeout (queue.VisibilityTimeout, minutes). The first ReceiveMessage
// answer that holds messages is cut off in its body, after the queue has
// hidden them: the poller must get them again within seconds, not after
// the queue's visibility timeout (the Messenger benchmark counted 983 of
// 1,000 within its two minutes: two lost answers, 17 messages hidden).
func TestSQSPollerLostAnswerComesBackSoon(t *testing.T) {
	e := emulators.ForTest(t)
	proxy := &lossyProxy{t: t, target: e.Stack.SQSEndpoint, transport: &http.Transport{}}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	t.Cleanup(proxy.transport.CloseIdleConnections)
	client := sqs.NewFromConfig(e.Config, func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	send(t, e, "a", "b", "c")
	h, got := deliveries(func(int, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	})
	var (
		mu     sync.Mutex
		logged []string
	)
	p := sqsPoller(t, e, h)
	p.Client = client
	p.Concurrency = 1
	p.ReceiveVisibility = 2 * time.Second
	p.Logger = slog.New(logRecorder{testLogger(t).Handler(), &mu, &logged})
	start := time.Now()
	stop := run(t, p.Run)

	handled := map[string]events.SQSMessage{}
	deadline := time.After(30 * time.Second)
	for len(handled) < 3 {
		select {
		case m := <-got:
			handled[m.MessageId] = m
		case <-deadline:
			t.Fatalf("after 30 s, %d of 3 messages handled: the lost answer's messages are still hidden", len(handled))
		}
	}
	took := time.Since(start)
	waitEmpty(t, e)
	stop()

	lost := proxy.lostIDs()
	if len(lost) != 3 {
		t.Fatalf("lost answer held %d messages, want all 3", len(lost))
	}
	for _, id := range lost {
		if n := handled[id].Attributes["ApproximateReceiveCount"]; n != "2" {
			t.Errorf("message %s handled at receive %s, want 2 (once lost, once handled)", id, n)
		}
	}
	t.Logf("the lost answer's messages handled %s after the start", took.Round(10*time.Millisecond))
	mu.Lock()
	defer mu.Unlock()
	if !slices.ContainsFunc(logged, func(m string) bool { return strings.Contains(m, "receive answer lost") }) {
		t.Errorf("the lost receive answer was not reported; logged %q", logged)
	}
}

// slowProxy passes requests to the SQS emulator and holds back the first
// ReceiveMessage answer that holds messages for hold.
type slowProxy struct {
	target    string
	transport *http.Transport
	hold      time.Duration
	mu        sync.Mutex
	held      []string // IDs of the messages in the held answer
}

func (p *slowProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, answer, ok := forward(w, r, p.target, p.transport)
	if !ok {
		return
	}
	if r.Header.Get("X-Amz-Target") == "AmazonSQS.ReceiveMessage" && p.holdOnce(answer) {
		time.Sleep(p.hold)
	}
	reply(w, resp, answer)
}

func (p *slowProxy) holdOnce(answer []byte) bool {
	var out struct{ Messages []struct{ MessageId string } }
	if err := json.Unmarshal(answer, &out); err != nil || len(out.Messages) == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held != nil {
		return false
	}
	for _, m := range out.Messages {
		p.held = append(p.held, m.MessageId)
	}
	return true
}

// TestSQSPollerLateAnswerLeftToTheQueue: an answer that arrives after its
// messages' short visibility ended (they are back on the queue, and
// another receive has them) is not handled: each message is handled once.
func TestSQSPollerLateAnswerLeftToTheQueue(t *testing.T) {
	e := emulators.ForTest(t)
	proxy := &slowProxy{target: e.Stack.SQSEndpoint, transport: &http.Transport{}, hold: 4 * time.Second}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	t.Cleanup(proxy.transport.CloseIdleConnections)
	client := sqs.NewFromConfig(e.Config, func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	send(t, e, "a", "b", "c")
	h, got := deliveries(func(int, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	})
	p := sqsPoller(t, e, h)
	p.Client = client
	p.Concurrency = 2
	p.ReceiveVisibility = time.Second
	stop := run(t, p.Run)

	handled := map[string]int{}
	for range 3 {
		m := receive(t, got, "message")
		handled[m.MessageId]++
		if n := m.Attributes["ApproximateReceiveCount"]; n != "2" {
			t.Errorf("message %s handled at receive %s, want 2: after the held answer's short visibility", m.Body, n)
		}
	}
	// The held answer arrives 4 s after the queue handed it out.
	quiet(t, got, 6*time.Second, "second handling")
	waitEmpty(t, e)
	stop()
	if held := proxy.held; len(held) != 3 {
		t.Fatalf("held answer had %d messages, want all 3", len(held))
	}
	for id, n := range handled {
		if n != 1 {
			t.Errorf("message %s handled %d times", id, n)
		}
	}
}
