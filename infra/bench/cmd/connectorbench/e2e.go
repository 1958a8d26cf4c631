package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/gateway"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Target 3's limit.
const maxFirstAttemptP95 = time.Second

// authCacheTTL is make run's default authorizer cache (as in AWS).
const authCacheTTL = 300 * time.Second

// defaultPollInterval is StreamPoller's default, which make run keeps.
const defaultPollInterval = 500 * time.Millisecond

// e2eRun is one run of target 3.
type e2eRun struct {
	PollInterval  string              `json:"stream_poll_interval"`
	SQSPollers    int                 `json:"sqs_poller_concurrency"`
	Updates       int                 `json:"updates"`
	OfferedRate   float64             `json:"offered_per_s"`
	AchievedRate  float64             `json:"issued_per_s"`
	Tokens        int                 `json:"tokens"`
	Non2xx        map[int]int         `json:"non_2xx"`
	APIErrors     int                 `json:"api_errors"`
	Delivered     int                 `json:"delivered"`
	Missing       int                 `json:"missing"`
	MissingWhere  map[string]int      `json:"missing_where"`
	LeftVisible   string              `json:"left_visible"`
	LeftInFlight  string              `json:"left_in_flight"`
	EndToEnd      connector.Latency   `json:"update_to_first_attempt"`
	API           connector.Latency   `json:"api_call"`
	ToRouter      connector.Latency   `json:"api_answer_to_router_done"`
	ToDispatcher  connector.Latency   `json:"router_done_to_dispatcher_start"`
	ToSink        connector.Latency   `json:"dispatcher_start_to_sink"`
	StreamBatches int                 `json:"stream_batches"`
	StreamRecords int                 `json:"stream_records"`
	StreamHandle  connector.Latency   `json:"stream_handle"`
	StreamKinds   map[string]int      `json:"stream_records_by_key"`
	SQSBatches    int                 `json:"sqs_batches"`
	SQSMeanBatch  float64             `json:"sqs_mean_batch"`
	ScheduleLagMS float64             `json:"max_schedule_lag_ms"`
	Windows       []e2eWindow         `json:"windows"`
	ProbeBeforeMS float64             `json:"idle_putitem_p50_before_ms"`
	ProbeAfterMS  float64             `json:"idle_putitem_p50_after_ms"`
	CPU           connector.CPUReport `json:"cpu"`
	SinkRequests  int                 `json:"sink_requests"`
	Calls         []connector.OpStats `json:"sdk_calls"`
}

// e2eWindow is the updates issued in one stretch of the load.
type e2eWindow struct {
	FromS    float64           `json:"from_s"`
	EndToEnd connector.Latency `json:"update_to_first_attempt"`
	API      connector.Latency `json:"api_call"`
}

// windowSeconds is the length of the stretches the load is cut into.
const windowSeconds = 5

// measureE2E is target 3, with make run's stream poll interval and, when
// that misses, again with -tight-poll.
func measureE2E(ctx context.Context, o options, _ *emfCounter, logf func(string, ...any)) (connector.Target, error) {
	t := connector.Target{Number: 3, Name: "contact update (API) → first delivery attempt at the sink, p95",
		Unit: "ms", Cmp: connector.AtMost, Limit: float64(maxFirstAttemptP95 / time.Millisecond), Valid: true}
	runs := []*e2eRun{}
	first, err := e2e(ctx, o, o.pollInterval, logf)
	if err != nil {
		return t, err
	}
	runs = append(runs, first)
	t.Name += fmt.Sprintf(" (stream poll interval %s", first.PollInterval)
	if o.pollInterval == 0 {
		t.Name += ", make run's"
	}
	t.Name += ")"
	t.Value = first.EndToEnd.P95MS
	if first.Missing > 0 || len(first.Non2xx) > 0 || first.APIErrors > 0 {
		t.Valid = false
		t.Invalid = fmt.Sprintf("%d deliveries missing, %d API errors, non-2xx answers %v", first.Missing, first.APIErrors, first.Non2xx)
	}
	t.Notes = append(t.Notes, runNotes(first, o)...)
	if o.tightPoll > 0 && o.tightPoll != o.pollInterval && (o.tightAlways || !t.Met()) {
		logf("3: again with StreamPoller.PollInterval %s", o.tightPoll)
		tight, err := e2e(ctx, o, o.tightPoll, logf)
		if err != nil {
			return t, err
		}
		runs = append(runs, tight)
		t.Notes = append(t.Notes, fmt.Sprintf("— the same with StreamPoller.PollInterval %s (not what make run uses): p95 %s ms —", tight.PollInterval, connector.Num(tight.EndToEnd.P95MS)))
		t.Notes = append(t.Notes, runNotes(tight, o)...)
	}
	t.Data = runs
	return t, nil
}

