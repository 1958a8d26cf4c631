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
	// MaxSizePhone bounds the bootstrap of a function that links the phone
	// number library (github.com/nyaruka/phonenumbers: its metadata and
	// protobuf reflection alone weigh several MiB).
	MaxSizePhone = 20 << 20
)

// Yardstick is a baseline bootstrap and the size limit of the functions
// judged against it.
type Yardstick struct {
	Samples Samples
	MaxSize int64
	// What says what the baseline links, for the report.
	What string
}

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

	// Baseline names the baseline a function is judged against ("" on a
	// baseline's own row), MaxSizeBytes its size limit; What says what a
	// baseline links.
	Baseline     string `json:"baseline,omitempty"`
	MaxSizeBytes int64  `json:"max_arm64_size_bytes,omitempty"`
	What         string `json:"what,omitempty"`
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

	// Baselines are every baseline, the bare one (Baseline) first; each
	// function's row names the one it is judged against.
	Baselines []Result `json:"baselines"`
}

// NewReport judges the functions' samples against the bare baseline's and
// the arm64 sizes (by function name; the baseline's under its name,
// optional), with MaxRatio and MaxSize.
func NewReport(cfg Config, baseline Samples, functions []Samples, sizes map[string]int64) Report {
	return NewReportFor(cfg, []Yardstick{{Samples: baseline, MaxSize: MaxSize}}, functions, nil, sizes)
}

// NewReportFor judges each function against the yardstick judgedBy names
// for it (an index into yardsticks; the first, the bare baseline, when it
// names none): init median ≤ MaxRatio × that baseline's, bootstrap ≤ its
// MaxSize.
func NewReportFor(cfg Config, yardsticks []Yardstick, functions []Samples, judgedBy map[string]int, sizes map[string]int64) Report {
	rep := Report{Rounds: cfg.Rounds, Warmup: cfg.Warmup, MaxRatio: MaxRatio, MaxSizeBytes: yardsticks[0].MaxSize, Pass: true}
	for _, y := range yardsticks {
		b := row(y.Samples, sizes[y.Samples.Name], 0, 0)
		b.Ratio, b.InitOK, b.SizeOK, b.What = 1, y.Samples.Err == nil, true, y.What
		rep.Baselines = append(rep.Baselines, b)
	}
	rep.Baseline = rep.Baselines[0]
	for _, s := range functions {
		y := yardsticks[judgedBy[s.Name]]
		r := row(s, sizes[s.Name], Median(y.Samples.Times), y.MaxSize)
		r.Baseline, r.MaxSizeBytes = y.Samples.Name, y.MaxSize
		if y.Samples.Err != nil {
			r.InitOK = false
			if r.Error == "" {
				r.Error = "its baseline " + y.Samples.Name + " failed: " + y.Samples.Err.Error()
			}
		}
		rep.Pass = rep.Pass && r.OK()
		rep.Functions = append(rep.Functions, r)
	}
	return rep
}

func row(s Samples, size int64, base time.Duration, maxSize int64) Result {
	r := Result{Function: s.Name, SizeBytes: size, SizeMiB: float64(size) / (1 << 20), SamplesMS: []float64{}}
	r.SizeOK = size > 0 && size <= maxSize
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

// WriteTable prints the report as an aligned table (the baselines first,
// each function with the baseline it is judged against), the errors of
// failed functions and a final summary line.
func (rep Report) WriteTable(w io.Writer) {
	width, bwidth := len("function"), len("baseline")
	for _, r := range append(append([]Result{}, rep.Baselines...), rep.Functions...) {
		width = max(width, len(r.Function))
		bwidth = max(bwidth, len(r.Baseline))
	}
	fmt.Fprintf(w, "%-*s  %-*s  %10s  %10s  %6s  %-4s  %10s  %-4s\n",
		width, "function", bwidth, "baseline", "init med", "init p90", "×base", "init", "arm64 MiB", "size")
	line := func(r Result, initV, sizeV string) {
		med, p90, ratio, size := "-", "-", "-", "-"
		if r.Error == "" {
			med, p90 = fmt.Sprintf("%.1f ms", r.MedianMS), fmt.Sprintf("%.1f ms", r.P90MS)
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		if r.SizeBytes > 0 {
			size = fmt.Sprintf("%.2f", r.SizeMiB)
		}
		base := r.Baseline
		if base == "" {
			base = "-"
		}
		l := fmt.Sprintf("%-*s  %-*s  %10s  %10s  %6s  %-4s  %10s  %-4s", width, r.Function, bwidth, base, med, p90, ratio, initV, size, sizeV)
		fmt.Fprintln(w, strings.TrimRight(l, " "))
	}
	for _, b := range rep.baselines() {
		line(b, "", "")
	}
	for _, r := range rep.Functions {
		line(r, verdict(r.InitOK), verdict(r.SizeOK))
	}
	for _, b := range rep.baselines() {
		if b.What != "" {
			fmt.Fprintf(w, "\n%s: %s", b.Function, b.What)
		}
	}
	for _, r := range rep.Functions {
		if r.Error != "" {
			fmt.Fprintf(w, "\nFAILED INIT %s\n", r.Error)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	fmt.Fprintln(w, rep.Summary())
}

// baselines are the report's baselines (a report read from JSON written
// before there were several has Baseline only).
func (rep Report) baselines() []Result {
	if len(rep.Baselines) == 0 {
		return []Result{rep.Baseline}
	}
	return rep.Baselines
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

// Summary is one line: PASS or FAIL, the limits, and what missed them.
func (rep Report) Summary() string {
	var per []string
	for _, b := range rep.baselines() {
		n, limit := 0, rep.MaxSizeBytes
		for _, r := range rep.Functions {
			if r.Baseline == b.Function {
				n++
				limit = r.MaxSizeBytes
			}
		}
		if n == 0 && len(rep.baselines()) > 1 {
			continue
		}
		per = append(per, fmt.Sprintf("%d vs %s (%.1f ms), bootstrap ≤ %d MiB (%d bytes)", n, b.Function, b.MedianMS, limit>>20, limit))
	}
	limits := fmt.Sprintf("targets: init median ≤ %.1f× its baseline, linux/arm64 bootstrap within its limit: %s; %d rounds",
		rep.MaxRatio, strings.Join(per, "; "), rep.Rounds)
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
