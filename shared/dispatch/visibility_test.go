package dispatch

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/provision"
)

// TestHideNowKeepsMessage: hiding a message for no time at all (a wait
// that is already over) must leave it on the queue, to come back at once
// or nearly. fauxqs 2.4.1 keeping its queues on disk (make run, make
// soak) answers 500 to ChangeMessageVisibility with VisibilityTimeout 0
// after it has already taken the message out of flight without putting it
// back: the message is gone until the emulator restarts. The dispatcher
// hides for at least a second.
func TestHideNowKeepsMessage(t *testing.T) {
	s, err := emulators.Start(t.Context(), emulators.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	ctx := t.Context()
	client := sqs.NewFromConfig(s.AWSConfig())
	q, err := provision.EnsureQueues(ctx, client, "hide-")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.DeliveriesURL), MessageBody: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	receive := func(wait int32) []sqstypes.Message {
		t.Helper()
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.DeliveriesURL), MaxNumberOfMessages: 1, WaitTimeSeconds: wait})
		if err != nil {
			t.Fatal(err)
		}
		return out.Messages
	}
	got := receive(0)
	if len(got) != 1 {
		t.Fatalf("received %d messages, want 1", len(got))
	}
	var logged strings.Builder
	d := New(nil, nil, client, q.DeliveriesURL)
	d.Log = slog.New(slog.NewTextHandler(&logged, nil))
	for _, wait := range []time.Duration{0, -time.Second} {
		d.hide(ctx, events.SQSMessage{MessageId: aws.ToString(got[0].MessageId), ReceiptHandle: aws.ToString(got[0].ReceiptHandle)}, wait)
		if logged.String() != "" {
			t.Errorf("hide(%v): %s", wait, logged.String())
		}
		// Back within a few seconds (the queue's own visibility timeout is
		// minutes).
		deadline := time.Now().Add(10 * time.Second)
		got = nil
		for len(got) == 0 && time.Now().Before(deadline) {
			got = receive(2)
		}
		if len(got) != 1 {
			t.Fatalf("hide(%v): the message did not come back", wait)
		}
	}
}