func runNotes(r *e2eRun, o options) []string {
	return []string{
		fmt.Sprintf("%d updates (PUT /v1/contact/{id}, a new email each) offered at %.0f/s for %s, issued at %.1f/s (worst start lag %.0f ms), %d tokens, %d contacts; SQSPoller concurrency %d, StreamPoller.PollInterval %s",
			r.Updates, r.OfferedRate, o.duration, r.AchievedRate, r.ScheduleLagMS, r.Tokens, o.contacts, r.SQSPollers, r.PollInterval),
		fmt.Sprintf("update → first attempt at the sink: %s; delivered %d, missing %d %v, API non-2xx %v, API errors %d; left in the queue: %s visible, %s in flight",
			r.EndToEnd, r.Delivered, r.Missing, r.MissingWhere, r.Non2xx, r.APIErrors, r.LeftVisible, r.LeftInFlight),
		"breakdown (per update):",
		fmt.Sprintf("  API call (gateway → authorizer cache → contact-update)      %s", r.API),
		fmt.Sprintf("  API answer → router's SendMessageBatch done (stream)       %s", r.ToRouter),
		fmt.Sprintf("  queued → dispatcher Handle start (SQS receive)             %s", r.ToDispatcher),
		fmt.Sprintf("  dispatcher Handle start → sink (GetItem, sign, POST)       %s", r.ToSink),
		windowLine(r.Windows),
		fmt.Sprintf("dynoxide, idle, 50 sequential PutItems: p50 %.2f ms before the load, %.2f ms after it",
			r.ProbeBeforeMS, r.ProbeAfterMS),
		fmt.Sprintf("stream: %d batches, %d records (%.1f per batch; by key %s), router Handle %s", r.StreamBatches, r.StreamRecords,
			float64(r.StreamRecords)/max(float64(r.StreamBatches), 1), kindsLine(r.StreamKinds), r.StreamHandle),
		fmt.Sprintf("queue: %d dispatcher batches, %.1f messages each; sink requests %d", r.SQSBatches, r.SQSMeanBatch, r.SinkRequests),
		r.CPU.String() + " (load and settling)",
		"SDK calls during the load:\n" + callLines(r.Calls, 10),
	}
}

// keyKind is a stream record's PK up to its first '#' ("CONTACT", "RL", ...).
func keyKind(keys map[string]events.DynamoDBAttributeValue) string {
	pk, ok := keys["PK"]
	if !ok || pk.DataType() != events.DataTypeString {
		return "?"
	}
	k, _, _ := strings.Cut(pk.String(), "#")
	return k
}

func kindsLine(m map[string]int) string {
	type kv struct {
		k string
		n int
	}
	var kvs []kv
	for k, n := range m {
		kvs = append(kvs, kv{k, n})
	}
	slices.SortFunc(kvs, func(a, b kv) int { return b.n - a.n })
	parts := make([]string, len(kvs))
	for i, x := range kvs {
		parts[i] = fmt.Sprintf("%s# %d", x.k, x.n)
	}
	return strings.Join(parts, ", ")
}

// windowLine shows how the latency moved during the load.
func windowLine(ws []e2eWindow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "by issue time (p95 update → attempt / p50 API call):")
	for _, w := range ws {
		fmt.Fprintf(&b, "  %.0f–%.0f s: %s / %s ms", w.FromS, w.FromS+windowSeconds, connector.Num(w.EndToEnd.P95MS), connector.Num(w.API.P50MS))
	}
	return b.String()
}

