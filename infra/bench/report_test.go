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

// TestReportTwoBaselines: the phone functions are judged against the
// phone baseline (1.5×, 20 MiB), the others against the bare one (1.5×,
// 10 MiB).
func TestReportTwoBaselines(t *testing.T) {
	bare := Yardstick{Samples: Samples{Name: "baseline", Times: ds(10, 10, 10)}, MaxSize: MaxSize}
	phone := Yardstick{Samples: Samples{Name: "baseline-phone", Times: ds(27, 27, 27)}, MaxSize: MaxSizePhone, What: "with phonenumbers"}
	fns := []Samples{
		{Name: "contact-create", Times: ds(30, 30, 30)}, // 1.11× its baseline, 3× the bare one
		{Name: "contact-update", Times: ds(41, 41, 41)}, // 1.52× its baseline
		{Name: "me", Times: ds(14, 14, 14)},             // 1.4× the bare one
		{Name: "big", Times: ds(10, 10, 10)},            // 15 MiB without the phone library
	}
	sizes := map[string]int64{"contact-create": 17 << 20, "contact-update": 17 << 20, "me": 9 << 20, "big": 15 << 20}
	judgedBy := map[string]int{"contact-create": 1, "contact-update": 1}
	rep := NewReportFor(Config{Rounds: 3}, []Yardstick{bare, phone}, fns, judgedBy, sizes)
	want := map[string]struct {
		base           string
		ratio          float64
		initOK, sizeOK bool
	}{
		"contact-create": {"baseline-phone", 30.0 / 27, true, true},
		"contact-update": {"baseline-phone", 41.0 / 27, false, true},
		"me":             {"baseline", 1.4, true, true},
		"big":            {"baseline", 1, true, false},
	}
	for _, r := range rep.Functions {
		w := want[r.Function]
		if r.Baseline != w.base || r.InitOK != w.initOK || r.SizeOK != w.sizeOK || r.Ratio < w.ratio-0.01 || r.Ratio > w.ratio+0.01 {
			t.Errorf("%s: baseline %s ratio %.3f init %v size %v, want %+v", r.Function, r.Baseline, r.Ratio, r.InitOK, r.SizeOK, w)
		}
	}
	if rep.Pass || len(rep.Baselines) != 2 || rep.Baseline.Function != "baseline" {
		t.Errorf("pass %v, baselines %+v", rep.Pass, rep.Baselines)
	}
	var b strings.Builder
	rep.WriteTable(&b)
	for _, s := range []string{"baseline-phone", "with phonenumbers", "20 MiB (20971520 bytes)", "10 MiB (10485760 bytes)", "contact-update (init 1.52×)", "big (size 15.00 MiB)"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, b.String())
		}
	}

	// A phone baseline that fails to init fails its functions, not the others.
	phone.Samples = Samples{Name: "baseline-phone", Err: errors.New("exited")}
	rep = NewReportFor(Config{Rounds: 3}, []Yardstick{bare, phone}, fns[:1], judgedBy, sizes)
	if rep.Pass || rep.Functions[0].InitOK || !strings.Contains(rep.Functions[0].Error, "baseline-phone failed") {
		t.Errorf("failed phone baseline: %+v", rep.Functions[0])
	}
}
