package api

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleReport() Report {
	get := NewTarget("GET p50 vs its DynamoDB calls", "ms", 1.8, 1.5, 1.5, "")
	get.Number, get.What, get.Baseline, get.Notes = 1, "p50 of 2000", "UpdateItem + pair", []string{"a note"}
	search := NewTarget("search p50 100k vs 1k", "ms", 6.6, 5, 1.2, "")
	search.Number = 3
	return Report{
		Setup:   []string{"stack: …"},
		Seeding: Seeding{Contacts: map[string]int{"small tenant": 1000, "large tenant": 100000}, Items: 6, Workers: 32, Duration: Seconds(170 * time.Second), PerSec: 594, How: "CreateContact"},
		Targets: []Target{get, search},
		Throughput: Throughput{Number: 2, Duration: Seconds(10 * time.Second), Rows: []ThroughputRow{{
			Connections: 32, Threads: 2, Ratio: 0.1,
			Gateway:       WrkStats{RequestsPerSec: 660, LatencyP50MS: 45},
			Emulator:      WrkStats{RequestsPerSec: 6600, LatencyP50MS: 4},
			CPU:           map[string]Seconds{"dynoxide": Seconds(time.Second)},
			SocketsBefore: map[string]int{"TIME_WAIT": 5},
			Sockets:       map[string]int{"TIME_WAIT": 1500, "ESTABLISHED": 20},
		}}},
		Runtime: Seconds(250 * time.Second),
	}
}

func TestReportText(t *testing.T) {
	rep := sampleReport()
	var b bytes.Buffer
	rep.WriteText(&b)
	out := b.String()
	for _, want := range []string{
		"seeding: 101000 contacts (large tenant 100000, small tenant 1000), 6 items each, in 2m50s = 594 contacts/s",
		"1. GET p50 vs its DynamoDB calls  [PASS]",
		"ratio         1.20×     target ≤ 1.50×",
		"   - a note",
		"2. wrk req/s",
		"[no target]",
		"      32        2           660          6600    0.10×",
		"ESTABLISHED 0 → 20, TIME_WAIT 5 → 1500",
		"3. search p50 100k vs 1k  [FAIL]",
		"FAIL: 3 (1.32× > 1.20×) — total runtime 4m10s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// Sections in their numbered order.
	if i, j, k := strings.Index(out, "\n1. "), strings.Index(out, "\n2. "), strings.Index(out, "\n3. "); !(i < j && j < k) {
		t.Errorf("sections out of order (%d, %d, %d):\n%s", i, j, k, out)
	}
	if rep.Pass() {
		t.Error("Pass() with a failed target")
	}
}

func TestReportPass(t *testing.T) {
	rep := sampleReport()
	rep.Targets[1] = NewTarget("search", "ms", 5.1, 5, 1.2, "")
	rep.Targets[1].Number = 3
	if !rep.Pass() || !strings.HasPrefix(rep.Summary(), "PASS: all 2 targets met") {
		t.Errorf("Pass() = %v, summary %q", rep.Pass(), rep.Summary())
	}
	rep.Throughput.Invalid = "12 non-2xx answers"
	if rep.Pass() || !strings.Contains(rep.Summary(), "2 (invalid: 12 non-2xx answers)") {
		t.Errorf("an invalid throughput run passes: %q", rep.Summary())
	}
	rep.Throughput.Invalid = ""
	rep.Targets[0] = NewTarget("get", "ms", 1, 1, 1.5, "3 of 2000 measured requests did not answer 200")
	rep.Targets[0].Number = 1
	if rep.Pass() || !strings.Contains(rep.Summary(), "1 (invalid: 3 of 2000") {
		t.Errorf("an invalid target passes: %q", rep.Summary())
	}
}

func TestReportJSON(t *testing.T) {
	rep := sampleReport()
	rep.Targets = append(rep.Targets, NewTarget("no baseline", "ms", 1, 0, 1.5, ""))
	path := filepath.Join(t.TempDir(), "r.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Pass    bool    `json:"pass"`
		Runtime float64 `json:"runtime_s"`
		Targets []struct {
			Ratio *float64 `json:"ratio"`
			Pass  bool     `json:"pass"`
		} `json:"targets"`
		Seeding struct {
			Duration float64 `json:"duration_s"`
		} `json:"seeding"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if v.Pass || v.Runtime != 250 || v.Seeding.Duration != 170 || len(v.Targets) != 3 {
		t.Errorf("decoded %+v", v)
	}
	if v.Targets[0].Ratio == nil || *v.Targets[0].Ratio != 1.2 || v.Targets[2].Ratio != nil {
		t.Errorf("ratios: %v, %v (want 1.2 and null)", v.Targets[0].Ratio, v.Targets[2].Ratio)
	}
}
