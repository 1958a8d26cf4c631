package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/queue"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/sender"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

// Target 1's limit.
const maxAcceptToSendP95 = time.Second

// e2eRun is target 1's run.
type e2eRun struct {
	Messages     int                 `json:"messages"`
	OfferedRate  float64             `json:"offered_per_s"`
	AchievedRate float64             `json:"issued_per_s"`
	Tokens       int                 `json:"tokens"`
	SQSPollers   int                 `json:"sqs_poller_concurrency"`
	Non2xx       map[int]int         `json:"non_2xx"`
	APIErrors    int                 `json:"api_errors"`
	Sent         int                 `json:"sent"`
	Missing      int                 `json:"missing"`
	SentTwice    int                 `json:"sent_twice"`
	EndToEnd     connector.Latency   `json:"api_to_sandbox"`
	API          connector.Latency   `json:"api_call"`
	ToRouter     connector.Latency   `json:"api_answer_to_router_queued"`
	ToSender     connector.Latency   `json:"queued_to_sender_start"`
	ToSandbox    connector.Latency   `json:"sender_start_to_sandbox"`
	Baseline     connector.Latency   `json:"baseline_calls_alone"`
	BaselineN    int                 `json:"baseline_iterations"`
	BaselineOps  []connector.OpStats `json:"baseline_sdk_calls"`
	ScheduleLag  float64             `json:"max_schedule_lag_ms"`
	CPU          connector.CPUReport `json:"cpu"`
	Calls        []connector.OpStats `json:"sdk_calls"`
	LeftVisible  string              `json:"left_visible"`
	LeftInFlight string              `json:"left_in_flight"`
}

// measureE2E is target 1.
func measureE2E(ctx context.Context, o options, sb *sandbox.Server, logf func(string, ...any)) ([]connector.Target, error) {
	t := connector.Target{Number: 1, Name: fmt.Sprintf("API accept (POST /v1/messages) → the sandbox receives the send, p95 at %d messages/s", o.rate),
		Unit: "ms", Cmp: connector.AtMost, Limit: float64(maxAcceptToSendP95 / time.Millisecond), Valid: true}
	logf("1: baseline: the path's DynamoDB and SQS calls alone at %d/s for %s, on a fresh stack", o.rate, o.baselineDur)
	base, n, ops, err := baselineCalls(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	r, err := e2e(ctx, o, sb, logf)
	if err != nil {
		return nil, err
	}
	r.Baseline, r.BaselineN, r.BaselineOps = base, n, ops
	t.Value = r.EndToEnd.P95MS
	if r.Missing > 0 || len(r.Non2xx) > 0 || r.APIErrors > 0 || r.SentTwice > 0 {
		t.Valid = false
		t.Invalid = fmt.Sprintf("%d messages never reached the sandbox, %d sent twice, %d API errors, non-2xx answers %v", r.Missing, r.SentTwice, r.APIErrors, r.Non2xx)
	}
	ratio := 0.0
	if base.P95MS > 0 {
		ratio = r.EndToEnd.P95MS / base.P95MS
	}
	t.Notes = []string{
		fmt.Sprintf("baseline, the same path's DynamoDB and SQS calls alone, in sequence per message at %d/s (PutItem of the message; SendMessageBatch of its task, carrying the message as the router queues it; ReceiveMessage; the claim's TransactWriteItems: the message's check and the claim item on the operations table, the message not read; the credentials GetItem; the outcome's TransactWriteItems: the message's sent update and the provider id's pointer; DeleteMessage; no polling waits, no HTTP): p95 %s ms (%s); the whole path = %.1f× its p95",
			o.rate, connector.Num(base.P95MS), base, ratio),
		fmt.Sprintf("%d messages (template) offered at %.0f/s for %s, issued at %.1f/s (worst start lag %.0f ms), %d tokens; stream pollers at make run's interval (500 ms) and event filters; outbox SQSPoller concurrency %d, 5 s long polls, fair (make run's)",
			r.Messages, r.OfferedRate, o.duration, r.AchievedRate, r.ScheduleLag, r.Tokens, r.SQSPollers),
		fmt.Sprintf("API accept → sandbox: %s; sent %d, missing %d, sent twice %d, API non-2xx %v, API errors %d; left on the outbox %s visible, %s in flight",
			r.EndToEnd, r.Sent, r.Missing, r.SentTwice, r.Non2xx, r.APIErrors, r.LeftVisible, r.LeftInFlight),
		"breakdown (per message):",
		fmt.Sprintf("  API call (gateway → authorizer cache → message-send)        %s", r.API),
		fmt.Sprintf("  API answer → router's SendMessageBatch done (stream)        %s", r.ToRouter),
		fmt.Sprintf("  queued → sender Handle start (SQS receive)                  %s", r.ToSender),
		fmt.Sprintf("  sender Handle start → sandbox (claim, credentials, POST)    %s", r.ToSandbox),
		r.CPU.String(),
		"SDK calls during the load:\n" + callLines(r.Calls, 10),
		"baseline SDK calls:\n" + callLines(r.BaselineOps, 8),
	}
	t.Data = r
	return []connector.Target{t}, nil
}

// baselineCalls runs the path's DynamoDB and SQS calls alone, one message
// after the other per goroutine, an iteration every 1/rate s, on a fresh
// stack without pollers.
func baselineCalls(ctx context.Context, o options) (connector.Latency, int, []connector.OpStats, error) {
	s, err := startStack(ctx, scratchKeep)
	if err != nil {
		return connector.Latency{}, 0, nil, err
	}
	defer s.close()
	store, creds := s.d.Messages(), messaging.Of(s.d).ProviderCredentials()
	total := int(o.baselineDur.Seconds() * float64(o.rate))
	times := make([]time.Duration, total)
	errs := make([]error, total)
	interval := time.Second / time.Duration(o.rate)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range total {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			start := time.Now()
			errs[i] = baselineOne(ctx, s, store, creds, s.message("base", i))
			times[i] = time.Since(start)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return connector.Latency{}, 0, nil, err
		}
	}
	return connector.Summarise(times), total, s.calls.Stats(), nil
}

