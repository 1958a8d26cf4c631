// Command connectorbench is the connector half of `make bench`: on fresh
// in-memory emulator stacks of its own (dynoxide, fauxqs; one per
// measurement, see stack.go) it measures the JSON API connector's event
// path, each figure beside its target:
//
//  1. dispatcher throughput: -n deliveries queued with router.Enqueue,
//     drained by the SQS poller (-concurrency goroutines, batches of 10)
//     into the real dispatcher (DynamoDB store, delivery client) towards a
//     keep-alive sink answering 200 at once, first receive → last 2xx
//     (target ≥ 1,000 deliveries/s); beside it, in the same run, the
//     delivery client alone, the dispatcher's DynamoDB calls alone,
//     and Handle without SQS (-direct=false skips the last two);
//  2. a hanging target: the dispatcher's Handle of a batch of 10 in which one
//     target never answers ends within 10.5 s (delivery.AttemptTimeout is
//     10 s) while the other pollers of the same queue keep delivering to a
//     healthy target;
//  3. contact update → first attempt: -rate contact updates per second for
//     -duration through the API (local gateway, gateway.ForRoutes) with the
//     stream poller, trigger router, SQS poller and dispatcher wired as
//     `make run` wires them; p95 from the API call's start to the sink
//     receiving the delivery (target ≤ 1 s), with a per-stage breakdown.
//     When make run's stream poll interval misses it, the run is repeated
//     with -tight-poll for comparison (the verdict stays make run's).
//  4. part of scenario 1: the dispatcher's throughput as a share of its
//     ceiling, the same SQS path with the dispatcher replaced by a loop that
//     only signs and POSTs each message to the same sink (receive → POST →
//     delete, no DynamoDB), on the same pollers, run just before and just
//     after the dispatcher (target ≥ 0.60 of their mean); -rounds runs of
//     the dispatcher alternate with the loops, and the round whose ratio
//     is the median is reported (in target 1 too).
//  5. and 6. (scenario 4) a Messenger webhook call with -messenger-events postbacks
//     through the local gateway, with the event functions polled as make
//     run polls them: the answer's time (target ≤ 1 s) and the time from
//     the answer until every event was recorded and delivered (target ≤
//     60 s, the stream consumer's timeout); baselines in the same run: a
//     call with one event, and the same events recorded one at a time in
//     the request, as receive did before the Messenger intake.
//  7. to 10. (scenario 5) the noisy neighbour: tenant B makes
//     -noisy-b-rate contact updates per second through the API (local
//     gateway; the stream, trigger router, queue and dispatcher carry each
//     to B's healthy sink), first alone for -noisy-duration, then while
//     tenant A makes -noisy-a-rate contact updates per second on the same
//     road, each a delivery to each of its -noisy-a-connections connections
//     on an endpoint that accepts and never answers (25 × 20: 500
//     deliveries/s), on a dispatcher
//     capped at -noisy-concurrency batches at once (the SQS poller's
//     concurrency; DISPATCHER_CONCURRENCY under make run), its poller fair
//     between tenants as make run's (-noisy-fair), with the stage's
//     default limits; then A's endpoint recovers, and once A's
//     deliveries are delivered B runs alone again; each of B's phases
//     after the same -noisy-warmup of its updates, unmeasured. B's update
//     → attempt p95 with A ≤ 1 s and ≤ 1.5× the lower of its two p95s
//     alone in the same run; A's first
//     circuit breaker open within 15 s of A's first delivery; every A
//     delivery delivered after the recovery.
//
// Each measurement also reports the SDK calls it made and the CPU used by
// this process, dynoxide, fauxqs and the rest of the machine. It prints a
// report and exits 1 when a target is missed (or a measurement is
// invalid), 2 when it cannot run.
//
//	go run ./infra/bench/cmd/connectorbench [-n 5000] [-concurrency 8] [-rate 100] [-duration 20s] [-json out.json]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/pollers"
)

