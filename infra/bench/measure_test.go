package bench

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/rie"
)

// The integration tests build real bootstraps, the baseline, two functions
// and the test programs in testdata, and run them under aws-lambda-rie. They
// check only lower bounds and outcomes, never tight timings, because the
// machine may be busy.

var built struct {
	once  sync.Once
	rie   string
	boots map[string]string
	err   error
}

// bootstraps builds the emulator and the test bootstraps once for the host
// and returns the emulator and name → bootstrap.
func bootstraps(t *testing.T) (string, map[string]string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("aws-lambda-rie runs Linux binaries only")
	}
	built.once.Do(func() {
		ctx := context.Background()
		root, err := rie.ModuleRoot()
		if err != nil {
			built.err = err
			return
		}
		if built.rie, built.err = rie.Binary(ctx, root); built.err != nil {
			return
		}
		built.boots, built.err = rie.Bootstraps(ctx, root, map[string]string{
			"baseline":   "./infra/bench/baseline",
			"sleepy":     "./infra/bench/testdata/sleepy",
			"crash":      "./infra/bench/testdata/crash",
			"initerror":  "./infra/bench/testdata/initerror",
			"dispatcher": "./functions/dispatcher",
			"me":         "./functions/me",
		})
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.rie, built.boots
}

func TestRunMeasuresInitSleep(t *testing.T) {
	bin, boots := bootstraps(t)
	targets := []Target{
		{Name: "baseline", Path: boots["baseline"]},
		{Name: "sleepy", Path: boots["sleepy"]},
	}
	rounds := 0
	cfg := Config{Rounds: 5, Warmup: 1, Timeout: 30 * time.Second, RIE: bin, Progress: func(r, total int) { rounds = total }}
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
	bin, boots := bootstraps(t)
	for _, fn := range []string{"me", "dispatcher"} {
		if d, err := Measure(context.Background(), bin, fn, boots[fn], 30*time.Second); err != nil || d <= 0 {
			t.Errorf("%s: Measure = %v, %v; want its init timed", fn, d, err)
		}
	}
}

func TestMeasureReportsExit(t *testing.T) {
	bin, boots := bootstraps(t)
	_, err := Measure(context.Background(), bin, "crash", boots["crash"], 30*time.Second)
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

// TestMeasureReportsInitError runs a bootstrap that posts init/error and
// then hangs: the emulator ends its init at the function's timeout.
func TestMeasureReportsInitError(t *testing.T) {
	bin, boots := bootstraps(t)
	start := time.Now()
	_, err := Measure(context.Background(), bin, "initerror", boots["initerror"], time.Second)
	var ie *InitError
	if !errors.As(err, &ie) || !strings.Contains(ie.Reason, "status error") || !strings.Contains(ie.Output, "initerror: reported") {
		t.Fatalf("Measure = %v, want an *InitError with the process's output", err)
	}
	// The process sleeps a minute after posting: Measure must not wait for it.
	if time.Since(start) > 25*time.Second {
		t.Errorf("Measure took %v: it waited for the process instead of killing it", time.Since(start))
	}
}
