// Package rie runs the functions' bootstrap binaries the way Lambda runs
// them: each under AWS's Runtime Interface Emulator (aws-lambda-rie, built
// from the module version go.mod pins), which serves the Lambda Runtime API
// to the bootstrap and takes invocations on
// POST /2015-03-31/functions/function/invocations.
//
// The entry-path tests (events), `make invoke` (infra/local/invoke) and the
// cold-start bench (infra/bench/cmd/coldstart) use it. Binary builds the
// emulator, Bootstraps builds bootstraps for the host, Start runs one.
//
// How the emulator is driven (from its source, internal/lambda/rie):
//   - aws-lambda-rie --runtime-interface-emulator-address host:port
//     --runtime-api-address host:port <bootstrap>; both addresses are free
//     loopback ports here (its defaults, 0.0.0.0:8080 and 127.0.0.1:9001,
//     would clash between runs).
//   - It passes its own environment on to the bootstrap; AWS_LAMBDA_FUNCTION_*
//     name the function, AWS_LAMBDA_FUNCTION_TIMEOUT (seconds) bounds init
//     and each invocation.
//   - Init happens at the first invocation. It logs
//     "INIT RTDONE(status: success|error)" and "INIT REPORT(durationMs: N)",
//     the time from starting the bootstrap to its first request for an
//     invocation (or its failure); Function.Init reads them.
//   - A failed init or invocation answers 200 with the runtime's error
//     document ({"errorMessage":..,"errorType":..}) or 502, and a timeout
//     answers "Task timed out after N.00 seconds"; Invoke turns each into an
//     *InvokeError.
package rie

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options say how to run one bootstrap.
type Options struct {
	// Name is the function's name (AWS_LAMBDA_FUNCTION_NAME).
	Name string
	// Bootstrap is the binary to run, built for the host (Bootstraps).
	Bootstrap string
	// Env is the function's own environment (TABLE_NAME, AWS endpoints,
	// credentials, region, ...), added to a Lambda-like base environment
	// (see BaseEnv); later entries win.
	Env []string
	// Timeout is the function's timeout (AWS_LAMBDA_FUNCTION_TIMEOUT), for
	// init and for each invocation. Default 30s; whole seconds.
	Timeout time.Duration
	// Log, when set, receives the emulator's and the bootstrap's output.
	Log io.Writer
}

// Function is one running emulator with its bootstrap.
type Function struct {
	// URL is the invocation endpoint.
	URL string

	name   string
	cmd    *exec.Cmd
	out    *logBuffer
	home   string
	exited chan struct{}
	err    error // from Wait, set before exited is closed
	stop   sync.Once
	client *http.Client
}

// BaseEnv is the environment of a provided.al2023 function with 256 MB of
// memory, as far as a bootstrap can see it, with an empty HOME (so no AWS
// config file of the host is read) and the instance metadata service off.
func BaseEnv(name, home string, timeout time.Duration) []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"HOME=" + home,
		"_HANDLER=bootstrap",
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(int(max(timeout/time.Second, 1))),
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + name,
		"AWS_LAMBDA_LOG_STREAM_NAME=rie",
		"AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"AWS_EC2_METADATA_DISABLED=true",
		"LOG_LEVEL=info", // the emulator's own: INIT REPORT is an info line
	}
}

// startTimeout bounds how long the emulator may take to listen.
const startTimeout = 20 * time.Second

// Start runs aws-lambda-rie (the binary at bin) with o.Bootstrap on free
// loopback ports and returns once it accepts invocations. The bootstrap
// itself starts at the first Invoke, as in Lambda. Stop it with Stop.
func Start(ctx context.Context, bin string, o Options) (*Function, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	boot, err := filepath.Abs(o.Bootstrap)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(boot); err != nil {
		return nil, fmt.Errorf("bootstrap of %s: %w", o.Name, err)
	}
	var last error
	// A free port can be taken between choosing it and the emulator binding
	// it; try again with others.
	for range 3 {
		f, err := start(ctx, bin, boot, o)
		if err == nil {
			return f, nil
		}
		last = err
		if !errors.Is(err, errExited) {
			break
		}
	}
	return nil, last
}

var errExited = errors.New("aws-lambda-rie exited during start-up")

