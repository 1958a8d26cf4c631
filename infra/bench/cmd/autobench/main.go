// Command autobench is the automations' part of `make bench` (issue 14):
// on a fresh in-memory emulator stack it enrolls -n contacts in a
// three-node automation (add a tag, wait -wait, set a field) and lets the
// scheduler's ticker (the releaser make run's poller and scheduler-tick
// run, every -tick, -concurrency handlers at once) take every run to its
// end. It checks that every run completed with each of its three steps
// recorded once (no step ran twice), and measures the scheduler's release
// lag (a due item's handler start minus its due time) at p95, target
// ≤ 2 s, beside the lag of the same ticker releasing as many no-op items
// put at the same pace (the baseline: the ticker's own poll interval and
// reads).
//
// Enrollment is paced at -rate, by default 50 a second: what the local
// emulator sustains beside the releases the runs make (the target is the
// scheduler's lag, not the emulator's saturation). One credential may
// enroll up to 10,000 a minute (167/s: 100 calls a minute of 100 actions)
// through POST /v1/actions; at that pace the local emulator falls behind
// and the lag measured is its backlog. Unpaced (-rate 0), -concurrency
// enrollments in flight
// outrun the releases on the local emulator: one process serves both
// sides, each getting a share of it by the requests it has in flight, and
// a run costs its enrollment 3 requests writing 3 items but its two
// releases 7 requests writing 10 (dynoxide's cost is mostly the items
// written). The report gives the drain rate (releases a second,
// the first to the last) and the enrollment rate reached beside.
//
//	go run ./infra/bench/cmd/autobench [-n 10000] [-rate 50] [-tick 250ms] [-concurrency 16] [-json out.json]
//
// It exits 1 when a target is missed, 2 when it cannot run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/provision"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/scheduler"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// LagTarget is the release lag p95 the runs' due items must meet.
const LagTarget = 2.0 // seconds

// DefaultRate is the enrollment pace: 50 a second, which the one-process
// local emulator sustains beside the releases (measured: it drains about
// 95 releases a second under the bench, two releases a run). One
// credential's most through POST /v1/actions is CredentialRate.
const DefaultRate = 50.0

// CredentialRate is the most one credential enrolls through POST
// /v1/actions: its rate limit of 100 calls a minute, actionapi.MaxActions a
// call (10,000 a minute).
const CredentialRate = 10000.0 / 60