// e2e runs the whole path once on a fresh stack.
func e2e(ctx context.Context, o options, pollInterval time.Duration, logf func(string, ...any)) (*e2eRun, error) {
	s, err := startStack(ctx, true)
	if err != nil {
		return nil, err
	}
	defer s.close()
	sink := &connector.Sink{Key: connector.JSONField("email")}
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
	api := &apiClient{&bench.API{Base: "http://" + ln.Addr().String(), HTTP: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}}}

	// Tenant, channel, tokens: each token makes at most perToken calls
	// (one of them priming the authorizer cache), under the 100/min limit.
	total := int(o.duration.Seconds() * float64(o.rate))
	perToken := o.perToken - 1
	nTokens := (total+perToken-1)/perToken + 1
	ten := &tenancy.Service{Store: s.d.Tenancy(), Now: time.Now}
	sc, err := messengerTenant(ctx, ten, "connectorbench", tenancy.ChannelInput{})
	if err != nil {
		return nil, err
	}
	tokens := make([]string, nTokens)
	for i := range tokens {
		tk, err := ten.CreateToken(ctx, sc.TenantID, sc.ChannelID, fmt.Sprintf("bench %d", i))
		if err != nil {
			return nil, err
		}
		tokens[i] = tk.Secret
	}
	// The setup token (connection, warm-up) is the last one; the load
	// uses the others round-robin.
	setupTok, loadToks := tokens[nTokens-1], tokens[:nTokens-1]
	st, body, err := api.Do(ctx, http.MethodPost, "/v1/connections", setupTok,
		map[string]any{"name": "bench sink", "url": sinkSrv.URL + "/hook", "triggers": []string{string(connections.TriggerEmail)}})
	if err != nil || st != http.StatusCreated {
		return nil, fmt.Errorf("POST /v1/connections: %d %s %v", st, body, err)
	}

	// Contacts without an email, so creating them fires nothing.
	svc := &contacts.Service{Store: s.contactsStore(), Now: time.Now}
	ids := make([]string, o.contacts)
	if err := bench.Parallel(ctx, 8, len(ids), func(ctx context.Context, i int) error {
		c, err := svc.Create(ctx, sc, []contacts.Input{{Name: "firstName", Value: json.RawMessage(fmt.Sprintf("%q", fmt.Sprintf("Bench%d", i)))}}, false)
		if err != nil {
			return fmt.Errorf("seed contact: %w", err)
		}
		ids[i] = c.ID
		return nil
	}); err != nil {
		return nil, err
	}

	// The event functions, wired as make run's startPollers wires them,
	// with hooks that note when each update passed the router and reached
	// the dispatcher.
	var (
		mu          sync.Mutex
		routed      = map[string]time.Time{} // the router queued its delivery
		dispatched  = map[string]time.Time{}
		streamH     []time.Duration
		streamRecs  int
		sqsBatches  int
		sqsMessages int
		handling    atomic.Int64       // dispatcher batches in hand
		streamKinds = map[string]int{} // records by key prefix
	)
	run := &e2eRun{OfferedRate: float64(o.rate), Tokens: len(loadToks), Non2xx: map[int]int{}, MissingWhere: map[string]int{}}
	run.PollInterval = pollInterval.String()
	if pollInterval == 0 {
		run.PollInterval = defaultPollInterval.String() + " (default)"
	}
	run.SQSPollers = o.e2eConc
	if run.SQSPollers == 0 {
		run.SQSPollers = 2 // SQSPoller's default
	}
	tmp, err := os.MkdirTemp("", "connectorbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	onSent := func(bodies []string, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range bodies {
			if e := deliveryEmail(b); e != "" {
				if _, ok := routed[e]; !ok {
					routed[e] = at
				}
			}
		}
	}
	s.onSent.Store(&onSent)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pwg sync.WaitGroup
	perrs := make(chan error, 4)
	for _, f := range routes.EventFunctions {
		switch f.Source {
		case "stream":
			inner := registry.Streams[f.Function](s.d)
			checkpoints := filepath.Join(tmp, "stream-checkpoints-"+f.Function+".json")
			if f.Function != "trigger-router" {
				// Other consumers (the Messenger intake) have nothing to do
				// here; they run as make run runs them, untimed.
				p := &pollers.StreamPoller{DDB: s.d.DDB, Streams: dynamodbstreams.NewFromConfig(s.d.AWS), Table: s.d.DataTable,
					BatchSize: f.BatchSize, Handler: inner, Checkpoints: checkpoints, PollInterval: pollInterval}
				pwg.Go(func() { perrs <- p.Run(pctx) })
				continue
			}
			h := func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				start := time.Now()
				resp, err := inner(ctx, ev)
				end := time.Now()
				mu.Lock()
				streamH = append(streamH, end.Sub(start))
				streamRecs += len(ev.Records)
				for _, r := range ev.Records {
					streamKinds[keyKind(r.Change.Keys)]++
				}
				mu.Unlock()
				return resp, err
			}
			p := &pollers.StreamPoller{DDB: s.d.DDB, Streams: dynamodbstreams.NewFromConfig(s.d.AWS), Table: s.d.DataTable,
				BatchSize: f.BatchSize, Handler: h, Checkpoints: checkpoints, PollInterval: pollInterval}
			pwg.Go(func() { perrs <- p.Run(pctx) })
		case "queue":
			inner := registry.Queues[f.Function](s.d)
			h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				start := time.Now()
				handling.Add(1)
				defer handling.Add(-1)
				mu.Lock()
				sqsBatches++
				sqsMessages += len(ev.Records)
				for _, m := range ev.Records {
					if e := deliveryEmail(m.Body); e != "" {
						if _, ok := dispatched[e]; !ok {
							dispatched[e] = start
						}
					}
				}
				mu.Unlock()
				return inner(ctx, ev)
			}
			p := &pollers.SQSPoller{Client: s.sqs, QueueURL: s.queues.DeliveriesURL, QueueARN: s.queues.DeliveriesARN,
				BatchSize: f.BatchSize, Concurrency: o.e2eConc, Handler: h}
			pwg.Go(func() { perrs <- p.Run(pctx) })
		}
	}
	stopPollers := func() error {
		// Let the dispatcher finish the batches in hand (activity log,
		// deletes): the pollers pass their context to the handlers.
		for deadline := time.Now().Add(15 * time.Second); handling.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		pwg.Wait()
		close(perrs)
		for err := range perrs {
			if err != nil {
				return err
			}
		}
		return nil
	}

	if run.ProbeBeforeMS, err = s.probeWrites(ctx); err != nil {
		return nil, err
	}
	// Prime the authorizer cache (as for a client that called in the last
	// 300 s) and check the whole path once before measuring.
	if err := bench.Parallel(ctx, 4, len(loadToks), func(ctx context.Context, i int) error {
		st, body, err := api.Do(ctx, http.MethodGet, "/v1/me", loadToks[i], nil)
		if err == nil && st != http.StatusOK {
			err = fmt.Errorf("GET /v1/me: %d %s", st, body)
		}
		return err
	}); err != nil {
		return nil, err
	}
	logf("3: %d contacts, %d tokens; warming up the path (poll interval %s)", o.contacts, nTokens, run.PollInterval)
	warm := "warmup@bench.example"
	if st, body, err := api.updateEmail(ctx, ids[0], setupTok, warm); err != nil || st != http.StatusOK {
		return nil, fmt.Errorf("warm-up update: %d %s %v", st, body, err)
	}
	select {
	case <-sink.Reached(1):
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("the warm-up update never reached the sink (60 s)")
	}
	time.Sleep(time.Second)

	// The load: one update every 1/rate s, each on its own goroutine (an
	// open loop: a slow answer does not delay the next update).
	logf("3: %d updates at %d/s", total, o.rate)
	mu.Lock()
	routed, dispatched = map[string]time.Time{}, map[string]time.Time{}
	streamH, streamRecs, sqsBatches, sqsMessages = nil, 0, 0, 0
	streamKinds = map[string]int{}
	mu.Unlock()
	s.calls.Reset()
	_, reqs0, _ := sink.Counts()
	type call struct {
		email      string
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
			c.email = fmt.Sprintf("u%06d@bench.example", i)
			c.start = time.Now()
			c.status, _, c.err = api.updateEmail(ctx, ids[i%len(ids)], loadToks[i%len(loadToks)], c.email)
			c.end = time.Now()
		})
	}
	issued := time.Since(t0)
	wg.Wait()
	run.Updates = total
	run.AchievedRate = float64(total) / issued.Seconds()
	run.ScheduleLagMS = connector.MS(time.Duration(maxLag.Load()))

	// Wait for every accepted update's delivery.
	want := 1 // the warm-up
	for _, c := range calls {
		if c.err == nil && c.status == http.StatusOK {
			want++
		}
	}
	select {
	case <-sink.Reached(want):
	case <-time.After(o.settleTimeout):
	case <-ctx.Done():
	}
	run.CPU = cpu.End()
	run.Calls = s.calls.Stats()
	if err := stopPollers(); err != nil {
		return nil, err
	}
	run.LeftVisible, run.LeftInFlight = s.queueDepth(ctx)
	if run.ProbeAfterMS, err = s.probeWrites(ctx); err != nil {
		return nil, err
	}
	_, reqs1, _ := sink.Counts()
	run.SinkRequests = reqs1 - reqs0

	var e2eL, apiL, toRouter, toDisp, toSink []time.Duration
	nWin := int(o.duration.Seconds()+windowSeconds-1) / windowSeconds
	winE2E, winAPI := make([][]time.Duration, nWin), make([][]time.Duration, nWin)
	mu.Lock()
	defer mu.Unlock()
	for _, c := range calls {
		switch {
		case c.err != nil:
			run.APIErrors++
			continue
		case c.status != http.StatusOK:
			run.Non2xx[c.status]++
			continue
		}
		apiL = append(apiL, c.end.Sub(c.start))
		arr, ok := sink.Arrived(c.email)
		if !ok {
			run.Missing++
			_, rok := routed[c.email]
			_, dok := dispatched[c.email]
			switch {
			case !rok:
				run.MissingWhere["not queued by the router"]++
			case !dok:
				run.MissingWhere["queued, never given to the dispatcher"]++
			default:
				run.MissingWhere["given to the dispatcher, no 2xx at the sink"]++
			}
			continue
		}
		run.Delivered++
		e2eL = append(e2eL, arr.Sub(c.start))
		if w := int(c.start.Sub(t0).Seconds()) / windowSeconds; w >= 0 && w < nWin {
			winE2E[w] = append(winE2E[w], arr.Sub(c.start))
			winAPI[w] = append(winAPI[w], c.end.Sub(c.start))
		}
		r, rok := routed[c.email]
		d, dok := dispatched[c.email]
		if rok {
			toRouter = append(toRouter, r.Sub(c.end))
		}
		if rok && dok {
			toDisp = append(toDisp, d.Sub(r))
		}
		if dok {
			toSink = append(toSink, arr.Sub(d))
		}
	}
	for w := range nWin {
		run.Windows = append(run.Windows, e2eWindow{FromS: float64(w * windowSeconds),
			EndToEnd: connector.Summarise(winE2E[w]), API: connector.Summarise(winAPI[w])})
	}
	run.EndToEnd, run.API = connector.Summarise(e2eL), connector.Summarise(apiL)
	run.ToRouter, run.ToDispatcher, run.ToSink = connector.Summarise(toRouter), connector.Summarise(toDisp), connector.Summarise(toSink)
	run.StreamBatches, run.StreamRecords, run.StreamHandle = len(streamH), streamRecs, connector.Summarise(streamH)
	run.StreamKinds = streamKinds
	run.SQSBatches = sqsBatches
	if sqsBatches > 0 {
		run.SQSMeanBatch = float64(sqsMessages) / float64(sqsBatches)
	}
	return run, nil
}

// deliveryEmail is the email in a queued delivery's payload.
func deliveryEmail(body string) string {
	var d connections.Delivery
	if json.Unmarshal([]byte(body), &d) != nil {
		return ""
	}
	return connector.JSONField("email")(d.Payload)
}

// apiClient calls the local gateway.
type apiClient struct{ *bench.API }

// updateEmail is PUT /v1/contact/{id} setting the email.
func (a *apiClient) updateEmail(ctx context.Context, id, token, email string) (int, []byte, error) {
	return a.Do(ctx, http.MethodPut, "/v1/contact/"+id, token,
		map[string]any{"custom_fields": []map[string]string{{"name": "email", "value": email}}})
}
