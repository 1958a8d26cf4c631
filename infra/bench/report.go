package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// The targets every function must meet.
const (
	// MaxRatio bounds a function's median init time as a multiple of the
	// baseline's median.
	MaxRatio = 1.5
	// MaxSize bounds a function's linux/arm64 bootstrap: 10 MiB
	// (10·1024·1024 bytes), not 10 MB.
	MaxSize = 10 << 20
)

// Result is one row of the report. Times are in milliseconds, sizes of the
// linux/arm64 bootstrap in bytes and MiB (0 when unknown).
type Result struct {
	Function  string    `json:"function"`
	MedianMS  float64   `json:"init_median_ms"`
	P90MS     float64   `json:"init_p90_ms"`
	Ratio     float64   `json:"ratio_to_baseline"`
	InitOK    bool      `json:"init_ok"`
	SizeBytes int64     `json:"arm64_size_bytes"`
	SizeMiB   float64   `json:"arm64_size_mib"`
	SizeOK    bool      `json:"size_ok"`
	Error     string    `json:"error,omitempty"`
	SamplesMS []float64 `json:"samples_ms"`
}

// OK reports whether the row meets both targets.
func (r Result) OK() bool { return r.InitOK && r.SizeOK && r.Error == "" }

// Report is the outcome of a bench run.
type Report struct {
	Rounds       int      `json:"rounds"`
	Warmup       int      `json:"warmup"`
	MaxRatio     float64  `json:"max_ratio"`
	MaxSizeBytes int64    `json:"max_arm64_size_bytes"`
	Baseline     Result   `json:"baseline"`
	Functions    []Result `json:"functions"`
	Pass         bool     `json:"pass"`
}

// NewReport judges the functions' samples against the baseline's and the
// arm64 sizes (by function name; the baseline's under "baseline", optional).
func NewReport(cfg Config, baseline Samples, functions []Samples, sizes map[string]int64) Report {
	rep := Report{Rounds: cfg.Rounds, Warmup: cfg.Warmup, MaxRatio: MaxRatio, MaxSizeBytes: MaxSize, Pass: true}
	rep.Baseline = row(baseline, sizes[baseline.Name], 0)
	rep.Baseline.Ratio, rep.Baseline.InitOK, rep.Baseline.SizeOK = 1, true, true
	base := Median(baseline.Times)
	for _, s := range functions {
		r := row(s, sizes[s.Name], base)
		rep.Pass = rep.Pass && r.OK()
		rep.Functions = append(rep.Functions, r)
	}
	return rep
}

func row(s Samples, size int64, base time.Duration) Result {
	r := Result{Function: s.Name, SizeBytes: size, SizeMiB: float64(size) / (1 << 20), SamplesMS: []float64{}}
	r.SizeOK = size > 0 && size <= MaxSize
	if s.Err != nil {
		r.Error = s.Err.Error()
		return r
	}
	med := Median(s.Times)
	r.MedianMS, r.P90MS = ms(med), ms(Percentile(s.Times, 90))
	for _, t := range s.Times {
		r.SamplesMS = append(r.SamplesMS, ms(t))
	}
	if base > 0 {
		r.Ratio = float64(med) / float64(base)
		r.InitOK = r.Ratio <= MaxRatio
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WriteTable prints the report as an aligned table, the errors of failed
// functions and a final summary line.
func (rep Report) WriteTable(w io.Writer) {
	width := len("function")
	for _, r := range append([]Result{rep.Baseline}, rep.Functions...) {
		width = max(width, len(r.Function))
	}
	fmt.Fprintf(w, "%-*s  %10s  %10s  %6s  %-4s  %10s  %-4s\n",
		width, "function", "init med", "init p90", "×base", "init", "arm64 MiB", "size")
	line := func(r Result, initV, sizeV string) {
		med, p90, ratio, size := "-", "-", "-", "-"
		if r.Error == "" {
			med, p90 = fmt.Sprintf("%.1f ms", r.MedianMS), fmt.Sprintf("%.1f ms", r.P90MS)
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		if r.SizeBytes > 0 {
			size = fmt.Sprintf("%.2f", r.SizeMiB)
		}
		l := fmt.Sprintf("%-*s  %10s  %10s  %6s  %-4s  %10s  %-4s", width, r.Function, med, p90, ratio, initV, size, sizeV)
		fmt.Fprintln(w, strings.TrimRight(l, " "))
	}
	line(rep.Baseline, "", "")
	for _, r := range rep.Functions {
		line(r, verdict(r.InitOK), verdict(r.SizeOK))
	}
	for _, r := range rep.Functions {
		if r.Error != "" {
			fmt.Fprintf(w, "\nFAILED INIT %s\n", r.Error)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, rep.Summary())
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

// Summary is one line: PASS or FAIL, the limits, and what missed them.
func (rep Report) Summary() string {
	limits := fmt.Sprintf("targets: init median ≤ %.1f× baseline (%.1f ms), linux/arm64 bootstrap ≤ %d MiB (%d bytes); %d rounds",
		rep.MaxRatio, rep.Baseline.MedianMS, rep.MaxSizeBytes>>20, rep.MaxSizeBytes, rep.Rounds)
	var missed []string
	for _, r := range rep.Functions {
		var why []string
		switch {
		case r.Error != "":
			why = append(why, "init failed")
		case !r.InitOK:
			why = append(why, fmt.Sprintf("init %.2f×", r.Ratio))
		}
		if !r.SizeOK {
			why = append(why, fmt.Sprintf("size %.2f MiB", r.SizeMiB))
		}
		if len(why) > 0 {
			missed = append(missed, r.Function+" ("+strings.Join(why, ", ")+")")
		}
	}
	if len(missed) == 0 {
		return fmt.Sprintf("PASS: all %d functions meet the %s", len(rep.Functions), limits)
	}
	return fmt.Sprintf("FAIL: %d of %d functions miss a target: %s — %s",
		len(missed), len(rep.Functions), strings.Join(missed, ", "), limits)
}

// WriteJSON writes the report, indented, to the file at path.
func (rep Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