// Target is one figure of the report (connector.Report's shape, which
// benchreport reads).
type Target struct {
	Name    string   `json:"name"`
	Value   float64  `json:"value"`
	Unit    string   `json:"unit"`
	Cmp     string   `json:"comparison"`
	Limit   float64  `json:"limit"`
	Valid   bool     `json:"valid"`
	Invalid string   `json:"invalid,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// Report is the run's outcome (-json).
type Report struct {
	N            int      `json:"n"`
	TickMS       int64    `json:"tick_ms"`
	Concurrency  int      `json:"concurrency"`
	WaitMS       int64    `json:"wait_ms"`
	RatePerSec   float64  `json:"rate_per_s"` // the pace asked (0: none)
	EnrollPerSec float64  `json:"enroll_per_s"`
	DrainPerSec  float64  `json:"drain_per_s"` // releases a second, first to last
	Completed    int      `json:"completed"`
	Repeated     int      `json:"steps_repeated"`
	Wrong        int      `json:"runs_wrong"`
	LagP50       float64  `json:"lag_p50_s"`
	LagP95       float64  `json:"lag_p95_s"`
	LagMax       float64  `json:"lag_max_s"`
	BaseP95      float64  `json:"baseline_lag_p95_s"`
	Seconds      float64  `json:"seconds"`
	Targets      []Target `json:"targets"`
	Pass         bool     `json:"pass"`
}

func main() {
	n := flag.Int("n", 10000, "contacts enrolled")
	tick := flag.Duration("tick", 250*time.Millisecond, "the ticker's poll interval")
	conc := flag.Int("concurrency", 16, "handlers the releaser runs at once, and enrollments in flight")
	wait := flag.Duration("wait", 2*time.Second, "the automation's wait")
	rate := flag.Float64("rate", DefaultRate, "enrollments (and baseline puts) a second; 0: as fast as -concurrency go")
	out := flag.String("json", "", "write the report as JSON here")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	rep, err := run(context.Background(), *n, *tick, *conc, *wait, *rate)
	if err != nil {
		fmt.Fprintln(os.Stderr, "autobench:", err)
		os.Exit(2)
	}
	fmt.Printf("automations, %d contacts enrolled in add tag → wait %s → set field (ticker every %s, %d handlers at once):\n", rep.N, *wait, *tick, rep.Concurrency)
	if rep.RatePerSec > 0 {
		fmt.Printf("  enrollment             %8.0f runs/s (paced at %.0f/s; one credential's most through POST /v1/actions is %.0f/s)\n", rep.EnrollPerSec, rep.RatePerSec, CredentialRate)
	} else {
		fmt.Printf("  enrollment             %8.0f runs/s (unpaced, %d in flight)\n", rep.EnrollPerSec, rep.Concurrency)
	}
	fmt.Printf("  drain                  %8.0f releases/s (first to last)\n", rep.DrainPerSec)
	fmt.Printf("  completed              %8d of %d (wrong %d, steps repeated %d) in %.1f s\n", rep.Completed, rep.N, rep.Wrong, rep.Repeated, rep.Seconds)
	fmt.Printf("  release lag            p50 %.2f s, p95 %.2f s, max %.2f s (target p95 ≤ %.0f s)\n", rep.LagP50, rep.LagP95, rep.LagMax, LagTarget)
	fmt.Printf("  baseline (no-op items) p95 %.2f s\n", rep.BaseP95)
	if *out != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "autobench:", err)
			os.Exit(2)
		}
	}
	if !rep.Pass {
		fmt.Println("autobench: FAIL")
		os.Exit(1)
	}
	fmt.Println("autobench: PASS")
}

// lags records release lags, seconds.
type lags struct {
	mu          sync.Mutex
	v           []float64
	first, last time.Time // the first and the last release
}

func (l *lags) add(d scheduler.Due) {
	now := time.Now()
	s := now.Sub(d.At).Seconds()
	l.mu.Lock()
	l.v = append(l.v, s)
	if l.first.IsZero() {
		l.first = now
	}
	l.last = now
	l.mu.Unlock()
}

// drain is the releases a second from the first to the last.
func (l *lags) drain() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.last.Sub(l.first).Seconds(); d > 0 {
		return float64(len(l.v)-1) / d
	}
	return 0
}

func (l *lags) pct(p float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.v) == 0 {
		return 0
	}
	s := slices.Clone(l.v)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// ticker runs the releaser every tick until ctx ends.
func ticker(ctx context.Context, r *scheduler.Releaser, tick time.Duration) {
	for ctx.Err() == nil {
		if _, err := r.Drain(ctx, 0); err != nil && ctx.Err() == nil {
			slog.Error("tick", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(tick):
		}
	}
}

func run(ctx context.Context, n int, tick time.Duration, conc int, wait time.Duration, rate float64) (Report, error) {
	rep := Report{N: n, TickMS: tick.Milliseconds(), Concurrency: conc, WaitMS: wait.Milliseconds(), RatePerSec: max(rate, 0)}
	d, stop, err := stack(ctx)
	if err != nil {
		return rep, err
	}
	defer stop()
	const tenant = "ten_bench"

	// Baseline: the ticker alone, n no-op items put due at once at the
	// enrollments' pace.
	base := &lags{}
	{
		tctx, cancel := context.WithCancel(ctx)
		var done atomic.Int64
		r := wiring.Releaser(d, map[string]scheduler.Handler{"bench.noop": func(_ context.Context, due scheduler.Due) error {
			base.add(due)
			done.Add(1)
			return nil
		}})
		r.Concurrency = conc
		go ticker(tctx, r, tick)
		store := d.DueStore()
		if err := paced(n, conc, rate, func(i int) error {
			return store.Put(ctx, scheduler.Due{Kind: "bench.noop", TenantID: tenant, Ref: fmt.Sprint(i), At: time.Now()})
		}); err != nil {
			cancel()
			return rep, err
		}
		for end := time.Now().Add(10 * time.Minute); done.Load() < int64(n) && time.Now().Before(end); {
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		rep.BaseP95 = base.pct(0.95)
	}

	// The automation and the contacts (untimed).
	now := time.Now()
	a := automations.Automation{ID: "aut_bench", TenantID: tenant, Name: "bench", On: true, Version: 1, CreatedAt: now.Unix(), UpdatedAt: now.Unix(),
		Triggers: []automations.Trigger{}, Nodes: []automations.Node{
			{ID: "n1", Type: automations.NodeAddTag, Tag: "bench"},
			{ID: "n2", Type: automations.NodeWait, Seconds: int64(wait / time.Second)},
			{ID: "n3", Type: automations.NodeSetField, Field: "lastName", Value: "done"},
		}}
	if a.Nodes[1].Seconds < 1 {
		return rep, errors.New("-wait must be at least 1s")
	}
	if err := d.Automations().CreateAutomation(ctx, a); err != nil {
		return rep, err
	}
	ids := make([]string, n)
	cs := d.Contacts()
	if err := parallel(n, conc, func(i int) error {
		ids[i] = fmt.Sprintf("%015d", 100000000000000+i)
		return cs.CreateContact(ctx, contacts.Contact{ID: ids[i], TenantID: tenant, Fields: map[string]string{"firstName": "Bench"},
			Custom: map[string]string{}, Tags: []string{}, CreatedAt: now.Unix(), UpdatedAt: now.Unix(), Version: 1})
	}); err != nil {
		return rep, err
	}

	// The runs: the engine behind the ticker, its lags recorded.
	lag := &lags{}
	var released atomic.Int64
	engine := d.AutomationEngine()
	r := wiring.Releaser(d, map[string]scheduler.Handler{automations.StepKind: func(ctx context.Context, due scheduler.Due) error {
		lag.add(due)
		err := engine.Handle(ctx, due)
		if err == nil {
			released.Add(1)
		}
		return err
	}})
	r.Concurrency = conc
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go ticker(tctx, r, tick)
	svc := d.Enrollment()
	start := time.Now()
	if err := paced(n, conc, rate, func(i int) error {
		_, err := svc.Enroll(ctx, tenant, a.ID, ids[i], automations.SourceAPI)
		return err
	}); err != nil {
		return rep, err
	}
	rep.EnrollPerSec = float64(n) / time.Since(start).Seconds()
	// Each run is two releases: its first step (the tag, the wait), and
	// its last (the field) once the wait is over.
	for end := time.Now().Add(20 * time.Minute); released.Load() < int64(2*n) && time.Now().Before(end); {
		time.Sleep(200 * time.Millisecond)
	}
	rep.Seconds = time.Since(start).Seconds()
	cancel()
	time.Sleep(tick)

	// Every run: completed, its three steps once each, in order.
	runs := d.Runs()
	var mu sync.Mutex
	if err := parallel(n, conc, func(i int) error {
		p, err := runs.ContactRuns(ctx, tenant, "", ids[i], 10, "")
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if len(p.Runs) != 1 {
			rep.Wrong++
			return nil
		}
		run := p.Runs[0]
		var nodes []string
		for _, s := range run.Steps {
			nodes = append(nodes, s.Node)
		}
		seen := map[string]int{}
		for _, x := range nodes {
			seen[x]++
			if seen[x] == 2 {
				rep.Repeated++
			}
		}
		switch {
		case run.Status == automations.RunCompleted && fmt.Sprint(nodes) == "[n1 n2 n3]":
			rep.Completed++
		default:
			rep.Wrong++
		}
		return nil
	}); err != nil {
		return rep, err
	}
	rep.LagP50, rep.LagP95, rep.LagMax = lag.pct(0.5), lag.pct(0.95), lag.pct(1)
	rep.DrainPerSec = lag.drain()
	pace := "unpaced"
	if rate > 0 {
		pace = fmt.Sprintf("paced at %.0f/s (one credential's most through POST /v1/actions is %.0f/s)", rate, CredentialRate)
	}
	notes := []string{fmt.Sprintf("baseline: the same ticker releasing %d no-op items put at the same pace, lag p95 %.2f s", n, rep.BaseP95),
		fmt.Sprintf("ticker poll interval %s, %d handlers at once", tick, conc),
		fmt.Sprintf("enrollment %s: %.0f runs/s reached; drain %.0f releases/s", pace, rep.EnrollPerSec, rep.DrainPerSec)}
	rep.Targets = []Target{
		{Name: "every run finished", Value: float64(rep.Completed), Unit: "runs", Cmp: "≥", Limit: float64(n), Valid: true,
			Notes: []string{fmt.Sprintf("%d contacts enrolled at %.0f/s; runs wrong %d", n, rep.EnrollPerSec, rep.Wrong)}},
		{Name: "steps run twice", Value: float64(rep.Repeated), Unit: "steps", Cmp: "≤", Limit: 0, Valid: true},
		{Name: "scheduler release lag p95", Value: rep.LagP95, Unit: "s", Cmp: "≤", Limit: LagTarget, Valid: true, Notes: notes},
	}
	rep.Pass = rep.Completed == n && rep.Repeated == 0 && rep.Wrong == 0 && rep.LagP95 <= LagTarget
	return rep, nil
}

// stack starts in-memory emulators with the two tables; stop stops them.
func stack(ctx context.Context) (*wiring.Env, func(), error) {
	emu, err := emulators.Start(ctx, emulators.Options{})
	if err != nil {
		return nil, nil, err
	}
	var once sync.Once
	stop := func() { once.Do(emu.Stop) }
	vars := map[string]string{appenv.TableName: "autobench", appenv.OpsTableName: "autobench-ops", appenv.Stage: "bench"}
	d := wiring.FromConfig(emu.AWSConfig(), func(k string) string { return vars[k] })
	if err := provision.EnsureTables(ctx, d.DDB, vars[appenv.TableName], vars[appenv.OpsTableName]); err != nil {
		stop()
		return nil, nil, err
	}
	return d, stop, nil
}

// paced runs f(0..n-1) on up to conc goroutines, f(i) starting no
// earlier than i/rate seconds after the first (rate ≤ 0: no pace).
func paced(n, conc int, rate float64, f func(i int) error) error {
	if rate <= 0 {
		return parallel(n, conc, f)
	}
	start := time.Now()
	return parallel(n, conc, func(i int) error {
		time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
		return f(i)
	})
}

// parallel runs f(0..n-1) on up to conc goroutines; the first error wins.
func parallel(n, conc int, f func(i int) error) error {
	return bench.Parallel(context.Background(), conc, n, func(_ context.Context, i int) error { return f(i) })
}