func start(ctx context.Context, bin, boot string, o Options) (*Function, error) {
	rieAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	home, err := os.MkdirTemp("", "rie-home-")
	if err != nil {
		return nil, err
	}
	f := &Function{
		URL:    "http://" + rieAddr + "/2015-03-31/functions/function/invocations",
		name:   o.Name,
		out:    &logBuffer{max: 256 << 10, copy: o.Log, changed: make(chan struct{}, 1)},
		home:   home,
		exited: make(chan struct{}),
		client: &http.Client{Timeout: 2*o.Timeout + 30*time.Second},
	}
	f.cmd = exec.Command(bin, "--runtime-interface-emulator-address", rieAddr, "--runtime-api-address", apiAddr, boot)
	f.cmd.Dir = filepath.Dir(boot) // as /var/task is in Lambda
	f.cmd.Env = append(BaseEnv(o.Name, home, o.Timeout), o.Env...)
	f.cmd.Stdout, f.cmd.Stderr = f.out, f.out
	f.cmd.SysProcAttr = sysProcAttr()
	if err := f.cmd.Start(); err != nil {
		os.RemoveAll(home)
		return nil, fmt.Errorf("start aws-lambda-rie: %w", err)
	}
	go func() {
		f.err = f.cmd.Wait()
		close(f.exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", rieAddr, time.Second)
		if err == nil {
			c.Close()
			return f, nil
		}
		select {
		case <-f.exited:
			f.Stop()
			return nil, fmt.Errorf("%w (%v): %s", errExited, f.err, f.out.String())
		case <-ctx.Done():
			f.Stop()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			f.Stop()
			return nil, fmt.Errorf("aws-lambda-rie not listening on %s after %v: %s", rieAddr, startTimeout, f.out.String())
		}
	}
}

// freeAddr returns a loopback host:port nothing listens on right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// InvokeError is an invocation the function did not answer: its init or
// handler failed, it timed out, or the emulator refused it.
type InvokeError struct {
	Function string
	Status   int    // the emulator's HTTP status
	Body     string // its answer: the runtime's error document, or a message
	Output   string // the tail of the emulator's and the bootstrap's output
}

func (e *InvokeError) Error() string {
	return fmt.Sprintf("%s: invocation failed (HTTP %d): %s\n  output:\n    %s", e.Function, e.Status, e.Body,
		strings.ReplaceAll(strings.TrimSpace(e.Output), "\n", "\n    "))
}

var timedOut = regexp.MustCompile(`^Task timed out after [0-9.]+ seconds$`)

// Invoke sends one event, as Lambda's Invoke API would, and returns the
// function's answer. A function error, a failed init, a timeout or a
// status other than 200 is an *InvokeError.
func (f *Function) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: invoke: %w\n%s", f.name, err, f.out.String())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: read answer: %w", f.name, err)
	}
	if resp.StatusCode != http.StatusOK || timedOut.Match(body) || isErrorDocument(body) {
		// Let the emulator finish writing its log lines about it.
		time.Sleep(20 * time.Millisecond)
		return nil, &InvokeError{Function: f.name, Status: resp.StatusCode, Body: string(body), Output: f.out.String()}
	}
	return body, nil
}

// isErrorDocument reports whether body is what a runtime posts to
// .../invocation/{id}/error or .../init/error.
func isErrorDocument(body []byte) bool {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return false
	}
	_, msg := doc["errorMessage"]
	_, typ := doc["errorType"]
	return msg && typ && len(doc) <= 3
}

// initFailure is why the emulator says init failed, e.g. "Runtime exited
// with error: exit status 3" or "errResetReceived" (a timeout).
func initFailure(out string) string {
	if m := initFailed.FindStringSubmatch(out); m != nil {
		return strings.TrimSpace(m[1])
	}
	return "see output"
}

var (
	initFailed = regexp.MustCompile(`(?m)Init failed .*?error=(.*?)(?: InvokeID=\S*)?$`)
	initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	initDone   = regexp.MustCompile(`INIT RTDONE\(status: ([a-z_]+)\)`)
)

// Init returns the init duration the emulator logged for the bootstrap:
// from its start to its first request for an invocation. It is known after
// the first Invoke; an init that failed is an error.
func (f *Function) Init() (time.Duration, error) {
	d, _, err := parseInit(f.out.String())
	return d, err
}

// parseInit reads the init lines of one snapshot of the emulator's log:
// the duration, or an error; complete tells whether both lines (RTDONE and
// REPORT) are in it, so that the error is final.
func parseInit(out string) (d time.Duration, complete bool, err error) {
	status := initDone.FindStringSubmatch(out)
	report := initReport.FindStringSubmatch(out)
	switch {
	case status == nil || report == nil:
		return 0, false, fmt.Errorf("no INIT REPORT in the emulator's log:\n%s", out)
	case status[1] != "success":
		return 0, true, fmt.Errorf("init ended with status %s (%s):\n%s", status[1], initFailure(out), out)
	}
	ms, err := strconv.ParseFloat(report[1], 64)
	if err != nil {
		return 0, true, fmt.Errorf("INIT REPORT %q: %w", report[1], err)
	}
	return time.Duration(ms * float64(time.Millisecond)), true, nil
}

