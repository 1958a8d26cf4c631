package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// launcherEnv, set to 1, makes TestRestartKeepsQueuedDeliveries, in a
// process of its own, run make run's launcher (main, with the ports and
// data dir of the environment) until SIGINT.
const launcherEnv = "RUN_LAUNCHER_HELPER"

// launcher is one make run started by the test: its own process, stopped
// with SIGINT as Ctrl-C stops make run.
type launcher struct {
	cmd    *exec.Cmd
	apiURL string
	out    *bytes.Buffer
	mu     *sync.Mutex
	exited chan error
}

// launcherProcess is the launcher's process (see launcherEnv).
func launcherProcess() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	cfg, err := configFrom([]string{"-data", os.Getenv("RUN_DATA"), "-auth-cache", "0"}, os.Getenv)
	if err != nil {
		fmt.Println("config:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ready := make(chan string, 1)
	go func() { fmt.Println("READY", <-ready) }()
	if err := run(ctx, cfg, ready); err != nil {
		fmt.Println("run:", err)
		os.Exit(1)
	}
	fmt.Println("STOPPED")
	os.Exit(0)
}

func startLauncher(t *testing.T, dataDir string, port, dynamoPort, sqsPort, sandboxPort int) *launcher {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRestartKeepsQueuedDeliveries$", "-test.count=1")
	cmd.Env = append(os.Environ(), launcherEnv+"=1", "RUN_DATA="+dataDir,
		"PORT="+strconv.Itoa(port), "DYNAMO_PORT="+strconv.Itoa(dynamoPort), "SQS_PORT="+strconv.Itoa(sqsPort),
		"SANDBOX_PORT="+strconv.Itoa(sandboxPort), emulators.EndpointVar+"=")
	l := &launcher{cmd: cmd, out: &bytes.Buffer{}, mu: &sync.Mutex{}, exited: make(chan error, 1)}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			l.mu.Lock()
			l.out.WriteString(line + "\n")
			l.mu.Unlock()
			if u, ok := strings.CutPrefix(line, "READY "); ok {
				ready <- u
			}
		}
		l.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	select {
	case l.apiURL = <-ready:
		return l
	case err := <-l.exited:
		t.Fatalf("launcher exited during start-up (%v):\n%s", err, l.output())
	case <-time.After(90 * time.Second):
		t.Fatalf("launcher not ready after 90 s:\n%s", l.output())
	}
	return nil
}

func (l *launcher) output() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.String()
}

// interrupt sends SIGINT (Ctrl-C) and waits for a clean exit.
func (l *launcher) interrupt(t *testing.T) {
	t.Helper()
	if err := l.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-l.exited:
		if err != nil || !strings.Contains(l.output(), "STOPPED") {
			t.Fatalf("launcher after Ctrl-C: %v:\n%s", err, l.output())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("launcher did not stop after Ctrl-C:\n%s", l.output())
	}
}

// call sends a request with the token and decodes the answer's JSON.
func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// target is a webhook receiver that fails (503) until told to succeed.
type target struct {
	succeed  atomic.Bool
	mu       sync.Mutex
	failed   map[string]int // webhook-id → failed attempts
	received map[string]int // webhook-id → successful attempts
	emails   map[string]string
}

func (tg *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]string
	_ = json.NewDecoder(r.Body).Decode(&body)
	id := r.Header.Get(webhook.HeaderID)
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if !tg.succeed.Load() {
		tg.failed[id]++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	tg.received[id]++
	tg.emails[id] = body["email"]
	w.WriteHeader(http.StatusNoContent)
}

