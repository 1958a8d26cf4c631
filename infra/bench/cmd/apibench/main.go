// Command apibench is the API half of `make bench`: on a fresh in-memory
// emulator stack of its own (dynoxide, fauxqs) with the whole API behind the
// local gateway (authorizer cache 300 s, as in AWS) on a loopback port, it
// measures, each beside a baseline taken in the same run:
//
//  1. GET /v1/contact/{id}: p50 of sequential requests vs the sum of the
//     p50s of the DynamoDB calls the request makes, replayed directly with
//     the handlers' own DynamoDB client (target: ≤ 1.5×);
//  2. wrk requests/s at 1 and 32 connections for the same GET vs dynoxide's
//     own GetItem of the same item (no target; a run with any non-2xx
//     answer is invalid);
//  3. GET /v1/contact/by_custom_field p50 with -contacts contacts in the
//     tenant vs with 1,000, the same query shape (target: ≤ 1.2×);
//  4. the CPU time of one GET /v1/contact/{id} in contact-get's handler
//     invoked directly, as Lambda runs it (target: ≤ 0.3 ms, absolute),
//     beside the same through the local gateway in-process and the whole
//     process over the wrk run; the emulator's CPU apart (see cpu.go);
//  5. GET /v1/contact/by_custom_field p50 for a value all -contacts contacts
//     of the large tenant share vs one 5 of them have (target: ≤ 1.5×);
//  6. a bulk create of 10,000 contacts with one value at 4,000 a second
//     through a client that enforces DynamoDB's 1,000 writes a second per
//     partition: the busiest partition's writes a second vs that limit
//     (target: ≤ 1×, and no create throttled).
//
// It prints a report and exits 1 when a target is missed (or a measurement
// is invalid), 2 when it cannot run.
//
//	go run ./infra/bench/cmd/apibench [-n 2000] [-warmup 200] [-contacts 100000] [-wrk-duration 10s] [-json out.json]
//
// The rate limit (100 calls per minute per credential) stays as it is: the
// benchmark creates tokens through the tenancy service and gives each at
// most 90 requests, and fills the authorizer cache with each before
// measuring. The table's stream is turned off after provisioning (nothing
// reads it here, and dynoxide 1.2.1's writes slow down with every stream
// record it keeps; -keep-stream to see it). See package infra/bench/api for
// the parts that need no stack.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/startmsg/chatbackend/infra/bench/api"
)

