package api

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Report is the outcome of one apibench run.
type Report struct {
	Config map[string]any `json:"config"`
	// Setup lines say what was started and how long it took.
	Setup   []string `json:"setup"`
	Seeding Seeding  `json:"seeding"`
	Targets []Target `json:"targets"`
	// Throughput is informational: it has no pass/fail target, but a run
	// whose gateway answers were not all 2xx is invalid and fails.
	Throughput Throughput `json:"throughput"`
	// CPU is the CPU per request of the GET, against an absolute budget.
	CPU     *CPU    `json:"cpu,omitempty"`
	Runtime Seconds `json:"runtime_s"`
}

// Seconds is a duration that encodes to JSON as seconds.
type Seconds time.Duration

// MarshalJSON writes the seconds with millisecond precision.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(time.Duration(s).Round(time.Millisecond)) / float64(time.Second))
}

func (s Seconds) String() string { return time.Duration(s).Round(100 * time.Millisecond).String() }

// Seeding is how the search benchmark's contacts were written.
type Seeding struct {
	Contacts map[string]int `json:"contacts"` // by tenant label
	Items    int            `json:"items_per_contact"`
	Workers  int            `json:"workers"`
	Duration Seconds        `json:"duration_s"`
	PerSec   float64        `json:"contacts_per_sec"`
	How      string         `json:"how"`
}

// Throughput is wrk against the gateway and against the emulator.
type Throughput struct {
	// Number is the section's place in the report.
	Number   int             `json:"number"`
	Duration Seconds         `json:"duration_s"`
	Rows     []ThroughputRow `json:"rows,omitempty"`
	Skipped  string          `json:"skipped,omitempty"`
	Invalid  string          `json:"invalid,omitempty"`
	Notes    []string        `json:"notes,omitempty"`
}

// ThroughputRow is one connection count.
type ThroughputRow struct {
	Connections int      `json:"connections"`
	Threads     int      `json:"threads"`
	Gateway     WrkStats `json:"gateway"`
	Emulator    WrkStats `json:"emulator"`
	// Ratio is gateway req/s ÷ emulator GetItem req/s.
	Ratio Num `json:"ratio"`
	// Tokens is how many tokens the gateway run rotated through.
	Tokens int `json:"tokens"`
	// CPU is the CPU time each process used during the gateway run.
	CPU map[string]Seconds `json:"cpu_during_gateway_run_s,omitempty"`
	// CPUEmulatorRun is the same during the emulator run.
	CPUEmulatorRun map[string]Seconds `json:"cpu_during_emulator_run_s,omitempty"`
	// SocketsBefore and Sockets count TCP sockets on the DynamoDB
	// emulator's port by state right before and right after the gateway
	// run; TIME_WAIT ones are connections closed in the last minute, so a
	// jump means the gateway's SDK client kept redialling.
	SocketsBefore map[string]int `json:"emulator_sockets_before_gateway_run,omitempty"`
	// Dials is how many connections the gateway's SDK client opened to
	// the emulator during the gateway run.
	Dials   int64          `json:"sdk_dials_during_gateway_run"`
	Sockets map[string]int `json:"emulator_sockets_after_gateway_run,omitempty"`
}

// Pass reports whether every target passed and the throughput runs were
// valid.
func (r Report) Pass() bool {
	for _, t := range r.Targets {
		if !t.Pass {
			return false
		}
	}
	if r.CPU != nil && !r.CPU.Pass() {
		return false
	}
	return r.Throughput.Invalid == ""
}

// WriteText prints the report for a person.
func (r Report) WriteText(w io.Writer) {
	for _, s := range r.Setup {
		fmt.Fprintln(w, s)
	}
	if r.Seeding.Duration > 0 {
		var parts []string
		total := 0
		for _, k := range sortedKeys(r.Seeding.Contacts) {
			parts = append(parts, fmt.Sprintf("%s %d", k, r.Seeding.Contacts[k]))
			total += r.Seeding.Contacts[k]
		}
		fmt.Fprintf(w, "seeding: %d contacts (%s), %d items each, in %s = %.0f contacts/s (%d workers, %s)\n",
			total, strings.Join(parts, ", "), r.Seeding.Items, r.Seeding.Duration, r.Seeding.PerSec, r.Seeding.Workers, r.Seeding.How)
	}
	printedThroughput := false
	for _, t := range r.Targets {
		if !printedThroughput && r.Throughput.Number > 0 && r.Throughput.Number < t.Number {
			r.writeThroughput(w)
			printedThroughput = true
		}
		fmt.Fprintf(w, "\n%d. %s  [%s]\n", t.Number, t.Name, t.Verdict())
		fmt.Fprintf(w, "   measured  %9.3f %s  %s\n", t.Value, t.Unit, t.What)
		fmt.Fprintf(w, "   baseline  %9.3f %s  %s\n", t.Base, t.Unit, t.Baseline)
		fmt.Fprintf(w, "   ratio     %9s     target ≤ %.2f×\n", t.RatioString(), t.MaxRatio)
		if t.Invalid != "" {
			fmt.Fprintf(w, "   INVALID   %s\n", t.Invalid)
		}
		for _, n := range t.Notes {
			fmt.Fprintf(w, "   - %s\n", n)
		}
	}
	if !printedThroughput {
		r.writeThroughput(w)
	}
	if r.CPU != nil {
		r.CPU.write(w)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, r.Summary())
}

