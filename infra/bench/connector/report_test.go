package connector

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTargetMet(t *testing.T) {
	tests := []struct {
		name string
		t    Target
		want bool
	}{
		{"at least, above", Target{Value: 1200, Cmp: AtLeast, Limit: 1000, Valid: true}, true},
		{"at least, equal", Target{Value: 1000, Cmp: AtLeast, Limit: 1000, Valid: true}, true},
		{"at least, below", Target{Value: 999, Cmp: AtLeast, Limit: 1000, Valid: true}, false},
		{"at most, below", Target{Value: 10.2, Cmp: AtMost, Limit: 10.5, Valid: true}, true},
		{"at most, above", Target{Value: 10.6, Cmp: AtMost, Limit: 10.5, Valid: true}, false},
		{"invalid never passes", Target{Value: 1, Cmp: AtMost, Limit: 10.5, Valid: false}, false},
	}
	for _, tt := range tests {
		if got := tt.t.Met(); got != tt.want {
			t.Errorf("%s: Met() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestReportText(t *testing.T) {
	r := Report{Setup: []string{"setup line"}, Targets: []Target{
		{Number: 1, Name: "throughput", Value: 1234.4, Unit: "deliveries/s", Cmp: AtLeast, Limit: 1000, Valid: true, Notes: []string{"a\nb"}},
		{Number: 2, Name: "hang", Value: 10.02, Unit: "s", Cmp: AtMost, Limit: 10.5, Format: "%.2f", Valid: true},
		{Number: 3, Name: "latency", Value: 1500, Unit: "ms", Cmp: AtMost, Limit: 1000, Valid: false, Invalid: "3 missing"},
	}, RuntimeS: 61.25}
	r.Judge()
	if r.Pass {
		t.Fatal("Pass with a failing target")
	}
	var b bytes.Buffer
	r.WriteText(&b)
	out := b.String()
	for _, want := range []string{
		"setup line",
		"1. throughput: 1,234 deliveries/s   target ≥ 1,000 deliveries/s   PASS",
		"   a\n   b\n",
		"2. hang: 10.02 s   target ≤ 10.50 s   PASS",
		"3. latency: 1,500 ms   target ≤ 1,000 ms   FAIL",
		"INVALID: 3 missing",
		"FAIL: target(s) 3 missed; total runtime 61.2 s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestReportJudgeEmpty(t *testing.T) {
	var r Report
	r.Judge()
	if r.Pass {
		t.Fatal("a report without targets passed")
	}
}

func TestReportJSON(t *testing.T) {
	r := Report{Targets: []Target{{Number: 1, Value: 2, Cmp: AtLeast, Limit: 1, Valid: true}}}
	r.Judge()
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Pass || len(back.Targets) != 1 || back.Targets[0].Cmp != AtLeast {
		t.Fatalf("round trip: %+v", back)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0.00", 1.234: "1.23", 12.34: "12.3", 123.4: "123", 1234.5: "1,235", 1234567: "1,234,567", -1500: "-1,500",
	} {
		if got := Num(v); got != want {
			t.Errorf("Num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestSummarise(t *testing.T) {
	var xs []time.Duration
	for i := 1; i <= 100; i++ {
		xs = append(xs, time.Duration(i)*time.Millisecond)
	}
	l := Summarise(xs)
	if l.Count != 100 || l.MaxMS != 100 || l.P50MS < 50 || l.P50MS > 51 || l.P95MS < 95 || l.P95MS > 96 {
		t.Fatalf("Summarise = %+v", l)
	}
	if (Summarise(nil) != Latency{}) {
		t.Fatal("Summarise(nil) is not zero")
	}
}
