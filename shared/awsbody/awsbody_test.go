package awsbody_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
)

func TestMain(m *testing.M) { emulators.Main(m) }

// TestReceiveAnswerNotCutOff replays, against the SQS emulator, the
// schedule that cut off ReceiveMessage answers under load: the writer
// goroutine of the connection is slow to run again after it has written
// the request body (here: held until the answer has begun to arrive, and
// 100 ms more), and the answer arrives in pieces. The SDK closes the
// request body when the answer's headers are in; with the SDK's own body
// the writer's last read of it then fails, and net/http closes the
// connection under the answer: "use of closed network connection", its 10
// messages hidden in flight. Both configs of the stack's clients (the
// benchmarks' and tests' emulators.AWSConfig; make run's and Lambda's
// lambdaapp.LoadConfig) have APIOption and must read the whole answer.
func TestReceiveAnswerNotCutOff(t *testing.T) {
	e := emulators.ForTest(t)
	t.Run("emulators.AWSConfig", func(t *testing.T) { receiveSlowly(t, e, e.Config.Copy()) })
	t.Run("lambdaapp.LoadConfig", func(t *testing.T) {
		for _, kv := range e.Stack.Env() {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		cfg, err := lambdaapp.LoadConfig(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		receiveSlowly(t, e, cfg)
	})
}

// receiveSlowly queues 10 messages of 2 KB and receives them with a client
// on cfg over slowConn connections.
func receiveSlowly(t *testing.T, e *emulators.TestEnv, cfg aws.Config) {
	var entries []types.SendMessageBatchRequestEntry
	for i := range 10 {
		entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)),
			MessageBody: aws.String(fmt.Sprintf("%d:%s", i, strings.Repeat("x", 2000)))})
	}
	if out, err := e.SQS.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(e.Queues.DeliveriesURL), Entries: entries}); err != nil || len(out.Failed) > 0 {
		t.Fatalf("send: %v %+v", err, out)
	}

	var stalls atomic.Int32
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		d := &net.Dialer{Timeout: 5 * time.Second}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &slowConn{Conn: c, answered: make(chan struct{}), stalls: &stalls}, nil
		}
	})
	// Sent once, as the pollers send it: a retry would hide the loss.
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.Retryer = aws.NopRetryer{} })
	out, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.Queues.DeliveriesURL),
		MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60})
	if stalls.Load() == 0 {
		t.Fatal("the request body was never written apart from its headers: the schedule was not replayed")
	}
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	if len(out.Messages) != 10 {
		t.Errorf("received %d messages, want 10", len(out.Messages))
	}
}

// slowConn plays a loaded machine on the client's side of a connection:
// the write of a request body (a write that does not start a request)
// returns only once the answer has begun to arrive and 100 ms more have
// passed, and the answer is read 512 bytes at a time, 20 ms apart.
type slowConn struct {
	net.Conn
	once     sync.Once
	answered chan struct{}
	stalls   *atomic.Int32
}

func (c *slowConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err == nil && !bytes.HasPrefix(p, []byte("POST ")) {
		c.stalls.Add(1)
		select {
		case <-c.answered:
			time.Sleep(100 * time.Millisecond)
		case <-time.After(5 * time.Second):
		}
	}
	return n, err
}

func (c *slowConn) Read(p []byte) (int, error) {
	if len(p) > 512 {
		p = p[:512]
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.once.Do(func() { close(c.answered) })
		time.Sleep(20 * time.Millisecond)
	}
	return n, err
}
