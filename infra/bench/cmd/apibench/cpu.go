package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/startmsg/chatbackend/infra/bench/api"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
)

// getFunction is the function whose CPU per request part 4 measures.
const getFunction = "contact-get"

// apiMemoryMB is the memory size of the API functions in AWS (the CDK
// app's defaultMemoryMB).
const apiMemoryMB = 256

// measureCPU is part 4: the CPU time one warm GET /v1/contact/{id} costs,
// from this process's CPU time in /proc over o.n requests (after o.warmup
// unmeasured ones), in two runs one after the other:
//
//   - the function: the handler lambda.Start runs in contact-get's Lambda
//     (wiring.APIHandler), invoked directly with the proxy event the
//     gateway built for a real request, decoded from JSON and its response
//     encoded to JSON as the Lambda runtime does;
//   - the gateway: the same GET through the local gateway's ServeHTTP in
//     this process (no TCP, no HTTP server), primed tokens.
//
// dynoxide runs in its own process; its CPU is read apart. When profile is
// set, the function run is profiled into it.
func (e *env) measureCPU(ctx context.Context, f *fixture, contactID string, o options) (*api.CPU, error) {
	c := &api.CPU{Requests: o.n, MaxMS: api.MS(api.MaxCPUPerRequest), Profile: o.fnProfile}
	path := "/v1/contact/" + url.PathEscape(contactID)
	tokens, err := e.tokens(ctx, f, api.TokensNeeded(o.warmup+o.n, perToken))
	if err != nil {
		return nil, err
	}
	// The proxy event of a real request through the gateway.
	e.captureGet.Store(true)
	r, err := e.get(ctx, path, tokens[0])
	e.captureGet.Store(false)
	if err != nil {
		return nil, err
	}
	ev := e.capturedGet.Load()
	if r.status != http.StatusOK || ev == nil {
		return nil, fmt.Errorf("GET %s: %d %s (event captured: %v)", path, r.status, r.body, ev != nil)
	}
	if _, err := e.prime(ctx, path, tokens[1:]); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	// The payloads Lambda hands the function: the event with the
	// credential ID of each run of perToken calls, made before measuring.
	groups := (o.warmup+o.n)/perToken + 1
	payloads := make([][][]byte, 2) // by run: warm-up (0), measured (1)
	for run := range payloads {
		payloads[run] = make([][]byte, groups)
		for g := range groups {
			auth := maps.Clone(ev.RequestContext.Authorizer)
			auth[httpapi.AuthCtxCredentialID] = fmt.Sprintf("apibench-cpu-%d-%d", run, g)
			cp := *ev
			cp.RequestContext.Authorizer = auth
			if payloads[run][g], err = json.Marshal(cp); err != nil {
				return nil, err
			}
		}
	}
	lambdaFn := lambdaapp.Invoker{H: e.lambdaGet}
	emu := dynoxidePID(e.dynamoPort)
	statuses := map[string]map[int]int{"function": {}, "gateway": {}}

	// The function, as Lambda invokes it. Each run of perToken calls counts
	// under a credential ID of its own (the rate-limit key; the authorizer
	// already ran), as a token's calls do.
	run := 0
	invoke := func(i int) (int, error) {
		out, err := lambdaFn.Invoke(ctx, payloads[min(run, 1)][i/perToken])
		if err != nil {
			return 0, err
		}
		return responseStatus(out)
	}
	viaGateway := map[string]*http.Request{}
	gateway := func(i int) (int, error) {
		tok := tokens[i/perToken]
		req := viaGateway[tok]
		if req == nil {
			req = httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			viaGateway[tok] = req
		}
		w := httptest.NewRecorder()
		e.gw.ServeHTTP(w, req)
		return w.Code, nil
	}
	type result struct {
		cpu, emu, wall  time.Duration
		dials           int64
		mallocs, allocd uint64
	}
	measure := func(name string, call func(int) (int, error), profile string) (result, error) {
		for i := range o.warmup {
			if st, err := call(i); err != nil || st != http.StatusOK {
				return result{}, fmt.Errorf("%s warm-up: status %d, %v", name, st, err)
			}
		}
		run++
		runtime.GC() // garbage of earlier parts is not this run's
		if profile != "" {
			pf, err := os.Create(profile)
			if err != nil {
				return result{}, err
			}
			defer pf.Close()
			if err := pprof.StartCPUProfile(pf); err != nil {
				return result{}, fmt.Errorf("%s profile: %w", name, err)
			}
			defer pprof.StopCPUProfile()
		}
		if memProfile := o.fnMemProfile; memProfile != "" && name == "function" {
			runtime.MemProfileRate = 1
			defer func() {
				runtime.MemProfileRate = 512 * 1024
				if pf, err := os.Create(memProfile); err == nil {
					_ = pprof.Lookup("allocs").WriteTo(pf, 0)
					pf.Close()
				}
			}()
		}
		cpu0, err := api.ProcCPU(os.Getpid())
		if err != nil {
			return result{}, err
		}
		emu0, _ := api.ProcCPU(emu)
		dials := e.dials.Load()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		t0 := time.Now()
		for i := range o.n {
			st, err := call(o.warmup + i)
			if err != nil {
				return result{}, fmt.Errorf("%s: %w", name, err)
			}
			statuses[name][st]++
		}
		wall := time.Since(t0)
		runtime.ReadMemStats(&m1)
		cpu1, err := api.ProcCPU(os.Getpid())
		if err != nil {
			return result{}, err
		}
		emu1, _ := api.ProcCPU(emu)
		return result{cpu: cpu1 - cpu0, emu: emu1 - emu0, wall: wall, dials: e.dials.Load() - dials,
			mallocs: m1.Mallocs - m0.Mallocs, allocd: m1.TotalAlloc - m0.TotalAlloc}, nil
	}
	// The handlers log one line per request at Info, as Lambda's logger
	// (lambdacontext.NewLogger, JSON) writes it to stdout: here to
	// /dev/null, so that formatting and writing it are counted.
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer devNull.Close()
	saved := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(devNull, &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: lambdacontext.ReplaceAttr})))
	// The Go runtime as lambdaapp.Start sets it in the function's Lambda
	// (GOMAXPROCS, GC) for its memory size, for the function run only.
	undo := lambdaapp.TuneRuntime(func(k string) string {
		if k == lambdaapp.MemorySizeVar {
			return strconv.Itoa(apiMemoryMB)
		}
		return os.Getenv(k)
	})
	gc := debug.SetGCPercent(-1) // reads it
	debug.SetGCPercent(gc)
	tuned := fmt.Sprintf("GOMAXPROCS %d, GOGC %d, memory limit %d MiB", runtime.GOMAXPROCS(0), gc, debug.SetMemoryLimit(-1)>>20)
	fn, err := measure("function", invoke, o.fnProfile)
	undo()
	if err == nil {
		var gw result
		gw, err = measure("gateway", gateway, "")
		c.GatewayMS = api.PerRequestMS(gw.cpu, o.n)
		c.Notes = append(c.Notes, fmt.Sprintf("the gateway run took %s of wall time; new SDK connections to dynoxide: %d in the function run, %d in the gateway run", gw.wall.Round(time.Millisecond), fn.dials, gw.dials))
		c.Notes = append(c.Notes, fmt.Sprintf("heap allocations per request (runtime.MemStats, the whole process): function run %d objects, %d bytes; gateway run %d objects, %d bytes",
			fn.mallocs/uint64(o.n), fn.allocd/uint64(o.n), gw.mallocs/uint64(o.n), gw.allocd/uint64(o.n)))
	}
	slog.SetDefault(saved)
	if err != nil {
		return nil, err
	}
	c.FunctionMS = api.PerRequestMS(fn.cpu, o.n)
	if emu > 0 {
		c.EmulatorMS = api.PerRequestMS(fn.emu, o.n)
	}
	for name, st := range statuses {
		if st[http.StatusOK] != o.n {
			c.Invalid = fmt.Sprintf("%s run: %d of %d requests answered 200 (statuses %v)", name, st[http.StatusOK], o.n, st)
		}
	}
	c.Notes = append([]string{
		fmt.Sprintf("process CPU time (utime+stime, /proc/self/stat, 10 ms ticks) over %d sequential requests after %d unmeasured ones, each run after a GC; the function run took %s of wall time (%.3f ms per request, %.0f%% of one core busy)",
			o.n, o.warmup, fn.wall.Round(time.Millisecond), api.PerRequestMS(fn.wall, o.n), 100*fn.cpu.Seconds()/fn.wall.Seconds()),
		"both runs log the handlers' Info line per request as Lambda's JSON logger does (to /dev/null here)",
		fmt.Sprintf("the function run has the Go runtime as lambdaapp.Start sets it in a Lambda of the API functions' %d MB (lambdaapp.TuneRuntime): %s", apiMemoryMB, tuned),
		fmt.Sprintf("function: %s's handler as its Lambda runs it (lambdaapp.Invoker around wiring.APIHandler: the event's JSON in, proxy conversion, middleware with the rate-limit UpdateItem, the contact GetItem and the fields Query, the response's JSON out), called with the proxy event the gateway built for a real request (%d bytes of JSON); each %d calls count under a rate-limit key of their own", getFunction, len(raw), perToken),
		"gateway: gateway.ServeHTTP in this process with an httptest recorder, primed tokens (the authorizer's cache answers): the function's work plus the local stand-in for API Gateway (route match, authorizer cache and policy, the proxy event, the response), without the HTTP server",
		"the function run's handler is built from the SDK config without the benchmark's recorder middleware, as in Lambda (no APIOptions); the gateway's handlers run it, switched off here (one atomic load per call)",
	}, c.Notes...)
	if emu == 0 {
		c.Notes = append(c.Notes, "dynoxide's process was not found: its CPU is not reported")
	}
	if c.Profile != "" {
		c.Notes = append(c.Notes, fmt.Sprintf("pprof CPU profile of the function run: %s (go tool pprof -top %s)", c.Profile, c.Profile))
	}
	return c, nil
}

// wrkCPUPerRequest is this process's CPU per request over the wrk run at
// conns connections, 0 if there was none.
func wrkCPUPerRequest(th api.Throughput, conns int) float64 {
	for _, row := range th.Rows {
		if row.Connections == conns && row.Gateway.Requests > 0 {
			return api.PerRequestMS(time.Duration(row.CPU[selfCPUKey]), int(row.Gateway.Requests))
		}
	}
	return 0
}

// responseStatus is the statusCode of a proxy response's JSON.
func responseStatus(b []byte) (int, error) {
	const key = `"statusCode":`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, fmt.Errorf("no statusCode in %.200q", b)
	}
	j := i + len(key)
	k := j
	for k < len(b) && b[k] >= '0' && b[k] <= '9' {
		k++
	}
	return strconv.Atoi(string(b[j:k]))
}
