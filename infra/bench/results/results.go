// Package results gathers what `make bench` measured into one report:
// bench/results.md for people and bench/results.json, its twin. Every
// figure comes with the baseline measured in the same run (where it has
// one), its target, PASS or FAIL, and the report names the machine the run
// was on.
//
// It reads the -json files of the programs in infra/bench/cmd
// (coldstart.json, apibench.json, connectorbench.json, msgbench.json) by
// their JSON field names only, so it does not depend on those programs' Go
// types.
package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Machine is what the run ran on.
type Machine struct {
	CPU       string  `json:"cpu"`
	Cores     int     `json:"cores"`
	MemoryGiB float64 `json:"memory_gib"`
	OS        string  `json:"os"`
	Go        string  `json:"go"`
	Date      string  `json:"date"` // RFC 3339, UTC
}

// Figure is one measured number.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Baseline is what the figure is compared with, measured in the same
	// run ("" when the target is absolute); BaselineValue is its number when
	// it has one.
	Baseline      string   `json:"baseline,omitempty"`
	BaselineValue *float64 `json:"baseline_value,omitempty"`
	// Target is the bound the figure must meet ("≤ 1.5× baseline",
	// "≤ 10 MiB", "informational").
	Target string `json:"target"`
	Pass   bool   `json:"pass"`
	// Note says why a figure failed other than by its value (an invalid
	// measurement, an error).
	Note string `json:"note,omitempty"`
}

// Bench is one program's part of the report.
type Bench struct {
	Name    string   `json:"name"`
	What    string   `json:"what"`
	Ran     bool     `json:"ran"`
	Error   string   `json:"error,omitempty"` // why there is no result
	Pass    bool     `json:"pass"`
	Figures []Figure `json:"figures"`
}

// Results is the whole report.
type Results struct {
	Machine Machine `json:"machine"`
	Pass    bool    `json:"pass"`
	Benches []Bench `json:"benches"`
}

// The programs, the file each writes with -json, and what they measure.
var programs = []struct{ name, file, what string }{
	{"coldstart", "coldstart.json", "cold-start init of every function against a minimal bootstrap (the functions that parse phone numbers against one that also links the phone library), and linux/arm64 sizes"},
	{"apibench", "apibench.json", "API latency and throughput through the local gateway against the same calls straight at the emulator"},
	{"connectorbench", "connectorbench.json", "webhook deliveries: throughput, end-to-end latency, behaviour with hanging targets"},
	{"msgbench", "msgbench.json", "outbound messages (API → stream → router → outbox → sender → the provider sandbox): latency, sender throughput against its ceiling loop, no loss and no double send under provider faults"},
	{"autobench", "autobench.json", "automations: 10,000 contacts enrolled in add tag → wait 2 s → set field, run to their end by the scheduler's ticker: every run finishes, no step twice, release lag p95 against the same ticker releasing no-op items"},
	{"installbench", "installbench.json", "sender installations (seed 004): 10,000 messages queued while the installation is offline, then pulled and acknowledged over HTTP: throughput against the same DynamoDB calls alone, none lost, doubled or out of order"},
}

// Gather reads the programs' JSON files from dir. A missing or unreadable
// file makes that bench fail with the reason, not Gather.
func Gather(dir string, m Machine) Results {
	r := Results{Machine: m, Pass: true}
	for _, p := range programs {
		b := Bench{Name: p.name, What: p.what}
		data, err := os.ReadFile(filepath.Join(dir, p.file))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			b.Error = "no " + p.file + ": the program did not run to its report"
		case err != nil:
			b.Error = err.Error()
		default:
			b.Ran = true
			var figs []Figure
			switch p.name {
			case "coldstart":
				figs, b.Pass, err = coldstart(data)
			case "apibench":
				figs, b.Pass, err = apibench(data)
			case "connectorbench", "msgbench", "autobench":
				figs, b.Pass, err = targets(p.name, data)
			case "installbench":
				figs, b.Pass, err = installbench(data)
			}
			if err != nil {
				b.Ran, b.Pass, b.Error = false, false, fmt.Sprintf("%s: %v", p.file, err)
			}
			b.Figures = figs
		}
		if b.Figures == nil {
			b.Figures = []Figure{}
		}
		r.Pass = r.Pass && b.Pass
		r.Benches = append(r.Benches, b)
	}
	return r
}

func ptr(v float64) *float64 { return &v }

