package lambdaapp

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestTuneRuntime(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	gcBefore := debug.SetGCPercent(100)
	debug.SetGCPercent(gcBefore)
	limitBefore := debug.SetMemoryLimit(-1)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	undo := TuneRuntime(env(map[string]string{MemorySizeVar: "256"}))
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("256 MB: GOMAXPROCS %d, want 1", got)
	}
	if got := debug.SetGCPercent(-1); got != 400 {
		t.Errorf("256 MB: GOGC %d, want 400", got)
	} else {
		debug.SetGCPercent(got)
	}
	if got := debug.SetMemoryLimit(-1); got != 192<<20 {
		t.Errorf("256 MB: memory limit %d, want %d", got, 192<<20)
	}
	undo()
	if runtime.GOMAXPROCS(0) != before || debug.SetMemoryLimit(-1) != limitBefore {
		t.Error("undo did not restore GOMAXPROCS and the memory limit")
	}
	if got := debug.SetGCPercent(gcBefore); got != gcBefore {
		t.Errorf("undo left GOGC at %d, was %d", got, gcBefore)
	}

	// A whole vCPU or more, and what the environment sets, are left alone.
	undo = TuneRuntime(env(map[string]string{MemorySizeVar: "2048", "GOGC": "50", "GOMEMLIMIT": "1GiB"}))
	if runtime.GOMAXPROCS(0) != before || debug.SetMemoryLimit(-1) != limitBefore {
		t.Error("2048 MB with GOGC and GOMEMLIMIT set: the runtime was changed")
	}
	undo()
	undo = TuneRuntime(env(map[string]string{MemorySizeVar: "128", "GOMAXPROCS": "2"}))
	if runtime.GOMAXPROCS(0) != before {
		t.Error("GOMAXPROCS set in the environment was overridden")
	}
	undo()
	// No memory size (not in Lambda): nothing changes.
	undo = TuneRuntime(env(nil))
	if runtime.GOMAXPROCS(0) != before || debug.SetMemoryLimit(-1) != limitBefore {
		t.Error("without a memory size the runtime was changed")
	}
	undo()
	if limitBefore != math.MaxInt64 {
		t.Logf("memory limit before: %d", limitBefore)
	}
}

func TestRuntimeEnv(t *testing.T) {
	for _, c := range []struct {
		mb   int
		want string
	}{{128, "1"}, {256, "1"}, {512, "1"}, {1768, "1"}, {1769, ""}, {3008, ""}, {0, ""}} {
		if got := RuntimeEnv(c.mb)["GOMAXPROCS"]; got != c.want {
			t.Errorf("%d MB: GOMAXPROCS %q, want %q", c.mb, got, c.want)
		}
	}
	// What the environment sets, TuneRuntime leaves.
	before := runtime.GOMAXPROCS(0)
	env := RuntimeEnv(256)
	env[MemorySizeVar] = "256"
	defer TuneRuntime(func(k string) string { return env[k] })()
	if runtime.GOMAXPROCS(0) != before {
		t.Error("TuneRuntime changed GOMAXPROCS that the environment sets")
	}
}
