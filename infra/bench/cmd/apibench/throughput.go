package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/infra/bench/api"
)

// A DynamoDB request without the SDK. dynoxide refuses one without an
// Authorization header (400 MissingAuthenticationTokenException) and one
// whose header lacks Credential, SignedHeaders or Signature, or that comes
// without X-Amz-Date or Date (IncompleteSignatureException); it does not
// check the signature itself, so a fixed fake one will do.
const (
	fakeAmzDate = "20260101T000000Z"
	fakeSigV4   = "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, " +
		"SignedHeaders=content-type;host;x-amz-date;x-amz-target, " +
		"Signature=0000000000000000000000000000000000000000000000000000000000000000"
)

func dynamoHeaders(target string, auth bool) map[string]string {
	h := map[string]string{
		"Content-Type": "application/x-amz-json-1.0",
		"X-Amz-Target": "DynamoDB_20120810." + target,
	}
	if auth {
		h["X-Amz-Date"] = fakeAmzDate
		h["Authorization"] = fakeSigV4
	}
	return h
}

// probeDynamo sends the GetItem body without and with the fake SigV4
// header and says what dynoxide answered.
func probeDynamo(ctx context.Context, endpoint, body string) (string, error) {
	send := func(auth bool) (int, string, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader(body))
		if err != nil {
			return 0, "", "", err
		}
		for k, v := range dynamoHeaders("GetItem", auth) {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header.Get("X-Dynoxide-Version"), nil
	}
	code, body0, version, err := send(false)
	if err != nil {
		return "", err
	}
	without := fmt.Sprintf("%d", code)
	if i := strings.Index(body0, "#"); i >= 0 {
		if j := strings.Index(body0[i:], `"`); j > 0 {
			without += " " + body0[i+1:i+j]
		}
	}
	code, body1, _, err := send(true)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK || !strings.Contains(body1, `"Item"`) {
		return "", fmt.Errorf("GetItem with the fake SigV4 header: %d %s", code, body1)
	}
	return fmt.Sprintf("dynoxide %s: GetItem without Authorization → %s; with a fixed fake AWS4-HMAC-SHA256 header (zero signature) and X-Amz-Date → 200 with the item: it checks that the header is there and well formed, not the signature",
		version, without), nil
}

// selfCPUKey names this process (the gateway, the handlers, the SDK) in
// the CPU readings of the wrk runs.
const selfCPUKey = "apibench (gateway, handlers, SDK)"

// wrkRun is one wrk invocation and the CPU the processes used meanwhile.
type wrkRun struct {
	stats api.WrkStats
	cpu   map[string]api.Seconds
	out   string
}