type options struct {
	n              int
	warmup         int
	wrkDuration    time.Duration
	contacts       int
	small          int
	seedWorkers    int
	jsonPath       string
	cpuProfile     string
	fnProfile      string
	wrk            string
	sdkIdleConns   int
	keepStream     bool
	keepSeedTokens bool
	onlyCPU        bool
	fnMemProfile   string
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 2000, "measured requests per latency series (targets 1 and 3)")
	flag.IntVar(&o.warmup, "warmup", 200, "warm-up requests per series, not measured")
	flag.DurationVar(&o.wrkDuration, "wrk-duration", 10*time.Second, "length of each wrk run (whole seconds)")
	flag.IntVar(&o.contacts, "contacts", 100000, "contacts in the large tenant (target 3)")
	flag.IntVar(&o.small, "small-contacts", 1000, "contacts in the small tenant (target 3)")
	flag.IntVar(&o.seedWorkers, "seed-workers", 32, "goroutines writing contacts while seeding")
	flag.StringVar(&o.jsonPath, "json", "", "also write the report as JSON to `file`")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of targets 1-3 (not the seeding, not part 4) to `file`")
	flag.StringVar(&o.fnProfile, "fnprofile", "", "write a CPU profile of part 4's function run (contact-get's handler invoked directly) to `file`")
	flag.StringVar(&o.wrk, "wrk", "wrk", "the wrk binary")
	flag.IntVar(&o.sdkIdleConns, "sdk-idle-conns", 0, "diagnostic: MaxIdleConnsPerHost of the SDK's HTTP client (0 = the SDK's default, as the functions use)")
	flag.BoolVar(&o.keepStream, "keep-stream", false, "diagnostic: keep the table's stream on (dynoxide then slows with every write; see stack.go)")
	flag.BoolVar(&o.keepSeedTokens, "keep-seed-tokens", false, "diagnostic: let the SDK put idempotency tokens on the seed's transactions (dynoxide then slows down as they pile up; see seed.go)")
	flag.StringVar(&o.fnMemProfile, "fnmemprofile", "", "diagnostic: write an allocation profile of part 4's function run (every allocation sampled, which slows it: its CPU figure is then not comparable) to `file`")
	flag.BoolVar(&o.onlyCPU, "only-cpu", false, "run part 4 (CPU per request) alone and report it; with -small-contacts 10 -contacts 10 it needs no large seed")
	flag.Parse()
	if flag.NArg() > 0 || o.n < 1 || o.warmup < 0 || o.small < matchesPerValue*2 || o.contacts < o.small || o.seedWorkers < 1 || o.wrkDuration < time.Second {
		fmt.Fprintln(os.Stderr, "apibench: need -n ≥ 1, -warmup ≥ 0, -small-contacts ≥ 10, -contacts ≥ -small-contacts, -seed-workers ≥ 1, -wrk-duration ≥ 1s")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(2)
	}
	if !rep.Pass() {
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (api.Report, error) {
	start := time.Now()
	rep := api.Report{Config: map[string]any{
		"n": o.n, "warmup": o.warmup, "wrk_duration_s": o.wrkDuration.Seconds(), "contacts": o.contacts,
		"small_contacts": o.small, "seed_workers": o.seedWorkers, "per_token": perToken,
		"auth_cache_s": authCacheTTL.Seconds(), "cpus": runtime.NumCPU(), "sdk_idle_conns": o.sdkIdleConns, "keep_stream": o.keepStream, "keep_seed_tokens": o.keepSeedTokens,
	}}
	e, err := startEnv(ctx, o, &rep.Setup)
	if err != nil {
		return rep, err
	}
	defer e.close()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	small, err := e.newFixture(ctx, "small")
	if err != nil {
		return rep, err
	}
	large, err := e.newFixture(ctx, "large")
	if err != nil {
		return rep, err
	}
	logf("seeding %d + %d contacts", o.small, o.contacts)
	t0 := time.Now()
	err = e.seed(ctx, o.seedWorkers, []seedJob{{small, o.small}, {large, o.contacts}}, func(done, total int) {
		logf("seeded %d of %d contacts", done, total)
	})
	if err != nil {
		return rep, fmt.Errorf("seed: %w", err)
	}
	seedTime := time.Since(t0)
	rep.Seeding = api.Seeding{
		Contacts: map[string]int{"small tenant": o.small, "large tenant": o.contacts},
		Items:    itemsPerContact, Workers: o.seedWorkers, Duration: api.Seconds(seedTime),
		PerSec: float64(o.small+o.contacts) / seedTime.Seconds(),
		How:    "ddbstore.Contacts.CreateContact: one TransactWriteItems of the contact, its index entries and their counts' ADDs each",
	}
	logf("seeded in %s", seedTime.Round(time.Millisecond))

	full := fullContact(small)
	if err := e.store.CreateContact(ctx, full); err != nil {
		return rep, fmt.Errorf("create the contact to GET: %w", err)
	}
	contactID := full.ID

	// Part 4 runs first, on a quiet process, with a profile of its own.
	logf("4: CPU per GET /v1/contact/{id}, %d + %d requests, function then gateway", o.warmup, o.n)
	if rep.CPU, err = e.measureCPU(ctx, small, contactID, o); err != nil {
		return rep, fmt.Errorf("CPU per request: %w", err)
	}
	rep.CPU.Number = 4
	if o.onlyCPU {
		rep.Runtime = api.Seconds(time.Since(start))
		rep.WriteText(os.Stdout)
		if o.jsonPath != "" {
			return rep, rep.WriteJSON(o.jsonPath)
		}
		return rep, nil
	}

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

	logf("1: GET /v1/contact/{id}, %d + %d sequential requests", o.warmup, o.n)
	getTarget, inputs, err := e.measureGet(ctx, small, contactID, o)
	if err != nil {
		return rep, fmt.Errorf("GET latency: %w", err)
	}
	getTarget.Number = 1
	rep.Targets = append(rep.Targets, getTarget)

	logf("2: wrk, %s per run", o.wrkDuration)
	seqP50 := time.Duration(getTarget.Value * float64(time.Millisecond))
	rep.Throughput = e.measureThroughput(ctx, small, contactID, inputs, seqP50, o)
	rep.Throughput.Number = 2
	rep.CPU.WrkMS = wrkCPUPerRequest(rep.Throughput, 32)

	logf("3: by_custom_field, %d + %d searches per tenant", o.warmup, o.n)
	searchTarget, err := e.measureSearch(ctx,
		&searchSide{f: small, contacts: o.small}, &searchSide{f: large, contacts: o.contacts}, o)
	if err != nil {
		return rep, fmt.Errorf("search latency: %w", err)
	}
	searchTarget.Number = 3
	rep.Targets = append(rep.Targets, searchTarget)

	logf("5: by_custom_field, a value %d contacts share vs one %d have, %d + %d searches each", o.contacts, matchesPerValue, o.warmup, o.n)
	commonTarget, err := e.measureCommon(ctx, large, o.contacts, o)
	if err != nil {
		return rep, fmt.Errorf("common value search: %w", err)
	}
	commonTarget.Number = 5
	rep.Targets = append(rep.Targets, commonTarget)

	logf("6: bulk create of %d contacts with one value, per-partition write limit %d/s", bulkImport, 1000)
	bulkTarget, err := e.measureBulk(ctx, o.seedWorkers)
	if err != nil {
		return rep, fmt.Errorf("bulk import: %w", err)
	}
	bulkTarget.Number = 6
	rep.Targets = append(rep.Targets, bulkTarget)

	rep.Runtime = api.Seconds(time.Since(start))
	rep.WriteText(os.Stdout)
	if o.jsonPath != "" {
		if err := rep.WriteJSON(o.jsonPath); err != nil {
			return rep, err
		}
	}
	return rep, nil
}