// baselineOne is one message's DynamoDB and SQS calls.
func baselineOne(ctx context.Context, s *stack, store interface {
	CreateMessage(context.Context, messages.Message) error
	sender.Store
}, creds sender.CredentialStore, m messages.Message) error {
	if err := store.CreateMessage(ctx, m); err != nil {
		return err
	}
	body, err := json.Marshal(sender.NewTask(m))
	if err != nil {
		return err
	}
	if _, err := s.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.queues.OutboxURL),
		Entries: []sqstypes.SendMessageBatchRequestEntry{{Id: aws.String("0"), MessageBody: aws.String(string(body)), MessageGroupId: queue.GroupID(m.TenantID)}}}); err != nil {
		return err
	}
	// Another goroutine may take this task; the calls are the same.
	var rcv *sqs.ReceiveMessageOutput
	for range 10 {
		out, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.queues.OutboxURL), MaxNumberOfMessages: 1, WaitTimeSeconds: 1})
		if err != nil {
			return err
		}
		if len(out.Messages) > 0 {
			rcv = out
			break
		}
	}
	if rcv == nil {
		return fmt.Errorf("baseline: no task received")
	}
	var task sender.Task
	if err := json.Unmarshal([]byte(aws.ToString(rcv.Messages[0].Body)), &task); err != nil {
		return err
	}
	// The sender's calls for a batch of one: the claim of the message as
	// its task carries it, the credentials, the outcome.
	req := messages.ClaimRequest{Key: messages.Key{TenantID: task.TenantID, ID: task.MessageID}, Queued: task.Message()}
	c := store.ClaimQueued(ctx, []messages.ClaimRequest{req}, "tok", time.Now(), sender.Lease)[0]
	if c.Err != nil || c.Done {
		return fmt.Errorf("baseline claim: done %v, %v", c.Done, c.Err)
	}
	cm := c.Message
	if _, err := creds.ProviderCredentials(ctx, cm.TenantID, cm.ChannelID); err != nil {
		return err
	}
	if err := store.RecordOutcomes(ctx, []messages.Outcome{{Kind: messages.OutcomeSent, Message: cm, ProviderID: "wamid.base" + cm.ID, At: time.Now()}})[0]; err != nil {
		return err
	}
	_, err = s.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(s.queues.OutboxURL), ReceiptHandle: rcv.Messages[0].ReceiptHandle})
	return err
}

