package events_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	appevents "github.com/startmsg/chatbackend/events"
	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/routes/accesstest"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// sampleQueued is the queued message the outbox sample names: the test
// stores it, as message-send would, before the sender takes the task.
const sampleQueued = "msg_samplequeued"

func queuedSample(t *testing.T, d *wiring.Env) {
	t.Helper()
	m := messages.Message{ID: sampleQueued, TenantID: appevents.SampleTenant, ChannelID: appevents.SampleWAChannel, ChannelKind: "whatsapp",
		ContactID: appevents.SampleWAContact, Direction: messages.Outbound, Type: messages.TypeTemplate, To: appevents.SampleWAPhone,
		Template: &messages.Template{Name: appevents.SampleWATemplate, Namespace: appevents.SampleWANamespace, Language: "en"},
		Status:   messages.StatusQueued, CreatedAt: time.Now().UnixMilli()}
	if err := d.MessageStore().CreateMessage(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// checkIntake checks what the WhatsApp intake recorded of the inbox
// sample: the contact's one inbound message, and its window open.
func checkIntake(t *testing.T, d *wiring.Env) {
	t.Helper()
	ctx := context.Background()
	page, err := d.MessageStore().ListContactMessages(ctx, appevents.SampleTenant, appevents.SampleWAChannel, appevents.SampleWAContact, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var inbound []messages.Message
	for _, m := range page.Items {
		if m.Direction == messages.Inbound {
			inbound = append(inbound, m)
		}
	}
	if len(inbound) != 1 || inbound[0].Text == nil || inbound[0].Text.Body != "Hi, is my order on its way?" {
		t.Fatalf("inbound messages %+v, want the sample's one", inbound)
	}
	if last, err := d.MessageStore().LastInbound(ctx, appevents.SampleTenant, appevents.SampleWAChannel, appevents.SampleWAPhone); err != nil || last == 0 {
		t.Fatalf("last inbound %d %v", last, err)
	}
}

// checkSent checks the outbox sample's message: sent, with the sandbox's
// wamid, and sent once.
func checkSent(t *testing.T, d *wiring.Env, sent func(string) int) {
	t.Helper()
	m, err := d.MessageStore().GetMessage(context.Background(), appevents.SampleTenant, sampleQueued)
	if err != nil || m.Status != messages.StatusSent || !strings.HasPrefix(m.ProviderID, "wamid.") || m.Attempts != 1 {
		t.Fatalf("message %+v %v, want sent with a wamid", m, err)
	}
	if n := sent(sampleQueued); n != 1 {
		t.Fatalf("the sandbox took the message %d times", n)
	}
}

// TestMessagingEventSamples runs the WhatsApp inbox stream sample through
// the intake's handler (twice: a retried batch records nothing more) and
// the outbox sample through the sender's, which sends to the provider
// sandbox, auditing their SDK calls against their Access bits.
func TestMessagingEventSamples(t *testing.T) {
	sb, _ := providerSandbox(t)
	env := emulators.ForTest(t)
	vars := map[string]string{appenv.TableName: env.Table, appenv.OpsTableName: env.OpsTable, appenv.QueueURL: env.Queues.DeliveriesURL,
		appenv.DLQURL: env.Queues.DLQURL, appenv.OutboxURL: env.Queues.OutboxURL, appenv.OutboxDLQURL: env.Queues.OutboxDLQURL}
	d := wiring.FromConfig(accesstest.Instrument(env.Config), func(k string) string { return vars[k] })
	seed(t, d)
	res := accesstest.Resources{Table: env.Table, OpsTable: env.OpsTable, Queue: env.Queues.DeliveriesURL, DLQ: env.Queues.DLQURL,
		Outbox: env.Queues.OutboxURL, OutboxDLQ: env.Queues.OutboxDLQURL}
	for fn, start := range map[string]string{"whatsapp-intake": "StartStream", "sender": "StartQueue"} {
		if got, _, _, _ := mainCall(t, fn); got != start {
			t.Fatalf("functions/%s/main.go calls %s, want %s", fn, got, start)
		}
	}
	granted := func(fn string, rec *accesstest.Recorder) {
		t.Helper()
		calls := rec.Calls()
		if len(calls) == 0 {
			t.Errorf("%s: no SDK call recorded", fn)
		}
		for _, m := range accesstest.MissingFor(fn, eventAccess(t, fn), calls, res) {
			t.Errorf("%s: not granted in AWS: %s", fn, m)
		}
	}
	ctx := context.Background()

	raw, err := appevents.Samples.ReadFile("stream/whatsapp-inbox.json")
	if err != nil {
		t.Fatal(err)
	}
	ictx, rec := accesstest.WithRecorder(ctx)
	intake := lambda.NewHandler(registry.Streams["whatsapp-intake"](d))
	for range 2 {
		if out, err := intake.Invoke(ictx, raw); err != nil || !slices.Contains([]string{`{"batchItemFailures":null}`, `{"batchItemFailures":[]}`}, string(out)) {
			t.Fatalf("intake: %s %v", out, err)
		}
	}
	granted("whatsapp-intake", rec)
	checkIntake(t, d)

	queuedSample(t, d)
	raw, err = appevents.Samples.ReadFile("sqs/outbox-message.json")
	if err != nil {
		t.Fatal(err)
	}
	sctx, rec := accesstest.WithRecorder(ctx)
	out, err := lambda.NewHandler(registry.Queues["sender"](d)).Invoke(sctx, raw)
	if err != nil || !slices.Contains([]string{`{"batchItemFailures":null}`, `{"batchItemFailures":[]}`}, string(out)) {
		t.Fatalf("sender: %s %v", out, err)
	}
	granted("sender", rec)
	checkSent(t, d, sb.Sends)
}

// TestMessagingEventSamplesUnderRIE runs the same samples through the
// WhatsApp intake's and the sender's bootstraps under the emulator.
func TestMessagingEventSamplesUnderRIE(t *testing.T) {
	tenv := emulators.ForTest(t)
	env := rieEnv(t, tenv)
	sb := front.cur.Load()
	vars := map[string]string{appenv.TableName: tenv.Table, appenv.OpsTableName: tenv.OpsTable}
	d := wiring.FromConfig(tenv.Config, func(k string) string { return vars[k] })
	ctx := context.Background()
	ok := []string{`{"batchItemFailures":null}`, `{"batchItemFailures":[]}`}

	intake := underRIE(t, "whatsapp-intake", env)
	raw, _ := appevents.Samples.ReadFile("stream/whatsapp-inbox.json")
	for range 2 {
		if out, err := intake.Invoke(ctx, raw); err != nil || !slices.Contains(ok, string(out)) {
			t.Fatalf("intake: %s %v", out, err)
		}
	}
	checkIntake(t, d)

	queuedSample(t, d)
	snd := underRIE(t, "sender", env)
	raw, _ = appevents.Samples.ReadFile("sqs/outbox-message.json")
	if out, err := snd.Invoke(ctx, raw); err != nil || !slices.Contains(ok, string(out)) {
		t.Fatalf("sender: %s %v", out, err)
	}
	checkSent(t, d, sb.Sends)
}
