// Command msgbench is the messaging part of `make bench`: on fresh
// in-memory emulator stacks of its own (dynoxide, fauxqs; one per
// scenario) and the WhatsApp provider sandbox (infra/local/sandbox) as the
// Cloud API, it measures the outbound message path (POST /v1/messages →
// the table's stream → trigger router → outbox queue → sender → the
// provider), each figure beside a baseline measured in the same run:
//
//  1. API accept → the sandbox receives the send: -rate template messages
//     per second for -duration through the API (local gateway,
//     gateway.ForRoutes) with the stream poller, trigger router, outbox
//     poller and sender wired as `make run` wires them; p95 from the API
//     call's start to the sandbox recording the send (target ≤ 1 s), with
//     a per-stage breakdown; beside it, the same path's DynamoDB and SQS
//     calls alone (store the message, queue its task, receive it, claim,
//     read the credentials, record it sent, delete; the claim and the
//     outcome as the sender makes them), at the same rate.
//  2. sender throughput: -n tasks queued on the outbox, drained by the SQS
//     poller (-concurrency goroutines, batches of 10) into the real sender
//     (claim, credentials, the Cloud API client, record sent) towards the
//     sandbox, first receive → last message done; as a share of its
//     ceiling, the same poller with the sender replaced by a loop that only
//     POSTs each message to the sandbox (receive → POST → delete, no
//     DynamoDB), run just before and just after the sender (target ≥ 0.40
//     of their mean). Beside it, where the time goes: the sender's
//     DynamoDB calls alone, whole and in parts (the claims; the sent
//     updates without the provider ids' pointers), each on a fresh stack
//     with dynoxide's CPU per message.
//  3. chaos: -chaos-n messages stored as the API stores them while the
//     sandbox answers 15 % of sends 429, 15 % 500 and leaves 5 % without
//     an answer (the sender's 15 s timeout), through the stream, router,
//     outbox and sender; once the outbox is empty, every message's final
//     status is read from the store and every send counted at the sandbox
//     by our message id (biz_opaque_callback_data): every message ends
//     sent or failed (none lost, none stuck queued) and none is sent twice
//     (targets: 0 and 0), with -chaos-concurrency batches at once (prod's
//     reserved concurrency of the sender, 20). The sender's retry schedule
//     (5 s·2^(n-1), ten attempts: over 40 minutes for the unluckiest
//     message) is compressed by -chaos-retry (base,cap); the timeout stays
//     the sender's own.
//
// It prints a report and exits 1 when a target is missed (or a measurement
// is invalid), 2 when it cannot run.
//
//	go run ./infra/bench/cmd/msgbench [-rate 100] [-duration 20s] [-n 3000] [-chaos-n 10000] [-json out.json]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/infra/bench/connector"
	"github.com/startmsg/chatbackend/infra/local/pollers"
	"github.com/startmsg/chatbackend/infra/local/sandbox"
)

type options struct {
	rate        int
	duration    time.Duration
	perToken    int
	e2eConc     int
	baselineDur time.Duration
	settle      time.Duration

	n           int
	concurrency int
	drain       time.Duration

	chaos chaosConfig

	only     string
	jsonPath string
}