func coldstart(data []byte) ([]Figure, bool, error) {
	type row struct {
		Function  string  `json:"function"`
		Baseline  string  `json:"baseline"`
		MaxSize   int64   `json:"max_arm64_size_bytes"`
		What      string  `json:"what"`
		MedianMS  float64 `json:"init_median_ms"`
		Ratio     float64 `json:"ratio_to_baseline"`
		InitOK    bool    `json:"init_ok"`
		SizeBytes int64   `json:"arm64_size_bytes"`
		SizeOK    bool    `json:"size_ok"`
		Error     string  `json:"error"`
	}
	var rep struct {
		MaxRatio  float64 `json:"max_ratio"`
		MaxSize   int64   `json:"max_arm64_size_bytes"`
		Rounds    int     `json:"rounds"`
		Baseline  row     `json:"baseline"`
		Baselines []row   `json:"baselines"`
		Functions []row   `json:"functions"`
		Pass      *bool   `json:"pass"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, false, err
	}
	if rep.Pass == nil || len(rep.Functions) == 0 {
		return nil, false, errors.New("not a coldstart report (no pass or functions)")
	}
	baselines := map[string]row{}
	for _, b := range append([]row{rep.Baseline}, rep.Baselines...) {
		baselines[b.Function] = b
	}
	mib := func(b int64) float64 { return math.Round(float64(b)/(1<<20)*100) / 100 }
	var figs []Figure
	for _, f := range rep.Functions {
		b, ok := baselines[f.Baseline]
		if !ok {
			b = rep.Baseline // a report from before there were several baselines
		}
		maxSize := f.MaxSize
		if maxSize == 0 {
			maxSize = rep.MaxSize
		}
		base := fmt.Sprintf("%s init median, %d rounds", b.Function, rep.Rounds)
		init := Figure{Name: f.Function + " init (median)", Value: f.MedianMS, Unit: "ms", Baseline: base, BaselineValue: ptr(b.MedianMS),
			Target: fmt.Sprintf("≤ %.1f× %s", rep.MaxRatio, b.Function), Pass: f.InitOK && f.Error == ""}
		if f.Error != "" {
			init.Note = f.Error
		} else {
			init.Note = fmt.Sprintf("%.2f× %s", f.Ratio, b.Function)
		}
		size := Figure{Name: f.Function + " bootstrap size", Value: mib(f.SizeBytes), Unit: "MiB",
			Target: fmt.Sprintf("≤ %d MiB", maxSize>>20), Pass: f.SizeOK}
		if b.SizeBytes > 0 {
			size.Baseline, size.BaselineValue = b.Function+" bootstrap", ptr(mib(b.SizeBytes))
		}
		figs = append(figs, init, size)
	}
	return figs, *rep.Pass, nil
}

func apibench(data []byte) ([]Figure, bool, error) {
	var rep struct {
		Targets []struct {
			Name     string   `json:"name"`
			What     string   `json:"what"`
			Baseline string   `json:"baseline"`
			Unit     string   `json:"unit"`
			Value    float64  `json:"value"`
			Base     float64  `json:"baseline_value"`
			Ratio    *float64 `json:"ratio"`
			MaxRatio float64  `json:"max_ratio"`
			Pass     bool     `json:"pass"`
			Invalid  string   `json:"invalid"`
		} `json:"targets"`
		Throughput struct {
			Rows []struct {
				Connections int `json:"connections"`
				Gateway     struct {
					RPS    float64 `json:"requests_per_sec"`
					Non2xx int64   `json:"non_2xx_3xx"`
				} `json:"gateway"`
				Emulator struct {
					RPS float64 `json:"requests_per_sec"`
				} `json:"emulator"`
				Ratio *float64 `json:"ratio"`
			} `json:"rows"`
			Skipped string `json:"skipped"`
			Invalid string `json:"invalid"`
		} `json:"throughput"`
		CPU *struct {
			Requests   int     `json:"requests"`
			FunctionMS float64 `json:"function_ms_per_request"`
			GatewayMS  float64 `json:"gateway_ms_per_request"`
			EmulatorMS float64 `json:"emulator_ms_per_request"`
			WrkMS      float64 `json:"wrk_process_ms_per_request"`
			MaxMS      float64 `json:"max_ms"`
			Invalid    string  `json:"invalid"`
		} `json:"cpu"`
		Pass *bool `json:"pass"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, false, err
	}
	if rep.Pass == nil || len(rep.Targets) == 0 {
		return nil, false, errors.New("not an apibench report (no pass or targets)")
	}
	var figs []Figure
	for _, t := range rep.Targets {
		f := Figure{Name: t.Name, Value: t.Value, Unit: t.Unit, Baseline: t.Baseline, BaselineValue: ptr(t.Base),
			Target: fmt.Sprintf("≤ %.2f× baseline", t.MaxRatio), Pass: t.Pass, Note: t.Invalid}
		if f.Note == "" && t.Ratio != nil {
			f.Note = fmt.Sprintf("%.2f× baseline", *t.Ratio)
		}
		figs = append(figs, f)
	}
	th := rep.Throughput
	for _, row := range th.Rows {
		f := Figure{Name: fmt.Sprintf("gateway throughput, %d connections (wrk)", row.Connections), Value: math.Round(row.Gateway.RPS), Unit: "req/s",
			Baseline: "GetItem straight at the emulator, same connections", BaselineValue: ptr(math.Round(row.Emulator.RPS)),
			Target: "informational (every answer 2xx)", Pass: th.Invalid == "" && row.Gateway.Non2xx == 0, Note: th.Invalid}
		if f.Note == "" && row.Ratio != nil {
			f.Note = fmt.Sprintf("%.2f× baseline", *row.Ratio)
		}
		figs = append(figs, f)
	}
	if len(th.Rows) == 0 && th.Skipped != "" {
		figs = append(figs, Figure{Name: "gateway throughput (wrk)", Unit: "req/s", Target: "informational", Pass: true, Note: "skipped: " + th.Skipped})
	}
	if c := rep.CPU; c != nil {
		round := func(v float64) float64 { return math.Round(v*1000) / 1000 }
		valid := c.Invalid == "" && c.Requests > 0
		figs = append(figs,
			Figure{Name: "GET /v1/contact/{id} CPU per request, the function (what runs in Lambda)", Value: round(c.FunctionMS), Unit: "ms",
				Target: fmt.Sprintf("≤ %s ms", num(c.MaxMS)), Pass: valid && c.FunctionMS <= c.MaxMS,
				Note: strings.TrimSpace(fmt.Sprintf("%d requests; DynamoDB emulator apart: %.3f ms %s", c.Requests, c.EmulatorMS, c.Invalid))},
			Figure{Name: "GET /v1/contact/{id} CPU per request through the local gateway (in-process)", Value: round(c.GatewayMS), Unit: "ms",
				Baseline: "the function alone", BaselineValue: ptr(round(c.FunctionMS)), Target: "informational", Pass: valid,
				Note: fmt.Sprintf("the local gateway adds %.3f ms", c.GatewayMS-c.FunctionMS)})
		if c.WrkMS > 0 {
			figs = append(figs, Figure{Name: "GET /v1/contact/{id} CPU per request, whole process under wrk (32 connections)", Value: round(c.WrkMS), Unit: "ms",
				Target: "informational", Pass: true, Note: "HTTP server, gateway and function"})
		}
	}
	return figs, *rep.Pass, nil
}

