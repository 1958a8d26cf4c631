package dispatch

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/delivery"
)

// A retry stays in its tenant's message group, as the router's first
// message was: the queue keeps scheduling the tenant fairly.
func TestRetryKeepsTheTenantsMessageGroup(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	conn := connections.Connection{ID: "conn_1", TenantID: "ten_1", URL: "https://example.com/hook", Enabled: true,
		Secrets: []connections.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
	del := connections.Delivery{ID: "msg_1", TenantID: "ten_1", ConnectionID: "conn_1", Trigger: connections.TriggerEmail, Payload: []byte(`{"email":"a@b.c"}`)}
	q := &fakeQueue{}
	d := &Dispatcher{Store: newStore(conn), Sender: fakeSender{delivery.Result{Outcome: connections.OutcomeHTTP, Status: 500}}, Queue: q, QueueURL: "q",
		Now: func() time.Time { return now }, Jitter: func() float64 { return 0 }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	metricsOut = func([]byte) {}
	if _, err := d.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{message(t, connections.Task{Delivery: del}, 1)}}); err != nil {
		t.Fatal(err)
	}
	if len(q.sent) != 1 {
		t.Fatalf("%d retries queued, want 1", len(q.sent))
	}
	if g := aws.ToString(q.sent[0].MessageGroupId); g != "ten_1" {
		t.Fatalf("retry sent with MessageGroupId %q, want the tenant ten_1", g)
	}
}