func (r Report) writeThroughput(w io.Writer) {
	th := r.Throughput
	verdict := "no target"
	if th.Invalid != "" {
		verdict = "INVALID"
	}
	fmt.Fprintf(w, "\n%d. wrk req/s: GET /v1/contact/{id} through the gateway vs GetItem straight at dynoxide  [%s]\n", th.Number, verdict)
	if th.Skipped != "" {
		fmt.Fprintf(w, "   SKIPPED   %s\n", th.Skipped)
	}
	if len(th.Rows) > 0 {
		fmt.Fprintf(w, "   %5s  %7s  %12s  %12s  %7s  %10s  %10s  %8s\n",
			"conns", "threads", "gateway/s", "emulator/s", "ratio", "gw p50", "emu p50", "non-2xx")
		for _, row := range th.Rows {
			fmt.Fprintf(w, "   %5d  %7d  %12.0f  %12.0f  %7s  %7.2f ms  %7.2f ms  %8d\n",
				row.Connections, row.Threads, row.Gateway.RequestsPerSec, row.Emulator.RequestsPerSec,
				ratioString(float64(row.Ratio)), row.Gateway.LatencyP50MS, row.Emulator.LatencyP50MS,
				row.Gateway.Non2xx+row.Emulator.Non2xx)
		}
		for _, row := range th.Rows {
			if len(row.CPU) > 0 {
				fmt.Fprintf(w, "   CPU over the %d-connection gateway run (%s): %s\n", row.Connections, th.Duration, cpuString(row.CPU))
			}
			if len(row.CPUEmulatorRun) > 0 {
				fmt.Fprintf(w, "   CPU over the %d-connection emulator run: %s\n", row.Connections, cpuString(row.CPUEmulatorRun))
			}
			fmt.Fprintf(w, "   new SDK connections to dynoxide during the %d-connection gateway run: %d for %d requests\n", row.Connections, row.Dials, row.Gateway.Requests)
			if len(row.Sockets) > 0 {
				fmt.Fprintf(w, "   sockets on the emulator's port around the %d-connection gateway run: %s\n", row.Connections, socketsString(row.SocketsBefore, row.Sockets))
			}
		}
	}
	if th.Invalid != "" {
		fmt.Fprintf(w, "   INVALID   %s\n", th.Invalid)
	}
	for _, n := range th.Notes {
		fmt.Fprintf(w, "   - %s\n", n)
	}
}

// socketsString is "STATE before → after" for every state in either.
func socketsString(before, after map[string]int) string {
	all := map[string]bool{}
	for k := range before {
		all[k] = true
	}
	for k := range after {
		all[k] = true
	}
	var parts []string
	for _, k := range sortedKeys(all) {
		parts = append(parts, fmt.Sprintf("%s %d → %d", k, before[k], after[k]))
	}
	return strings.Join(parts, ", ")
}

func cpuString(m map[string]Seconds) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %.2f s", k, time.Duration(m[k]).Seconds()))
	}
	return strings.Join(parts, ", ")
}

// Summary is the last line: PASS or FAIL, what missed, and the runtime.
func (r Report) Summary() string {
	var missed []string
	for _, t := range r.Targets {
		if !t.Pass {
			why := fmt.Sprintf("%s > %.2f×", t.RatioString(), t.MaxRatio)
			if t.Invalid != "" {
				why = "invalid: " + t.Invalid
			}
			missed = append(missed, fmt.Sprintf("%d (%s)", t.Number, why))
		}
	}
	if r.Throughput.Invalid != "" {
		missed = append(missed, fmt.Sprintf("%d (invalid: %s)", r.Throughput.Number, r.Throughput.Invalid))
	}
	if c := r.CPU; c != nil && !c.Pass() {
		why := fmt.Sprintf("%.3f ms > %.3f ms", c.FunctionMS, c.MaxMS)
		if c.Invalid != "" {
			why = "invalid: " + c.Invalid
		}
		missed = append(missed, fmt.Sprintf("%d (CPU %s)", c.Number, why))
	}
	n := len(r.Targets)
	if r.CPU != nil {
		n++
	}
	verdict := fmt.Sprintf("PASS: all %d targets met", n)
	if len(missed) > 0 {
		verdict = "FAIL: " + strings.Join(missed, "; ")
	}
	return fmt.Sprintf("%s — total runtime %s", verdict, r.Runtime)
}

// WriteJSON writes the report, indented, to path.
func (r Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(struct {
		Report
		Pass bool `json:"pass"`
	}{r, r.Pass()}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