type options struct {
	n            int
	concurrency  int
	drainTimeout time.Duration
	direct       bool
	rounds       int

	hangPollers int
	hangRate    int

	rate          int
	duration      time.Duration
	contacts      int
	perToken      int
	e2eConc       int
	pollInterval  time.Duration
	tightPoll     time.Duration
	tightAlways   bool
	settleTimeout time.Duration

	messengerEvents int

	noisyARate    int
	noisyAConns   int
	noisyBRate    int
	noisyDur      time.Duration
	noisyConc     int
	noisyRecover  time.Duration
	noisyWarm     time.Duration
	noisyContacts int
	noisyFair     bool

	only       string
	jsonPath   string
	cpuProfile string
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 5000, "1: deliveries to drain")
	flag.IntVar(&o.concurrency, "concurrency", 8, "1: SQSPoller goroutines (each handles a batch of up to 10 at once)")
	flag.DurationVar(&o.drainTimeout, "drain-timeout", 2*time.Minute, "1: give up waiting for the sink after this long")
	flag.BoolVar(&o.direct, "direct", true, "1: also time dispatcher.Handle without SQS, for context")
	flag.IntVar(&o.rounds, "rounds", 3, "1, 4: dispatcher runs, each between two ceiling loops (the median round is reported)")
	flag.IntVar(&o.hangPollers, "hang-pollers", 4, "2: SQSPoller goroutines on the queue holding the hanging batch")
	flag.IntVar(&o.hangRate, "hang-rate", 100, "2: healthy deliveries queued per second while the batch hangs")
	flag.IntVar(&o.rate, "rate", 100, "3: contact updates per second")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "3: how long updates are issued")
	flag.IntVar(&o.contacts, "contacts", 1000, "3: contacts the updates go round (each is updated every contacts/rate seconds)")
	flag.IntVar(&o.perToken, "per-token", 80, "3: API calls per channel token (the limit is 100 per minute)")
	flag.IntVar(&o.e2eConc, "e2e-concurrency", 0, "3: SQSPoller concurrency (0 = the poller's default, as make run)")
	flag.DurationVar(&o.pollInterval, "poll-interval", 0, "3: StreamPoller.PollInterval (0 = the poller's default, as make run)")
	flag.DurationVar(&o.tightPoll, "tight-poll", 50*time.Millisecond, "3: interval of the second run made when the first misses the target (0: none)")
	flag.BoolVar(&o.tightAlways, "tight-always", false, "3: make the -tight-poll run even when the first one passes")
	flag.DurationVar(&o.settleTimeout, "settle-timeout", 30*time.Second, "3: wait this long after the last update for deliveries")
	flag.IntVar(&sdkIdleConns, "sdk-idle-conns", 0, "diagnostic: MaxIdleConnsPerHost of the SDK's HTTP client (0 = the SDK's default, as the functions use)")
	flag.BoolVar(&noStream, "no-stream", false, "diagnostic: turn the table's stream off in scenarios 1 and 2 (dynoxide's writes slow down with every stream record)")
	flag.IntVar(&o.messengerEvents, "messenger-events", 1000, "4: events in the Messenger webhook call (its body must stay under 256 KB)")
	flag.IntVar(&o.noisyARate, "noisy-a-rate", 25, "5: tenant A's contact updates per second through the API, each a delivery to each of its connections on a hanging endpoint")
	flag.IntVar(&o.noisyAConns, "noisy-a-connections", 20, "5: tenant A's connections on the hanging endpoint (deliveries/s = -noisy-a-rate × this; at most the stage's connections per channel)")
	flag.IntVar(&o.noisyBRate, "noisy-b-rate", 20, "5: tenant B's contact updates per second through the API, each a delivery to a healthy endpoint")
	flag.DurationVar(&o.noisyDur, "noisy-duration", 20*time.Second, "5: how long each phase sends: B alone, A and B, B alone again (B needs 200 updates in each)")
	flag.DurationVar(&o.noisyWarm, "noisy-warmup", 3*time.Second, "5: B's unmeasured updates before each phase (the same in both)")
	flag.IntVar(&o.noisyContacts, "noisy-contacts", 200, "5: each tenant's contacts its updates go round")
	flag.BoolVar(&o.noisyFair, "noisy-fair", true, "5: the dispatcher's poller shares its workers fairly between tenants (pollers.SQSPoller.Fair), as make run's does")
	flag.IntVar(&o.noisyConc, "noisy-concurrency", 4, "5: the dispatcher's concurrency: SQSPoller goroutines ("+pollers.ConcurrencySetting+" under make run)")
	flag.DurationVar(&o.noisyRecover, "noisy-recover-timeout", 4*time.Minute, "5: give up waiting for A's deliveries after its endpoint recovers after this long")
	flag.StringVar(&o.only, "only", "1,2,3,4,5", "scenarios to run, comma-separated")
	flag.StringVar(&o.jsonPath, "json", "", "also write the report as JSON to `file`")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (gateway, pollers, dispatcher; not the emulators) to `file`")
	flag.Parse()
	if flag.NArg() > 0 || o.n < 10 || o.concurrency < 1 || o.rounds < 1 || o.hangPollers < 2 || o.hangRate < 1 || o.rate < 1 ||
		o.duration < time.Second || o.contacts < 1 || o.perToken < 3 || o.perToken > 98 || o.messengerEvents < 1 || o.messengerEvents > 1500 ||
		o.noisyARate < 1 || o.noisyAConns < 1 || o.noisyBRate < 1 || o.noisyDur < time.Second || o.noisyConc < 1 ||
		o.noisyWarm < 0 || o.noisyContacts < 1 {
		fmt.Fprintln(os.Stderr, "connectorbench: need -n ≥ 10, -concurrency ≥ 1, -rounds ≥ 1, -hang-pollers ≥ 2, -hang-rate ≥ 1, -rate ≥ 1, -duration ≥ 1s, -contacts ≥ 1, 3 ≤ -per-token ≤ 98, 1 ≤ -messenger-events ≤ 1500")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "connectorbench:", err)
		os.Exit(2)
	}
	if !rep.Pass {
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (connector.Report, error) {
	start := time.Now()
	// The functions log at Info per attempt and per request; make run keeps
	// warnings only, and so does the benchmark.
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	rep := connector.Report{Config: map[string]any{
		"n": o.n, "concurrency": o.concurrency, "rounds": o.rounds, "hang_pollers": o.hangPollers, "hang_rate": o.hangRate,
		"rate": o.rate, "duration_s": o.duration.Seconds(), "contacts": o.contacts, "per_token": o.perToken,
		"e2e_concurrency": o.e2eConc, "poll_interval": o.pollInterval.String(), "tight_poll": o.tightPoll.String(),
		"cpus": runtime.NumCPU(), "sdk_idle_conns": sdkIdleConns, "no_stream": noStream, "gomaxprocs": runtime.GOMAXPROCS(0),
		"messenger_events": o.messengerEvents, "noisy_a_rate": o.noisyARate, "noisy_a_connections": o.noisyAConns, "noisy_b_rate": o.noisyBRate,
		"noisy_duration_s": o.noisyDur.Seconds(), "noisy_concurrency": o.noisyConc,
		"noisy_warmup_s": o.noisyWarm.Seconds(), "noisy_contacts": o.noisyContacts, "noisy_fair": o.noisyFair,
	}}
	rep.Setup = append(rep.Setup, fmt.Sprintf("connectorbench: %d CPUs, load average at start %s; each scenario on its own fresh in-memory dynoxide + fauxqs",
		runtime.NumCPU(), loadAvg()))

	emf, err := takeStdout()
	if err != nil {
		return rep, err
	}
	out := emf.real
	defer emf.restore()

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return rep, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return rep, err
		}
		defer pprof.StopCPUProfile()
	}

	want := map[string]bool{}
	for _, s := range strings.Split(o.only, ",") {
		want[strings.TrimSpace(s)] = true
	}
	type measure = func(context.Context, options, *emfCounter, func(string, ...any)) ([]connector.Target, error)
	steps := []struct {
		id string
		f  measure
	}{{"1", measureThroughput}, {"2", one(measureHang)}, {"3", one(measureE2E)}, {"4", measureMessenger}, {"5", measureNoisy}}
	for _, st := range steps {
		if !want[st.id] {
			continue
		}
		ts, err := st.f(ctx, o, emf, logf)
		if err != nil {
			return rep, fmt.Errorf("scenario %s: %w", st.id, err)
		}
		for _, t := range ts {
			logf("%d: %s %s (%s)", t.Number, connector.Num(t.Value), t.Unit, t.Verdict())
		}
		rep.Targets = append(rep.Targets, ts...)
	}
	rep.Setup = append(rep.Setup, fmt.Sprintf("load average at end %s", loadAvg()))
	rep.RuntimeS = time.Since(start).Seconds()
	rep.Judge()
	rep.WriteText(out)
	if o.jsonPath != "" {
		if err := rep.WriteJSON(o.jsonPath); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// one makes a scenario of one target a scenario of targets.
func one(f func(context.Context, options, *emfCounter, func(string, ...any)) (connector.Target, error)) func(context.Context, options, *emfCounter, func(string, ...any)) ([]connector.Target, error) {
	return func(ctx context.Context, o options, emf *emfCounter, logf func(string, ...any)) ([]connector.Target, error) {
		t, err := f(ctx, o, emf, logf)
		return []connector.Target{t}, err
	}
}

// loadAvg is /proc/loadavg's first three fields ("?" elsewhere).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