// targets reads a report of numbered targets (connectorbench, msgbench:
// connector.Report).
func targets(name string, data []byte) ([]Figure, bool, error) {
	var rep struct {
		Targets []struct {
			Name    string   `json:"name"`
			Value   float64  `json:"value"`
			Unit    string   `json:"unit"`
			Cmp     string   `json:"comparison"`
			Limit   float64  `json:"limit"`
			Valid   bool     `json:"valid"`
			Invalid string   `json:"invalid"`
			Notes   []string `json:"notes"`
		} `json:"targets"`
		Pass *bool `json:"pass"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, false, err
	}
	if rep.Pass == nil || len(rep.Targets) == 0 {
		return nil, false, fmt.Errorf("not a %s report (no pass or targets)", name)
	}
	var figs []Figure
	for _, t := range rep.Targets {
		met := t.Valid && ((t.Cmp == "≥" && t.Value >= t.Limit) || (t.Cmp != "≥" && t.Value <= t.Limit))
		f := Figure{Name: t.Name, Value: t.Value, Unit: t.Unit, Target: fmt.Sprintf("%s %s %s", t.Cmp, num(t.Limit), t.Unit), Pass: met}
		if !t.Valid {
			f.Note = "invalid: " + t.Invalid
		}
		// These targets are absolute or ratios; their notes carry the
		// baselines measured in the same run.
		var bases []string
		for _, n := range t.Notes {
			if strings.HasPrefix(strings.ToLower(n), "baseline") {
				bases = append(bases, n)
			}
		}
		f.Baseline = strings.Join(bases, "; ")
		figs = append(figs, f)
	}
	return figs, *rep.Pass, nil
}

// installbench reads installbench's report: its throughput target and
// its counts, each of which must be 0 (or all delivered).
func installbench(data []byte) ([]Figure, bool, error) {
	var rep struct {
		N          int     `json:"n"`
		PullAck    float64 `json:"pull_ack_per_s"`
		DDBAlone   float64 `json:"ddb_calls_alone_per_s"`
		Delivered  int     `json:"delivered"`
		Duplicates int     `json:"duplicates"`
		OutOfOrder int     `json:"out_of_order"`
		Missing    int     `json:"missing"`
		Target     float64 `json:"target_per_s"`
		Pass       *bool   `json:"pass"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, false, err
	}
	if rep.Pass == nil || rep.N == 0 {
		return nil, false, errors.New("not an installbench report (no pass or n)")
	}
	figs := []Figure{
		{Name: "pull + ack over HTTP", Value: math.Round(rep.PullAck), Unit: "messages/s",
			Baseline: "baseline, the same DynamoDB calls alone", BaselineValue: ptr(math.Round(rep.DDBAlone)),
			Target: fmt.Sprintf("≥ %s messages/s", num(rep.Target)), Pass: rep.PullAck >= rep.Target,
			Note: fmt.Sprintf("%.2f× the calls alone", rep.PullAck/max(rep.DDBAlone, 1e-9))},
		{Name: "messages delivered", Value: float64(rep.Delivered), Unit: "messages", Target: fmt.Sprintf("= %d", rep.N), Pass: rep.Delivered == rep.N},
	}
	for _, c := range []struct {
		name string
		n    int
	}{{"messages delivered twice", rep.Duplicates}, {"messages out of order", rep.OutOfOrder}, {"messages missing", rep.Missing}} {
		figs = append(figs, Figure{Name: c.name, Value: float64(c.n), Unit: "messages", Target: "≤ 0 messages", Pass: c.n == 0})
	}
	pass := *rep.Pass
	for _, f := range figs {
		pass = pass && f.Pass
	}
	return figs, pass, nil
}