func runWrk(ctx context.Context, wrk string, threads, conns int, d time.Duration, script, url string, watch map[string]int) (wrkRun, error) {
	f, err := os.CreateTemp("", "apibench-*.lua")
	if err != nil {
		return wrkRun{}, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(script); err != nil {
		f.Close()
		return wrkRun{}, err
	}
	f.Close()
	secs := strconv.Itoa(int(math.Max(1, math.Round(d.Seconds()))))
	cmd := exec.CommandContext(ctx, wrk, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", secs+"s",
		"--timeout", "10s", "--latency", "-s", f.Name(), url)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	before := cpuOf(watch)
	logLevel.Set(slog.LevelError + 4)
	err = cmd.Run()
	// Handlers cut off when wrk closed its connections finish (and log)
	// shortly after it exits.
	time.Sleep(300 * time.Millisecond)
	logLevel.Set(slog.LevelWarn)
	if err != nil {
		return wrkRun{out: out.String()}, fmt.Errorf("wrk: %w\n%s", err, out.String())
	}
	after := cpuOf(watch)
	cpu := map[string]api.Seconds{}
	for k, b := range before {
		if a, ok := after[k]; ok {
			cpu[k] = api.Seconds(a - b)
		}
	}
	cpu["wrk"] = api.Seconds(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime())
	st, err := api.ParseWrk(out.String())
	return wrkRun{stats: st, cpu: cpu, out: out.String()}, err
}

func cpuOf(pids map[string]int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for k, pid := range pids {
		if d, err := api.ProcCPU(pid); err == nil {
			out[k] = d
		}
	}
	return out
}

// dynoxidePID finds the emulator process listening on port.
func dynoxidePID(port int) int {
	p := strconv.Itoa(port)
	pids := api.FindProcesses(func(argv []string) bool {
		return filepath.Base(argv[0]) == "dynoxide" && slices.Contains(argv, p)
	})
	if len(pids) != 1 {
		return 0
	}
	return pids[0]
}

// measureThroughput is part 2: wrk at each connection count against the
// gateway's GET /v1/contact/{id} and against dynoxide's GetItem of the same
// item, one after the other.
func (e *env) measureThroughput(ctx context.Context, f *fixture, contactID string, in getInputs, seqP50 time.Duration, o options) api.Throughput {
	th := api.Throughput{Duration: api.Seconds(o.wrkDuration)}
	wrk, err := exec.LookPath(o.wrk)
	if err != nil {
		th.Skipped = fmt.Sprintf("%s not found on PATH: install it with `apt-get install -y wrk` (make bench does that when run as root)", o.wrk)
		return th
	}
	body, err := dynamoGetBody(in.contact)
	if err != nil {
		th.Invalid = err.Error()
		return th
	}
	probe, err := probeDynamo(ctx, e.stack.DynamoEndpoint, body)
	if err != nil {
		th.Invalid = err.Error()
		return th
	}
	th.Notes = append(th.Notes, probe)
	watch := map[string]int{selfCPUKey: os.Getpid()}
	if pid := dynoxidePID(e.dynamoPort); pid > 0 {
		watch["dynoxide"] = pid
	}
	path := "/v1/contact/" + contactID
	emuScript := api.StaticScript("POST", "/", dynamoHeaders("GetItem", true), body)

	// Tokens: enough for the rate the run could reach, each used for at
	// most perToken requests. The 1-connection run is bounded by the
	// sequential latency measured before; the 32-connection run by 8× the
	// 1-connection rate (2 cores: it cannot be more than a few times).
	expect := func(rate float64) int {
		return api.TokensNeeded(int(rate*o.wrkDuration.Seconds()*1.5)+1, perToken)
	}
	rate := 1 / math.Max(seqP50.Seconds(), 1e-5)
	for _, conns := range []int{1, 32} {
		threads := min(conns, 2)
		row := api.ThroughputRow{Connections: conns, Threads: threads}
		tokens, err := e.tokens(ctx, f, max(expect(rate), 2*threads))
		if err == nil {
			_, err = e.prime(ctx, path, tokens)
		}
		if err != nil {
			th.Invalid = fmt.Sprintf("tokens for %d connections: %v", conns, err)
			return th
		}
		row.Tokens = len(tokens)
		row.SocketsBefore = api.TCPState(e.dynamoPort)
		dials := e.dials.Load()
		gw, err := runWrk(ctx, wrk, threads, conns, o.wrkDuration, api.GatewayScript(path, tokens, perToken, threads), e.gatewayURL+path, watch)
		if err != nil {
			th.Invalid = err.Error()
			return th
		}
		row.Sockets = api.TCPState(e.dynamoPort)
		row.Dials = e.dials.Load() - dials
		emu, err := runWrk(ctx, wrk, threads, conns, o.wrkDuration, emuScript, e.stack.DynamoEndpoint+"/", watch)
		if err != nil {
			th.Invalid = err.Error()
			return th
		}
		row.Gateway, row.Emulator, row.CPU, row.CPUEmulatorRun = gw.stats, emu.stats, gw.cpu, emu.cpu
		row.Ratio = api.Num(api.Ratio(gw.stats.RequestsPerSec, emu.stats.RequestsPerSec))
		th.Rows = append(th.Rows, row)
		var bad []string
		if n := gw.stats.Non2xx + gw.stats.SocketErrors; n > 0 {
			bad = append(bad, fmt.Sprintf("gateway run: %d non-2xx answers (429s among them if tokens ran out: %d tokens × %d for %d requests), %d socket errors",
				gw.stats.Non2xx, len(tokens), perToken, gw.stats.Requests, gw.stats.SocketErrors))
		}
		if n := emu.stats.Non2xx + emu.stats.SocketErrors; n > 0 {
			bad = append(bad, fmt.Sprintf("emulator run: %d non-2xx, %d socket errors", emu.stats.Non2xx, emu.stats.SocketErrors))
		}
		if len(bad) > 0 {
			th.Invalid = fmt.Sprintf("%d connections: %s (nothing excluded)", conns, strings.Join(bad, "; "))
		}
		if gw.stats.Requests > 0 && row.Dials > gw.stats.Requests/20 {
			th.Notes = append(th.Notes, fmt.Sprintf("%d connections: the gateway's SDK client opened %d new connections to dynoxide for %d requests (its transport keeps at most MaxIdleConnsPerHost idle connections per host, 10 by default; -sdk-idle-conns N tries another value)",
				conns, row.Dials, gw.stats.Requests))
		}
		rate = 8 * gw.stats.RequestsPerSec
	}
	th.Notes = append(th.Notes,
		fmt.Sprintf("gateway runs rotate tokens in the Lua script (each token ≤ %d requests, all primed into the authorizer cache first); the emulator runs POST the same item's GetItem (ConsistentRead, as the handler reads it) with the fixed fake SigV4 header", perToken),
		"wrk, the gateway process and dynoxide share the machine's cores: the CPU lines say who used them")
	return th
}
