package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The integration tests build real bootstraps: the baseline and the test
// programs in testdata. They check only lower bounds and outcomes, never
// tight timings, because the machine may be busy.

var (
	buildOnce sync.Once
	buildDir  string // made by TestMain, removed after the tests
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// bootstraps builds the baseline and testdata programs once for the host
// and returns the directory holding <name>/bootstrap.
func bootstraps(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		for name, pkg := range map[string]string{
			"baseline":   "./baseline",
			"sleepy":     "./testdata/sleepy",
			"crash":      "./testdata/crash",
			"initerror":  "./testdata/initerror",
			"dispatcher": "../../functions/dispatcher",
			"me":         "../../functions/me",
		} {
			out := filepath.Join(buildDir, name, "bootstrap")
			if buildErr = Build(context.Background(), ".", pkg, runtime.GOARCH, out); buildErr != nil {
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

func TestRunMeasuresInitSleep(t *testing.T) {
	dir := bootstraps(t)
	targets := []Target{
		{Name: "baseline", Path: filepath.Join(dir, "baseline", "bootstrap")},
		{Name: "sleepy", Path: filepath.Join(dir, "sleepy", "bootstrap")},
	}
	rounds := 0
	cfg := Config{Rounds: 5, Warmup: 1, Timeout: 30 * time.Second, Progress: func(r, total int) { rounds = total }}
	got, err := Run(context.Background(), targets, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rounds != 6 {
		t.Errorf("Progress saw %d rounds in all, want 6", rounds)
	}
	for _, s := range got {
		if s.Err != nil {
			t.Fatalf("%s failed: %v", s.Name, s.Err)
		}
		if len(s.Times) != cfg.Rounds {
			t.Errorf("%s: %d samples, want %d (warm-up dropped)", s.Name, len(s.Times), cfg.Rounds)
		}
	}
	base, sleepy := got[0], got[1]
	for _, d := range sleepy.Times {
		if d < 50*time.Millisecond {
			t.Errorf("sleepy init measured %v, but it sleeps 50ms before asking", d)
		}
	}
	for _, d := range base.Times {
		if d <= 0 {
			t.Errorf("baseline init measured %v", d)
		}
	}
	t.Logf("baseline median %v p90 %v; sleepy median %v p90 %v",
		Median(base.Times), Percentile(base.Times, 90), Median(sleepy.Times), Percentile(sleepy.Times, 90))
}

// TestRealFunctionsInit checks that real functions, an API route and the
// dispatcher, get through their init in the environment the benchmark
// gives them (every variable wiring.Load requires) and ask for an
// invocation: coldstart times them, it does not only see them fail.
func TestRealFunctionsInit(t *testing.T) {
	dir := bootstraps(t)
	for _, fn := range []string{"me", "dispatcher"} {
		if d, err := Measure(context.Background(), fn, filepath.Join(dir, fn, "bootstrap"), 30*time.Second); err != nil || d <= 0 {
			t.Errorf("%s: Measure = %v, %v; want its init timed", fn, d, err)
		}
	}
}

func TestMeasureReportsExit(t *testing.T) {
	dir := bootstraps(t)
	_, err := Measure(context.Background(), "crash", filepath.Join(dir, "crash", "bootstrap"), 30*time.Second)
	var ie *InitError
	if !errors.As(err, &ie) {
		t.Fatalf("Measure = %v, want an *InitError", err)
	}
	// The output shows the process saw the Lambda environment.
	if !strings.Contains(ie.Reason, "exit status 3") || !strings.Contains(ie.Output, "TABLE_NAME is bench - giving up") {
		t.Errorf("InitError = %+v", ie)
	}
	if !strings.Contains(err.Error(), "giving up") {
		t.Errorf("error text lacks the stderr: %v", err)
	}
}

func TestMeasureReportsInitError(t *testing.T) {
	dir := bootstraps(t)
	start := time.Now()
	_, err := Measure(context.Background(), "initerror", filepath.Join(dir, "initerror", "bootstrap"), 30*time.Second)
	var ie *InitError
	if !errors.As(err, &ie) || !strings.Contains(ie.Body, "Runtime.InitError") || ie.Reason != "posted init/error" {
		t.Fatalf("Measure = %v, want an *InitError with the posted body", err)
	}
	// The process sleeps a minute after posting: Measure must kill it.
	if time.Since(start) > 25*time.Second {
		t.Errorf("Measure took %v: it waited for the process instead of killing it", time.Since(start))
	}
}

func TestMeasureTimeout(t *testing.T) {
	dir := bootstraps(t)
	_, err := Measure(context.Background(), "sleepy", filepath.Join(dir, "sleepy", "bootstrap"), time.Millisecond)
	var ie *InitError
	if !errors.As(err, &ie) || !strings.Contains(ie.Reason, "did not finish init") {
		t.Fatalf("Measure with a 1ms timeout = %v, want a timeout *InitError", err)
	}
}

// TestBaselineServesInvocation runs the baseline against the fake Runtime
// API with an invocation queued: aws-lambda-go's own client must get it and
// post the handler's response back.
func TestBaselineServesInvocation(t *testing.T) {
	dir := bootstraps(t)
	rt, err := StartRuntime()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	id := rt.Invoke([]byte(`{"ping":1}`))

	bin := filepath.Join(dir, "baseline", "bootstrap")
	cmd := exec.Command(bin)
	cmd.Env = LambdaEnv("baseline", rt.Addr, filepath.Dir(bin), t.TempDir())
	out := &tail{max: 4096}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, q := range rt.Requests() {
			switch q.Kind {
			case KindResponse:
				if q.ID != id || string(q.Body) != `{"ok":true}` {
					t.Fatalf("response %+v, want id %s and {\"ok\":true}", q, id)
				}
				return
			case KindError, KindInitError:
				t.Fatalf("baseline posted %s: %s\noutput: %s", q.Kind, q.Body, out)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no response within 30s; requests %+v; output: %s", rt.Requests(), out)
}