// e2e sends -rate messages a second through the API for -duration with
// the event functions polled as make run polls them.
func e2e(ctx context.Context, o options, sb *sandbox.Server, logf func(string, ...any)) (*e2eRun, error) {
	s, err := startStack(ctx, streamKeep)
	if err != nil {
		return nil, err
	}
	defer s.close()
	// Nothing is trimmed during this short run (the router may lag).
	start := time.Now()
	s.readTo.Store(&start)
	sb.Reset()
	api, stopAPI, err := s.startGateway()
	if err != nil {
		return nil, err
	}
	defer stopAPI()

	total := int(o.duration.Seconds() * float64(o.rate))
	perToken := o.perToken - 1
	nTokens := (total+perToken-1)/perToken + 1
	ten := &tenancy.Service{Store: s.d.Tenancy(), Now: time.Now}
	tokens := make([]string, nTokens)
	for i := range tokens {
		tk, err := ten.CreateToken(ctx, s.tenantID, s.channelID, fmt.Sprintf("bench %d", i))
		if err != nil {
			return nil, err
		}
		tokens[i] = tk.Secret
	}
	setupTok, loadToks := tokens[nTokens-1], tokens[:nTokens-1]

	var (
		mu      sync.Mutex
		queued  = map[string]time.Time{}
		started = map[string]time.Time{}
	)
	onQueued := func(bodies []string, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range bodies {
			var t sender.Task
			if json.Unmarshal([]byte(b), &t) == nil {
				if _, ok := queued[t.MessageID]; !ok {
					queued[t.MessageID] = at
				}
			}
		}
	}
	s.onQueued.Store(&onQueued)
	tmp, err := os.MkdirTemp("", "msgbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	run := &e2eRun{OfferedRate: float64(o.rate), Tokens: len(loadToks), SQSPollers: o.e2eConc, Non2xx: map[int]int{}}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pwg sync.WaitGroup
	var handling atomic.Int64
	for _, f := range routes.EventFunctions {
		switch f.Source {
		case "stream":
			p := &pollers.StreamPoller{DDB: s.d.DDB, Streams: dynamodbstreams.NewFromConfig(s.d.AWS), Table: s.d.DataTable,
				BatchSize: f.BatchSize, Handler: registry.Streams[f.Function](s.d), Checkpoints: filepath.Join(tmp, "checkpoints-"+f.Function+".json"),
				Filter: pollers.RouteFilter(f.StreamFilters())}
			pwg.Go(func() { _ = p.Run(pctx) })
		case "outbox":
			inner := registry.Queues[f.Function](s.d)
			h := timed(inner, func(ev events.SQSEvent, at time.Time) {
				mu.Lock()
				defer mu.Unlock()
				for _, m := range ev.Records {
					var t sender.Task
					if json.Unmarshal([]byte(m.Body), &t) == nil {
						if _, ok := started[t.MessageID]; !ok {
							started[t.MessageID] = at
						}
					}
				}
			})
			hh := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				handling.Add(1)
				defer handling.Add(-1)
				return h(ctx, ev)
			}
			p := &pollers.SQSPoller{Client: s.pollSQS, QueueURL: s.queues.OutboxURL, QueueARN: s.queues.OutboxARN,
				BatchSize: f.BatchSize, Handler: hh, WaitTime: 5 * time.Second, Concurrency: o.e2eConc, Fair: true, GroupOf: outboxGroup}
			pwg.Go(func() { _ = p.Run(pctx) })
		}
	}
	stopPollers := func() {
		for deadline := time.Now().Add(20 * time.Second); handling.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		pwg.Wait()
	}
	defer stopPollers()

	// Prime the authorizer cache, then one message through the whole path.
	if err := bench.Parallel(ctx, 4, len(loadToks), func(ctx context.Context, i int) error {
		st, body, err := api.Do(ctx, http.MethodGet, "/v1/me", loadToks[i], nil)
		if err == nil && st != http.StatusOK {
			err = fmt.Errorf("GET /v1/me: %d %s", st, body)
		}
		return err
	}); err != nil {
		return nil, err
	}
	logf("1: %d tokens; warming up the path", nTokens)
	st, body, err := api.send(ctx, setupTok, "+923000000000")
	if err != nil || st != http.StatusAccepted {
		return nil, fmt.Errorf("warm-up message: %d %s %v", st, body, err)
	}
	for deadline := time.Now().Add(60 * time.Second); sb.Stats().Accepted < 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the warm-up message never reached the sandbox (60 s)")
		}
	}
	time.Sleep(time.Second)

	logf("1: %d messages at %d/s", total, o.rate)
	s.calls.Reset()
	type call struct {
		id         string
		start, end time.Time
		status     int
		err        error
	}
	calls := make([]call, total)
	interval := time.Second / time.Duration(o.rate)
	var wg sync.WaitGroup
	var maxLag atomic.Int64
	cpu := connector.StartCPU()
	t0 := time.Now()
	for i := range total {
		due := t0.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if lag := time.Since(due); int64(lag) > maxLag.Load() {
			maxLag.Store(int64(lag))
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			c := &calls[i]
			c.start = time.Now()
			var b []byte
			c.status, b, c.err = api.send(ctx, loadToks[i%len(loadToks)], fmt.Sprintf("+9230%08d", i))
			c.end = time.Now()
			var out struct {
				Data struct {
					ID string `json:"id"`
				} `json:"data"`
			}
			if json.Unmarshal(b, &out) == nil {
				c.id = out.Data.ID
			}
		})
	}
	issued := time.Since(t0)
	wg.Wait()
	run.Messages = total
	run.AchievedRate = float64(total) / issued.Seconds()
	run.ScheduleLag = connector.MS(time.Duration(maxLag.Load()))
	want := 1
	for _, c := range calls {
		if c.err == nil && c.status == http.StatusAccepted {
			want++
		}
	}
	for deadline := time.Now().Add(o.settle); sb.Stats().Accepted < want && time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(50 * time.Millisecond)
	}
	run.CPU = cpu.End()
	run.Calls = s.calls.Stats()
	stopPollers()
	run.LeftVisible, run.LeftInFlight, _ = s.outboxDepth(ctx)

	at := map[string]time.Time{}
	for _, r := range sb.Messages() {
		if _, ok := at[r.Opaque]; !ok {
			at[r.Opaque] = r.At
		}
	}
	var e2eL, apiL, toRouter, toSender, toSandbox []time.Duration
	mu.Lock()
	defer mu.Unlock()
	for _, c := range calls {
		switch {
		case c.err != nil:
			run.APIErrors++
			continue
		case c.status != http.StatusAccepted:
			run.Non2xx[c.status]++
			continue
		}
		apiL = append(apiL, c.end.Sub(c.start))
		arr, ok := at[c.id]
		if !ok {
			run.Missing++
			continue
		}
		if sb.Sends(c.id) > 1 {
			run.SentTwice++
		}
		run.Sent++
		e2eL = append(e2eL, arr.Sub(c.start))
		q, qok := queued[c.id]
		st, sok := started[c.id]
		if qok {
			toRouter = append(toRouter, q.Sub(c.end))
		}
		if qok && sok {
			toSender = append(toSender, st.Sub(q))
		}
		if sok {
			toSandbox = append(toSandbox, arr.Sub(st))
		}
	}
	run.EndToEnd, run.API = connector.Summarise(e2eL), connector.Summarise(apiL)
	run.ToRouter, run.ToSender, run.ToSandbox = connector.Summarise(toRouter), connector.Summarise(toSender), connector.Summarise(toSandbox)
	return run, nil
}

// apiClient calls the local gateway.
type apiClient struct{ *bench.API }

// send is POST /v1/messages: the benchmark's template to a number.
func (a *apiClient) send(ctx context.Context, token, to string) (int, []byte, error) {
	return a.Do(ctx, http.MethodPost, "/v1/messages", token,
		map[string]any{"to": to, "type": "template", "template": map[string]any{"name": tplName, "language": tplLanguage}})
}