func (tg *target) snapshot() (failed, received map[string]int) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	f, r := map[string]int{}, map[string]int{}
	for k, v := range tg.failed {
		f[k] = v
	}
	for k, v := range tg.received {
		r[k] = v
	}
	return f, r
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not after %s: %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRestartKeepsQueuedDeliveries stops make run (Ctrl-C) while
// deliveries wait in SQS for their retry and starts it again on the same
// data: every delivery is tried again and arrives with its webhook-id, and
// its activity ends final. The second start trims stream records older
// than 24 h (all of them, here, but the newest) and the stream goes on
// feeding the connections after it.
func TestRestartKeepsQueuedDeliveries(t *testing.T) {
	if os.Getenv(launcherEnv) == "1" {
		launcherProcess()
	}
	dataDir := t.TempDir()
	port, dport, sport, wport := freePort(t), freePort(t), freePort(t), freePort(t)
	tg := &target{failed: map[string]int{}, received: map[string]int{}, emails: map[string]string{}}
	srv := httptest.NewServer(tg)
	defer srv.Close()

	l := startLauncher(t, dataDir, port, dport, sport, wport)
	demo, err := readEnv(filepath.Join(dataDir, "demo.env"))
	if err != nil {
		t.Fatal(err)
	}
	token := demo["TOKEN_MESSENGER"]
	status, conn := call(t, "POST", l.apiURL+"/v1/connections", token, map[string]any{
		"name": "restart", "url": srv.URL + "/hook", "triggers": []string{"email"}, "fields": []string{"psid", "email"}})
	if status != http.StatusCreated {
		t.Fatalf("create connection: %d %v", status, conn)
	}
	connID := conn["data"].(map[string]any)["id"].(string)
	const n = 3
	for i := range n {
		if status, out := call(t, "POST", l.apiURL+"/v1/events", token, map[string]any{
			"psid": fmt.Sprintf("77000%d", i), "field": "email", "value": fmt.Sprintf("restart%d@example.com", i)}); status != http.StatusOK {
			t.Fatalf("event %d: %d %v", i, status, out)
		}
	}
	activity := func(l *launcher) []map[string]any {
		status, out := call(t, "GET", l.apiURL+"/v1/connections/"+connID+"/activity", token, nil)
		if status != http.StatusOK {
			t.Fatalf("activity: %d %v", status, out)
		}
		var atts []map[string]any
		for _, a := range out["data"].([]any) {
			atts = append(atts, a.(map[string]any))
		}
		return atts
	}
	// Every first attempt failed and is logged (not final): each delivery
	// now waits about 5 s in SQS for its second attempt.
	waitFor(t, 30*time.Second, "3 failed first attempts logged", func() bool {
		return len(activity(l)) == n
	})
	for _, a := range activity(l) {
		if a["final"] != false || a["attempt"] != float64(1) {
			t.Fatalf("first attempt %v, want attempt 1, not final", a)
		}
	}
	l.interrupt(t)
	failed, received := tg.snapshot()
	if len(failed) != n || len(received) != 0 {
		t.Fatalf("before the restart: failed %v, received %v", failed, received)
	}

	// All stream records are a day old now: the next start trims them but
	// the newest.
	db := filepath.Join(dataDir, "dynamodb.sqlite")
	node, err := emulators.Node(filepath.Join("..", "..", "local"))
	if err != nil {
		t.Fatal(err)
	}
	age := exec.Command(node, "--no-warnings", "-e", `const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(process.argv[1]);
db.prepare("UPDATE _stream_records SET created_at = created_at - 90000").run();
console.log(db.prepare("SELECT COUNT(*) AS n FROM _stream_records").get().n);`, db)
	out, err := age.CombinedOutput()
	if err != nil {
		t.Fatalf("age stream records: %v %s", err, out)
	}
	before, _ := strconv.Atoi(strings.TrimSpace(string(out)))

	tg.succeed.Store(true)
	l = startLauncher(t, dataDir, port, dport, sport, wport)
	waitFor(t, 30*time.Second, "every delivery arrives after the restart", func() bool {
		_, received := tg.snapshot()
		return len(received) == n
	})
	_, received = tg.snapshot()
	for id := range failed {
		if received[id] == 0 {
			t.Errorf("delivery %s failed before the restart and never arrived after it (received %v)", id, received)
		}
	}
	waitFor(t, 10*time.Second, "every delivery's activity ends final", func() bool {
		final := map[string]bool{}
		for _, a := range activity(l) {
			if a["final"] == true && a["outcome"] == "success" {
				final[a["webhook_id"].(string)] = true
			}
		}
		return len(final) == n
	})
	// All but the newest go (or all of them, if the start wrote a new
	// record before the trim read which is newest).
	trimmed := -1
	waitFor(t, 30*time.Second, "the trim at start", func() bool {
		for _, line := range strings.Split(l.output(), "\n") {
			if v, ok := strings.CutPrefix(line, "stream records older than 24h0m0s trimmed: "); ok {
				trimmed, _ = strconv.Atoi(v)
			}
		}
		return trimmed >= 0
	})
	if before < 2 || (trimmed != before-1 && trimmed != before) {
		t.Errorf("%d stream records, all old: %d trimmed at start, want %d:\n%s", before, trimmed, before-1, l.output())
	}

	// The stream goes on after the trim: a new write reaches the target.
	if status, out := call(t, "POST", l.apiURL+"/v1/events", token, map[string]any{
		"psid": "770009", "field": "email", "value": "after-trim@example.com"}); status != http.StatusOK {
		t.Fatalf("event after the trim: %d %v", status, out)
	}
	waitFor(t, 30*time.Second, "a write after the trim is delivered", func() bool {
		tg.mu.Lock()
		defer tg.mu.Unlock()
		return slices.Contains(mapValues(tg.emails), "after-trim@example.com")
	})
	l.interrupt(t)
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