// ColdStart sends one invocation, which starts the bootstrap (Lambda's
// on-demand init), and returns as soon as the emulator has logged the end
// of init, with Init's result: it does not wait for the answer, which Stop
// abandons. An init that failed or timed out is an *InitError.
func (f *Function) ColdStart(ctx context.Context, event []byte) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		body []byte
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		body, err := f.Invoke(ctx, event)
		answered <- answer{body, err}
	}()
	var ans *answer
	var lagged <-chan time.Time
	for {
		// One snapshot of the log per look: the lines keep arriving through
		// the pipe, and a second read could see a line the first missed.
		out := f.out.String()
		if d, complete, err := parseInit(out); err == nil {
			return d, nil
		} else if complete {
			ie := &InitError{Function: f.name, Reason: err.Error(), Output: out}
			if ans == nil {
				select { // the answer to a failed init says why
				case a := <-answered:
					ans = &a
				case <-time.After(time.Second):
				}
			}
			if ans != nil {
				var inv *InvokeError
				if errors.As(ans.err, &inv) {
					ie.Body = inv.Body
				}
			}
			return 0, ie
		}
		// The emulator's log reaches us through a pipe, and may lag behind
		// its answer: after the answer, wait a while for the log.
		var logLag <-chan time.Time
		if ans != nil {
			if lagged == nil {
				lagged = time.After(5 * time.Second)
			}
			logLag = lagged
		}
		select {
		case <-logLag:
			return 0, &InitError{Function: f.name, Reason: fmt.Sprintf("answered (%v) without an INIT REPORT", ans.err), Output: f.out.String()}
		case a := <-answered:
			ans = &a
		case <-f.out.changed:
		case <-f.exited:
			// Wait has copied all of its output by now: one last look.
			out := f.out.String()
			if d, _, err := parseInit(out); err == nil {
				return d, nil
			}
			return 0, &InitError{Function: f.name, Reason: fmt.Sprintf("aws-lambda-rie exited (%v)", f.err), Output: out}
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// InitError is a bootstrap whose init failed: it exited, posted
// .../init/error or did not ask for an invocation within its timeout.
type InitError struct {
	Function string
	Reason   string // what the emulator logged
	Body     string // the emulator's answer to the invocation, if any
	Output   string // the tail of the emulator's and the bootstrap's output
}

// RuntimeAPIPortTaken tells that the init never ran because the emulator
// could not bind its Runtime API address: another process took the port
// between freeAddr choosing it and the emulator binding it, which it does
// only at the first invocation. It is the harness's failure, not the
// bootstrap's; starting the emulator again picks other ports.
func (e *InitError) RuntimeAPIPortTaken() bool {
	return strings.Contains(e.Output, "Runtime API Server failed to listen") && strings.Contains(e.Output, "address already in use")
}

func (e *InitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: init failed: %s", e.Function, firstLine(e.Reason))
	if e.Body != "" {
		fmt.Fprintf(&b, "\n  answer: %s", e.Body)
	}
	if out := strings.TrimSpace(e.Output); out != "" {
		b.WriteString("\n  output:\n    " + strings.ReplaceAll(out, "\n", "\n    "))
	}
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSuffix(line, ":")
}

// Output is the tail of the emulator's and the bootstrap's output.
func (f *Function) Output() string { return f.out.String() }

// Stop ends the emulator and waits for it. The emulator kills the bootstrap
// (which it runs in a process group of its own) on SIGTERM; if it has not
// exited within stopTimeout, its process group is killed. It is safe to call
// more than once.
func (f *Function) Stop() {
	f.stop.Do(func() {
		_ = f.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.exited:
		case <-time.After(stopTimeout):
			_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
			<-f.exited
		}
		os.RemoveAll(f.home)
	})
}

const stopTimeout = 5 * time.Second

// logBuffer keeps the last max bytes written to it and copies them to an
// optional writer.
type logBuffer struct {
	changed chan struct{} // gets a value after writes
	mu      sync.Mutex
	max     int
	buf     []byte
	cut     bool
	copy    io.Writer
	// afterRead, when set (by tests), runs after each String: it lets a
	// test add output between two reads of the log.
	afterRead func()
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.copy != nil {
		b.copy.Write(p) //nolint:errcheck // a copy only
	}
	b.buf = append(b.buf, p...)
	select {
	case b.changed <- struct{}{}:
	default:
	}
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.cut = true
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	s := b.snapshot()
	if b.afterRead != nil {
		b.afterRead()
	}
	return s
}

func (b *logBuffer) snapshot() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cut {
		return "…" + string(b.buf)
	}
	return string(b.buf)
}
