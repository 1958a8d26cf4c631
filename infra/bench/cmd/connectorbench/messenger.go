package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/gateway"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/messenger"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Targets 4 and 5: a Messenger webhook call with many events is answered
// within a second, and every event is recorded (and delivered) within the
// stream consumer's timeout (one inbox item is handled by one invocation).
const (
	maxMessengerAnswer  = time.Second
	maxMessengerProcess = 60 * time.Second
)

// messengerRun is what targets 4 and 5 measured.
type messengerRun struct {
	Events          int     `json:"events"`
	BodyBytes       int     `json:"body_bytes"`
	AnswerMS        float64 `json:"answer_ms"`
	ProcessMS       float64 `json:"answer_to_last_delivery_ms"`
	Delivered       int     `json:"delivered"`
	SingleAnswerMS  float64 `json:"baseline_one_event_answer_ms"`
	SingleProcessMS float64 `json:"baseline_one_event_answer_to_delivery_ms"`
	InlineMS        float64 `json:"baseline_inline_one_at_a_time_ms"`
}

// measureMessenger posts one signed Messenger call of -messenger-events
// postbacks (each from its own subscriber) through the local gateway, with
// the event functions polled as make run polls them, and a connection on
// postbacks towards the sink. Baselines from the same run: a call with one
// event (answer, and answer → delivery), and the same events recorded one
// at a time in the request, as receive did before the intake.
func measureMessenger(ctx context.Context, o options, _ *emfCounter, logf func(string, ...any)) ([]connector.Target, error) {
	answer := connector.Target{Number: 5, Name: fmt.Sprintf("Messenger call with %d events: answered", o.messengerEvents),
		Unit: "ms", Cmp: connector.AtMost, Limit: float64(maxMessengerAnswer / time.Millisecond), Valid: true}
	process := connector.Target{Number: 6, Name: fmt.Sprintf("Messenger call with %d events: answer → every event recorded and delivered", o.messengerEvents),
		Unit: "ms", Cmp: connector.AtMost, Limit: float64(maxMessengerProcess / time.Millisecond), Valid: true}
	s, err := startStack(ctx, true)
	if err != nil {
		return nil, err
	}
	defer s.close()
	sink := &connector.Sink{Key: connector.JSONField("psid")}
	sinkSrv := newSink(sink)
	defer sinkSrv.Close()
	gw, err := gateway.ForRoutes(s.d, registry.All(), "adm_connectorbench_unused", authCacheTTL)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	api := &apiClient{&bench.API{Base: "http://" + ln.Addr().String(), HTTP: &http.Client{Timeout: 60 * time.Second}}}

	const secret = "connectorbench-app-secret"
	ten := &tenancy.Service{Store: s.d.Tenancy(), Now: time.Now}
	page, err := messengerTenant(ctx, ten, "messengerbench", tenancy.ChannelInput{AppSecret: secret, VerifyToken: "bench"})
	if err != nil {
		return nil, err
	}
	tk, err := ten.CreateToken(ctx, page.TenantID, page.ChannelID, "bench")
	if err != nil {
		return nil, err
	}
	st, body, err := api.Do(ctx, http.MethodPost, "/v1/connections", tk.Secret,
		map[string]any{"name": "bench sink", "url": sinkSrv.URL + "/hook", "triggers": []string{string(connections.TriggerPostback)}})
	if err != nil || st != http.StatusCreated {
		return nil, fmt.Errorf("POST /v1/connections: %d %s %v", st, body, err)
	}

	// The event functions, as make run's startPollers runs them.
	tmp, err := os.MkdirTemp("", "connectorbench-messenger-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	pctx, cancel := context.WithCancel(ctx)
	var pwg sync.WaitGroup
	defer func() { cancel(); pwg.Wait() }()
	for _, f := range routes.EventFunctions {
		switch f.Source {
		case "stream":
			p := &pollers.StreamPoller{DDB: s.d.DDB, Streams: dynamodbstreams.NewFromConfig(s.d.AWS), Table: s.d.DataTable,
				BatchSize: f.BatchSize, Handler: registry.Streams[f.Function](s.d), Checkpoints: filepath.Join(tmp, f.Function+".json")}
			pwg.Go(func() { _ = p.Run(pctx) })
		case "queue":
			p := &pollers.SQSPoller{Client: s.sqs, QueueURL: s.queues.DeliveriesURL, QueueARN: s.queues.DeliveriesARN,
				BatchSize: f.BatchSize, Handler: registry.Queues[f.Function](s.d)}
			pwg.Go(func() { _ = p.Run(pctx) })
		}
	}
	hook := "/v1/webhooks/messenger/" + page.TenantID + "/" + page.ChannelID
	post := func(body []byte) (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, api.Base+hook, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		start := time.Now()
		res, err := api.HTTP.Do(req)
		if err != nil {
			return 0, err
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		took := time.Since(start)
		if res.StatusCode != http.StatusOK {
			return took, fmt.Errorf("POST %s: %d %s", hook, res.StatusCode, b)
		}
		return took, nil
	}

	// Baseline: one event per call, five times, each waited for.
	logf("4: baseline, calls with one event")
	var singleAnswer, singleProcess []float64
	for i := range 5 {
		took, err := post(messengerCall(fmt.Sprintf("b%d", i), 1))
		if err != nil {
			return nil, err
		}
		answered := time.Now()
		select {
		case <-sink.Reached(i + 1):
		case <-time.After(60 * time.Second):
			return nil, fmt.Errorf("the one-event call %d was not delivered within 60 s", i+1)
		}
		at, _ := sink.Arrived(fmt.Sprintf("b%d%06d", i, 0))
		singleAnswer = append(singleAnswer, ms(took))
		singleProcess = append(singleProcess, ms(at.Sub(answered)))
	}
	run := &messengerRun{Events: o.messengerEvents, SingleAnswerMS: median(singleAnswer), SingleProcessMS: median(singleProcess)}

	// The call.
	call := messengerCall("m", o.messengerEvents)
	run.BodyBytes = len(call)
	logf("4: one call with %d events (%d bytes)", o.messengerEvents, len(call))
	took, err := post(call)
	if err != nil {
		return nil, err
	}
	answered := time.Now()
	run.AnswerMS = ms(took)
	select {
	case <-sink.Reached(5 + o.messengerEvents):
	case <-time.After(2 * maxMessengerProcess):
	}
	distinct, _, last := sink.Counts()
	run.Delivered = distinct - 5
	run.ProcessMS = ms(last.Sub(answered))
	if run.Delivered != o.messengerEvents {
		process.Valid = false
		process.Invalid = fmt.Sprintf("%d of %d events delivered within %s", run.Delivered, o.messengerEvents, 2*maxMessengerProcess)
	}

	// Baseline: the same events recorded one at a time, as the request
	// itself did before (another tenant, without connections).
	logf("4: baseline, the %d events recorded one at a time", o.messengerEvents)
	svc := &contacts.Service{Store: s.d.ContactStore(), Phone: phone.Normalize, Now: time.Now}
	var b messenger.Body
	if err := json.Unmarshal(call, &b); err != nil {
		return nil, err
	}
	sc, err := messengerTenant(ctx, ten, "messengerbench-inline", tenancy.ChannelInput{Name: "Baseline page"})
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	for _, it := range b.Items() {
		if _, err := svc.Collect(ctx, sc, it.PSID, it.Collected); err != nil {
			return nil, fmt.Errorf("inline baseline: %w", err)
		}
	}
	run.InlineMS = ms(time.Since(t0))

	answer.Value, process.Value = run.AnswerMS, run.ProcessMS
	answer.Format, process.Format = "%.0f", "%.0f"
	base := fmt.Sprintf("baseline: a call with one event answered in %.0f ms (median of 5); the %d events recorded one at a time in the request, as before the intake: %.0f ms",
		run.SingleAnswerMS, o.messengerEvents, run.InlineMS)
	answer.Notes = []string{base, fmt.Sprintf("the call's body: %d bytes (the API takes 256 KB); one inbox item written, the events recorded from the stream", run.BodyBytes)}
	process.Notes = []string{
		fmt.Sprintf("baseline: a call with one event, answer → its delivery %.0f ms (median of 5, make run's stream poll interval %s)", run.SingleProcessMS, defaultPollInterval),
		fmt.Sprintf("%d of %d delivered; the intake records %d subscribers at once (messenger.DefaultParallel)", run.Delivered, o.messengerEvents, messenger.DefaultParallel),
	}
	answer.Data, process.Data = run, run
	return []connector.Target{answer, process}, nil
}

// messengerCall is a webhook call of n postbacks, each from its own
// subscriber (prefix + 6 digits).
func messengerCall(prefix string, n int) []byte {
	var b strings.Builder
	b.WriteString(`{"object":"page","entry":[{"id":"1","time":1705321144000,"messaging":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"sender":{"id":"%s%06d"},"recipient":{"id":"1"},"timestamp":%d,"postback":{"title":"Start","payload":"GET_STARTED"}}`,
			prefix, i, 1705321144000+int64(i))
	}
	b.WriteString(`]}]}`)
	return []byte(b.String())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
