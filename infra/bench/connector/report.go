package connector

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Comparison says which side of its limit a figure must be on.
type Comparison string

const (
	AtLeast Comparison = "≥"
	AtMost  Comparison = "≤"
)

// Target is one measured figure and its limit.
type Target struct {
	Number int        `json:"number"`
	Name   string     `json:"name"`
	Value  float64    `json:"value"`
	Unit   string     `json:"unit"`
	Cmp    Comparison `json:"comparison"`
	Limit  float64    `json:"limit"`
	// Format, when set, prints Value and Limit (a fmt verb such as "%.2f");
	// Num's rounding otherwise.
	Format string `json:"-"`
	// Valid is false when the figure could not be measured properly (for
	// example deliveries missing); such a target fails whatever its value.
	Valid   bool   `json:"valid"`
	Invalid string `json:"invalid,omitempty"`
	// Notes are the context lines printed under the figure: baselines,
	// breakdowns, counts.
	Notes []string `json:"notes"`
	// Data is the target's raw measurements, for -json.
	Data any `json:"data,omitempty"`
}

// Met reports whether the figure is valid and on the right side of Limit.
func (t Target) Met() bool {
	if !t.Valid {
		return false
	}
	if t.Cmp == AtLeast {
		return t.Value >= t.Limit
	}
	return t.Value <= t.Limit
}

// Verdict is PASS or FAIL.
func (t Target) Verdict() string {
	if t.Met() {
		return "PASS"
	}
	return "FAIL"
}

func (t Target) num(v float64) string {
	if t.Format != "" {
		return fmt.Sprintf(t.Format, v)
	}
	return Num(v)
}

// Report is a whole run.
type Report struct {
	Config   map[string]any `json:"config"`
	Setup    []string       `json:"setup"`
	Targets  []Target       `json:"targets"`
	RuntimeS float64        `json:"runtime_s"`
	Pass     bool           `json:"pass"`
}

// Judge sets Pass from the targets (false without any).
func (r *Report) Judge() {
	r.Pass = len(r.Targets) > 0
	for _, t := range r.Targets {
		r.Pass = r.Pass && t.Met()
	}
}

// WriteText prints the report for people.
func (r Report) WriteText(w io.Writer) {
	for _, s := range r.Setup {
		fmt.Fprintln(w, s)
	}
	for _, t := range r.Targets {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "%d. %s: %s %s   target %s %s %s   %s\n", t.Number, t.Name, t.num(t.Value), t.Unit,
			t.Cmp, t.num(t.Limit), t.Unit, t.Verdict())
		if !t.Valid {
			fmt.Fprintf(w, "   INVALID: %s\n", t.Invalid)
		}
		for _, n := range t.Notes {
			fmt.Fprintf(w, "   %s\n", strings.ReplaceAll(n, "\n", "\n   "))
		}
	}
	fmt.Fprintln(w)
	var missed []string
	for _, t := range r.Targets {
		if !t.Met() {
			missed = append(missed, strconv.Itoa(t.Number))
		}
	}
	verdict := "PASS: every target met"
	if !r.Pass {
		verdict = "FAIL: target(s) " + strings.Join(missed, ", ") + " missed"
		if len(r.Targets) == 0 {
			verdict = "FAIL: nothing measured"
		}
	}
	fmt.Fprintf(w, "%s; total runtime %.1f s\n", verdict, r.RuntimeS)
}

// WriteJSON writes the report, indented, to path.
func (r Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Num formats a figure: thousands separated for large values, three
// significant digits or so for small ones.
func Num(v float64) string {
	switch a := max(v, -v); {
	case a >= 1000:
		return thousands(int64(v + 0.5*sign(v)))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

func thousands(n int64) string {
	s := strconv.FormatInt(max(n, -n), 10)
	var b strings.Builder
	if n < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