func main() {
	var o options
	flag.IntVar(&o.rate, "rate", 100, "1: messages per second through the API")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "1: how long messages are sent")
	flag.IntVar(&o.perToken, "per-token", 80, "1: API calls per channel token (the limit is 100 per minute)")
	flag.IntVar(&o.e2eConc, "e2e-concurrency", pollers.DefaultSenderConcurrency, "1: outbox SQSPoller concurrency (make run's default, "+pollers.SenderConcurrencySetting+")")
	flag.DurationVar(&o.baselineDur, "baseline-duration", 5*time.Second, "1: how long the DynamoDB and SQS calls alone are run at -rate")
	flag.DurationVar(&o.settle, "settle-timeout", 30*time.Second, "1: wait this long after the last message for the sends")
	flag.IntVar(&o.n, "n", 3000, "2: outbox tasks to drain (each run)")
	flag.IntVar(&o.concurrency, "concurrency", 8, "2: SQSPoller goroutines (each handles a batch of up to 10 at once)")
	flag.DurationVar(&o.drain, "drain-timeout", 2*time.Minute, "2: give up waiting for a drain after this long")
	flag.IntVar(&o.chaos.N, "chaos-n", 10000, "3: messages")
	flag.IntVar(&o.chaos.Concurrency, "chaos-concurrency", 20, "3: outbox SQSPoller concurrency: the sender's concurrent instances (prod's reserved concurrency, CDK's SenderConcurrency, is 20)")
	flag.Float64Var(&o.chaos.Fail429, "chaos-429", 15, "3: % of sends answered 429 (Retry-After: 1)")
	flag.Float64Var(&o.chaos.Fail500, "chaos-500", 15, "3: % of sends answered 500")
	flag.Float64Var(&o.chaos.Hang, "chaos-hang", 5, "3: % of sends left without an answer (until the sender's timeout)")
	flag.StringVar(&o.chaos.Retry, "chaos-retry", "1s,4s", "3: the sender's retry schedule, base,cap: base·2^(n-1) at most cap (the sender's own: 5s,15m)")
	flag.DurationVar(&o.chaos.Timeout, "chaos-provider-timeout", 0, "3: the sender's provider call timeout (0: its own, 15 s)")
	flag.BoolVar(&o.chaos.InMemory, "chaos-in-memory", false, "3, diagnostic: dynoxide in memory with its stream untrimmed (each write then reads every stream record of the run)")
	flag.DurationVar(&o.chaos.Settle, "chaos-timeout", 20*time.Minute, "3: give up waiting for the outbox to empty after this long")
	flag.StringVar(&o.only, "only", "1,2,3", "scenarios to run, comma-separated")
	flag.StringVar(&o.jsonPath, "json", "", "also write the report as JSON to `file`")
	flag.Parse()
	if flag.NArg() > 0 || o.rate < 1 || o.duration < time.Second || o.perToken < 3 || o.perToken > 98 || o.n < 10 || o.concurrency < 1 ||
		o.chaos.N < 1 || o.chaos.Concurrency < 1 || o.e2eConc < 1 {
		fmt.Fprintln(os.Stderr, "msgbench: need -rate ≥ 1, -duration ≥ 1s, 3 ≤ -per-token ≤ 98, -n ≥ 10, -concurrency ≥ 1, -chaos-n ≥ 1, -chaos-concurrency ≥ 1")
		flag.Usage()
		os.Exit(2)
	}
	if err := o.chaos.parse(); err != nil {
		fmt.Fprintln(os.Stderr, "msgbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "msgbench:", err)
		os.Exit(2)
	}
	if !rep.Pass {
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (connector.Report, error) {
	start := time.Now()
	// The functions log at Info per message; make run keeps warnings only.
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	rep := connector.Report{Config: map[string]any{
		"rate": o.rate, "duration_s": o.duration.Seconds(), "per_token": o.perToken, "e2e_concurrency": o.e2eConc,
		"n": o.n, "concurrency": o.concurrency, "chaos": o.chaos, "cpus": runtime.NumCPU(), "gomaxprocs": runtime.GOMAXPROCS(0),
	}}
	rep.Setup = append(rep.Setup, fmt.Sprintf("msgbench: %d CPUs, load average at start %s; each scenario on its own fresh dynoxide + fauxqs (data on tmpfs, stream records trimmed as they age); the provider sandbox on loopback, without status webhooks",
		runtime.NumCPU(), loadAvg()))
	sb, err := startSandbox()
	if err != nil {
		return rep, err
	}
	defer sb.Close()

	want := map[string]bool{}
	for _, s := range strings.Split(o.only, ",") {
		want[strings.TrimSpace(s)] = true
	}
	steps := []struct {
		id string
		f  func(context.Context, options, *sandbox.Server, func(string, ...any)) ([]connector.Target, error)
	}{{"1", measureE2E}, {"2", measureThroughput}, {"3", measureChaos}}
	for _, st := range steps {
		if !want[st.id] {
			continue
		}
		sb.Reset()
		if err := sb.SetFaults(sandbox.Faults{}); err != nil {
			return rep, err
		}
		ts, err := st.f(ctx, o, sb, logf)
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
	rep.WriteText(os.Stdout)
	if o.jsonPath != "" {
		if err := rep.WriteJSON(o.jsonPath); err != nil {
			return rep, err
		}
	}
	return rep, nil
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