// num prints a figure: no decimals from 100 up, else up to two.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
	default:
		s := strings.TrimRight(fmt.Sprintf("%.2f", v), "0")
		return strings.TrimSuffix(s, ".")
	}
}

// WriteJSON writes r, indented.
func (r Results) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteMarkdown renders r for people.
func (r Results) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	m := r.Machine
	fmt.Fprintf(&b, "# Benchmark results: %s\n\n", verdict)
	b.WriteString("Written by `make bench` (infra/bench). Every figure is judged against a baseline measured in the same run on the same machine, or against an absolute target where it has none.\n\n")
	b.WriteString("| machine | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| CPU | %s |\n| cores | %d |\n| memory | %.1f GiB |\n| OS | %s |\n| Go | %s |\n| date | %s |\n\n",
		cell(m.CPU), m.Cores, m.MemoryGiB, cell(m.OS), cell(m.Go), cell(m.Date))
	b.WriteString("| bench | result | figures | what |\n| --- | --- | --- | --- |\n")
	for _, bench := range r.Benches {
		figures := fmt.Sprintf("%d of %d pass", passing(bench.Figures), len(bench.Figures))
		if !bench.Ran {
			figures = "not measured"
		}
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s |\n", bench.Name, bench.Name, passFail(bench.Pass), figures, cell(bench.What))
	}
	for _, bench := range r.Benches {
		fmt.Fprintf(&b, "\n## %s\n\n%s: %s\n\n", bench.Name, passFail(bench.Pass), bench.What)
		if bench.Error != "" {
			fmt.Fprintf(&b, "**Not measured:** %s\n", cell(bench.Error))
			continue
		}
		b.WriteString("| figure | value | baseline (same run) | target | result | note |\n| --- | ---: | --- | --- | --- | --- |\n")
		for _, f := range bench.Figures {
			value := num(f.Value) + " " + f.Unit
			if f.Value == 0 && strings.HasPrefix(f.Note, "skipped") {
				value = "—"
			}
			base := "—"
			if f.BaselineValue != nil {
				base = num(*f.BaselineValue) + " " + f.Unit
				if f.Baseline != "" {
					base += " (" + f.Baseline + ")"
				}
			} else if f.Baseline != "" {
				base = f.Baseline
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cell(f.Name), cell(value), cell(base), cell(f.Target), passFail(f.Pass), cell(f.Note))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func passing(figs []Figure) int {
	n := 0
	for _, f := range figs {
		if f.Pass {
			n++
		}
	}
	return n
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "**FAIL**"
}

// cell makes s safe in a markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
