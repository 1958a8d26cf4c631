package connector

import (
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command with spaces and parentheses, as /proc allows.
	line := "1234 (node (x) y) S 42 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 100 0 0"
	d, st, ok := parseStat(line)
	if !ok || st.comm != "node (x) y" || st.ppid != 42 || d != 3*time.Second {
		t.Fatalf("parseStat = %v, %+v, %v; want 3s, node (x) y, ppid 42", d, st, ok)
	}
	if _, _, ok := parseStat("garbage"); ok {
		t.Fatal("parsed garbage")
	}
}

func TestParseMachine(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	if got := parseMachine("cpu  100 10 50 1000 30 5 5 0 7 0"); got != 1700*time.Millisecond {
		t.Fatalf("parseMachine = %v, want 1.7s", got)
	}
	if parseMachine("intr 1 2 3") != 0 {
		t.Fatal("parsed a line that is not cpu")
	}
}

func TestCPUWindowSeesThisProcess(t *testing.T) {
	w := StartCPU()
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
	}
	r := w.End()
	if len(r.Ours) == 0 || r.Ours[0].Process != "self" || r.Ours[0].CPUS <= 0 {
		t.Fatalf("no CPU use of this process: %+v", r)
	}
	if r.MachineCores <= 0 {
		t.Fatalf("machine busy %v", r.MachineCores)
	}
}
