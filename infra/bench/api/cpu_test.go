package api

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCPUJudged(t *testing.T) {
	if got := PerRequestMS(900*time.Millisecond, 3000); got != 0.3 {
		t.Errorf("PerRequestMS = %v, want 0.3", got)
	}
	if PerRequestMS(time.Second, 0) != 0 {
		t.Error("PerRequestMS of no requests")
	}
	ok := CPU{Number: 4, Requests: 2000, FunctionMS: 0.3, GatewayMS: 0.45, MaxMS: 0.3}
	over := ok
	over.FunctionMS = 0.4
	invalid := ok
	invalid.Invalid = "3 of 2000 requests answered 429"
	none := ok
	none.Requests = 0
	for _, c := range []struct {
		name string
		cpu  CPU
		pass bool
		why  string
	}{
		{"at the budget", ok, true, ""},
		{"over", over, false, "4 (CPU 0.400 ms > 0.300 ms)"},
		{"invalid", invalid, false, "4 (CPU invalid: 3 of 2000"},
		{"no requests", none, false, "4 (CPU"},
	} {
		rep := Report{Targets: []Target{NewTarget("t", "ms", 1, 1, 1.5, "")}, CPU: &c.cpu}
		if rep.Pass() != c.pass || c.cpu.Pass() != c.pass {
			t.Errorf("%s: Pass = %v, want %v", c.name, rep.Pass(), c.pass)
		}
		if sum := rep.Summary(); c.pass != strings.HasPrefix(sum, "PASS: all 2 targets") || !strings.Contains(sum, c.why) {
			t.Errorf("%s: Summary = %q", c.name, sum)
		}
		var b bytes.Buffer
		rep.WriteText(&b)
		if want := fmt.Sprintf("adds %.3f ms", c.cpu.GatewayMS-c.cpu.FunctionMS); !strings.Contains(b.String(), want) {
			t.Errorf("%s: text lacks the gateway's share:\n%s", c.name, b.String())
		}
	}
}
