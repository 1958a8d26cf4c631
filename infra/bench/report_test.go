package bench

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportVerdicts(t *testing.T) {
	base := Samples{Name: "baseline", Times: ds(10, 10, 10)}
	fns := []Samples{
		{Name: "at-limits", Times: ds(15, 15, 15)},          // exactly 1.5×, exactly 10 MiB
		{Name: "slow", Times: ds(15.2, 15.2, 15.2)},         // 1.52×
		{Name: "big", Times: ds(10, 11, 12)},                // 10 MiB + 1 byte
		{Name: "broken", Err: errors.New("broken: exited")}, // init failed
	}
	sizes := map[string]int64{"at-limits": MaxSize, "slow": 5 << 20, "big": MaxSize + 1, "broken": 1 << 20}
	rep := NewReport(Config{Rounds: 3}, base, fns, sizes)

	want := map[string][2]bool{ // InitOK, SizeOK
		"at-limits": {true, true},
		"slow":      {false, true},
		"big":       {true, false},
		"broken":    {false, true},
	}
	for _, r := range rep.Functions {
		if got := [2]bool{r.InitOK, r.SizeOK}; got != want[r.Function] {
			t.Errorf("%s: InitOK, SizeOK = %v, want %v", r.Function, got, want[r.Function])
		}
	}
	if rep.Pass {
		t.Error("Pass = true with three functions missing a target")
	}
	if rep.Functions[1].Ratio < 1.51 || rep.Functions[1].Ratio > 1.53 {
		t.Errorf("slow: Ratio = %v, want 1.52", rep.Functions[1].Ratio)
	}

	var b strings.Builder
	rep.WriteTable(&b)
	out := b.String()
	for _, s := range []string{"at-limits", "slow", "FAIL", "broken: exited", "10 MiB (10485760 bytes)"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	summary := rep.Summary()
	if !strings.HasPrefix(summary, "FAIL: 3 of 4") || strings.Contains(summary, "at-limits") {
		t.Errorf("Summary = %q", summary)
	}

	pass := NewReport(Config{Rounds: 3}, base, fns[:1], sizes)
	if !pass.Pass || !strings.HasPrefix(pass.Summary(), "PASS") {
		t.Errorf("at the limits: Pass = %v, Summary = %q", pass.Pass, pass.Summary())
	}

	path := filepath.Join(t.TempDir(), "bench.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(raw, &back); err != nil || len(back.Functions) != 4 || back.Baseline.MedianMS != 10 {
		t.Errorf("JSON round trip: err %v, %+v", err, back)
	}
}
