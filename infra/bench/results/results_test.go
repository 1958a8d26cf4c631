package results

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/bench/api"
	"github.com/startmsg/chatbackend/infra/bench/connector"
)

var machine = Machine{CPU: "Test CPU @ 2.0GHz", Cores: 2, MemoryGiB: 23.4, OS: "linux/amd64", Go: "go1.26.8", Date: "2026-12-05T12:00:00Z"}

// sampleDir writes the three programs' reports with their own WriteJSON, so
// a renamed JSON field there shows here.
func sampleDir(t *testing.T, coldPass bool) string {
	t.Helper()
	dir := t.TempDir()
	cold := bench.Report{Rounds: 30, MaxRatio: bench.MaxRatio, MaxSizeBytes: bench.MaxSize, Pass: coldPass,
		Baseline: bench.Result{Function: "baseline", MedianMS: 2.0, SizeBytes: 3 << 20},
		Functions: []bench.Result{
			{Function: "me", MedianMS: 2.5, Ratio: 1.25, InitOK: true, SizeBytes: 9 << 20, SizeOK: true},
			{Function: "openapi", MedianMS: 4, Ratio: 2, InitOK: coldPass, SizeBytes: 11 << 20, SizeOK: coldPass},
		}}
	if err := cold.WriteJSON(filepath.Join(dir, "coldstart.json")); err != nil {
		t.Fatal(err)
	}
	get := api.NewTarget("GET /v1/contact/{id} p50", "ms", 3.1, 2.5, 2, "")
	get.Baseline = "GetItem straight at dynoxide"
	bad := api.NewTarget("search p95", "ms", 40, 10, 3, "a request answered 500")
	apiRep := api.Report{Targets: []api.Target{get, bad},
		CPU: &api.CPU{Number: 4, Requests: 2000, FunctionMS: 0.25, GatewayMS: 0.4, EmulatorMS: 0.5, WrkMS: 0.6, MaxMS: 0.3},
		Throughput: api.Throughput{Rows: []api.ThroughputRow{{Connections: 32, Threads: 2,
			Gateway: api.WrkStats{RequestsPerSec: 1234.4}, Emulator: api.WrkStats{RequestsPerSec: 5000}, Ratio: 0.2469}}}}
	if err := apiRep.WriteJSON(filepath.Join(dir, "apibench.json")); err != nil {
		t.Fatal(err)
	}
	conn := connector.Report{Targets: []connector.Target{
		{Number: 1, Name: "deliveries/s", Value: 180, Unit: "deliveries/s", Cmp: connector.AtLeast, Limit: 100, Valid: true,
			Notes: []string{"baseline, delivery client alone → a sink: 900 deliveries/s", "8 in flight"}},
		{Number: 2, Name: "end-to-end p95", Value: 0, Unit: "ms", Cmp: connector.AtMost, Limit: 2000, Invalid: "3 deliveries missing"},
		{Number: 4, Name: "dispatcher throughput ÷ SQS ceiling loop", Value: 0.64, Unit: "× ceiling", Cmp: connector.AtLeast, Limit: 0.6, Valid: true,
			Notes: []string{"baseline, SQS ceiling loop: 2,800 deliveries/s (mean of 2,750 before and 2,850 after)"}},
	}}
	conn.Judge()
	if err := conn.WriteJSON(filepath.Join(dir, "connectorbench.json")); err != nil {
		t.Fatal(err)
	}
	msg := connector.Report{Targets: []connector.Target{
		{Number: 1, Name: "API accept → sandbox p95", Value: 420, Unit: "ms", Cmp: connector.AtMost, Limit: 1000, Valid: true,
			Notes: []string{"baseline, the same path's DynamoDB and SQS calls alone: p95 60 ms", "2000 messages"}},
		{Number: 2, Name: "sender throughput ÷ outbox ceiling loop", Value: 0.55, Unit: "× ceiling", Cmp: connector.AtLeast, Limit: 0.4, Valid: true,
			Notes: []string{"baseline, outbox ceiling loop: 900 messages/s"}},
		{Number: 4, Name: "chaos: messages sent twice", Value: 1, Unit: "messages", Cmp: connector.AtMost, Limit: 0, Valid: true},
	}}
	msg.Judge()
	if err := msg.WriteJSON(filepath.Join(dir, "msgbench.json")); err != nil {
		t.Fatal(err)
	}
	// autobench writes its own report of the same targets' shape.
	auto := `{"n":10000,"targets":[{"name":"scheduler release lag p95","value":1.5,"unit":"s","comparison":"≤","limit":2,"valid":true,` +
		`"notes":["baseline: the same ticker releasing 10000 no-op items, lag p95 0.40 s"]}],"pass":true}`
	if err := os.WriteFile(filepath.Join(dir, "autobench.json"), []byte(auto), 0o644); err != nil {
		t.Fatal(err)
	}
	inst := `{"n":10000,"concurrency":8,"queue_per_s":358,"pull_ack_per_s":949.4,"ddb_calls_alone_per_s":980,"ratio_to_ddb_alone":0.97,` +
		`"pulls":100,"delivered":10000,"duplicates":0,"out_of_order":0,"missing":0,"target_per_s":500,"pass":true}`
	if err := os.WriteFile(filepath.Join(dir, "installbench.json"), []byte(inst), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func find(t *testing.T, b Bench, name string) Figure {
	t.Helper()
	for _, f := range b.Figures {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("%s: no figure %q in %+v", b.Name, name, b.Figures)
	return Figure{}
}

func TestGather(t *testing.T) {
	r := Gather(sampleDir(t, false), machine)
	if r.Pass || len(r.Benches) != 6 {
		t.Fatalf("pass %v, %d benches", r.Pass, len(r.Benches))
	}
	if in := r.Benches[5]; in.Name != "installbench" || !in.Ran || !in.Pass || len(in.Figures) != 5 {
		t.Errorf("installbench: %+v", in)
	} else if f := find(t, in, "pull + ack over HTTP"); f.Value != 949 || *f.BaselineValue != 980 || f.Target != "≥ 500 messages/s" || !f.Pass {
		t.Errorf("installbench throughput: %+v", f)
	}
	if a := r.Benches[4]; a.Name != "autobench" || !a.Ran || !a.Pass ||
		find(t, a, "scheduler release lag p95").Baseline != "baseline: the same ticker releasing 10000 no-op items, lag p95 0.40 s" {
		t.Errorf("autobench: %+v", a)
	}
	cold, apib, conn := r.Benches[0], r.Benches[1], r.Benches[2]
	if cold.Name != "coldstart" || !cold.Ran || cold.Pass || len(cold.Figures) != 4 {
		t.Errorf("coldstart: %+v", cold)
	}
	me := find(t, cold, "me init (median)")
	if me.Value != 2.5 || *me.BaselineValue != 2.0 || me.Target != "≤ 1.5× baseline" || !me.Pass {
		t.Errorf("me init: %+v", me)
	}
	size := find(t, cold, "openapi bootstrap size")
	if size.Value != 11 || size.Unit != "MiB" || size.Target != "≤ 10 MiB" || size.Pass || *size.BaselineValue != 3 {
		t.Errorf("openapi size: %+v", size)
	}

	if !apib.Ran || apib.Pass {
		t.Errorf("apibench: ran %v pass %v", apib.Ran, apib.Pass)
	}
	g := find(t, apib, "GET /v1/contact/{id} p50")
	if g.Value != 3.1 || *g.BaselineValue != 2.5 || g.Baseline != "GetItem straight at dynoxide" || g.Target != "≤ 2.00× baseline" || !g.Pass || g.Note != "1.24× baseline" {
		t.Errorf("apibench target: %+v", g)
	}
	if c := find(t, apib, "GET /v1/contact/{id} CPU per request, the function (what runs in Lambda)"); c.Value != 0.25 || c.Target != "≤ 0.3 ms" || !c.Pass {
		t.Errorf("CPU figure: %+v", c)
	}
	if c := find(t, apib, "GET /v1/contact/{id} CPU per request through the local gateway (in-process)"); c.Value != 0.4 || *c.BaselineValue != 0.25 || c.Note != "the local gateway adds 0.150 ms" {
		t.Errorf("gateway CPU figure: %+v", c)
	}
	find(t, apib, "GET /v1/contact/{id} CPU per request, whole process under wrk (32 connections)")
	if s := find(t, apib, "search p95"); s.Pass || s.Note != "a request answered 500" {
		t.Errorf("invalid apibench target: %+v", s)
	}
	th := find(t, apib, "gateway throughput, 32 connections (wrk)")
	if th.Value != 1234 || *th.BaselineValue != 5000 || !th.Pass || !strings.HasPrefix(th.Target, "informational") {
		t.Errorf("throughput: %+v", th)
	}

	if !conn.Ran || conn.Pass {
		t.Errorf("connectorbench: ran %v pass %v", conn.Ran, conn.Pass)
	}
	d := find(t, conn, "deliveries/s")
	if !d.Pass || d.Target != "≥ 100 deliveries/s" || d.Baseline != "baseline, delivery client alone → a sink: 900 deliveries/s" {
		t.Errorf("deliveries: %+v", d)
	}
	if e := find(t, conn, "end-to-end p95"); e.Pass || e.Note != "invalid: 3 deliveries missing" {
		t.Errorf("invalid connector target: %+v", e)
	}
	// The dispatcher's share of its ceiling loop, measured in the same run.
	if c := find(t, conn, "dispatcher throughput ÷ SQS ceiling loop"); !c.Pass || c.Value != 0.64 || c.Target != "≥ 0.6 × ceiling" ||
		!strings.Contains(c.Baseline, "SQS ceiling loop: 2,800 deliveries/s") {
		t.Errorf("ceiling ratio: %+v", c)
	}
	msg := r.Benches[3]
	if msg.Name != "msgbench" || !msg.Ran || msg.Pass || len(msg.Figures) != 3 {
		t.Errorf("msgbench: %+v", msg)
	}
	if e := find(t, msg, "API accept → sandbox p95"); !e.Pass || e.Target != "≤ 1000 ms" || e.Baseline != "baseline, the same path's DynamoDB and SQS calls alone: p95 60 ms" {
		t.Errorf("msgbench latency: %+v", e)
	}
	if c := find(t, msg, "sender throughput ÷ outbox ceiling loop"); !c.Pass || c.Target != "≥ 0.4 × ceiling" || !strings.Contains(c.Baseline, "900 messages/s") {
		t.Errorf("msgbench ceiling ratio: %+v", c)
	}
	if d := find(t, msg, "chaos: messages sent twice"); d.Pass || d.Target != "≤ 0 messages" {
		t.Errorf("msgbench chaos: %+v", d)
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| dispatcher throughput ÷ SQS ceiling loop | 0.64 × ceiling | baseline, SQS ceiling loop: 2,800 deliveries/s") {
		t.Errorf("markdown lacks the ceiling ratio row:\n%s", md.String())
	}
}

func TestGatherMissingAndBroken(t *testing.T) {
	dir := sampleDir(t, true)
	os.Remove(filepath.Join(dir, "apibench.json"))
	os.WriteFile(filepath.Join(dir, "connectorbench.json"), []byte(`{"oops":`), 0o644)
	r := Gather(dir, machine)
	if r.Pass {
		t.Error("report passes with a bench missing")
	}
	if b := r.Benches[1]; b.Ran || b.Pass || !strings.Contains(b.Error, "no apibench.json") {
		t.Errorf("missing apibench: %+v", b)
	}
	if b := r.Benches[2]; b.Ran || b.Pass || !strings.Contains(b.Error, "connectorbench.json") {
		t.Errorf("broken connectorbench: %+v", b)
	}
	if b := r.Benches[0]; !b.Pass {
		t.Errorf("coldstart should pass: %+v", b)
	}
	// A file of another program is no report.
	os.WriteFile(filepath.Join(dir, "coldstart.json"), []byte(`{"targets":[]}`), 0o644)
	if b := Gather(dir, machine).Benches[0]; b.Ran || b.Pass || b.Error == "" {
		t.Errorf("foreign JSON as coldstart: %+v", b)
	}
}

func TestWriteMarkdown(t *testing.T) {
	dir := sampleDir(t, false)
	os.Remove(filepath.Join(dir, "apibench.json"))
	var b bytes.Buffer
	if err := Gather(dir, machine).WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"# Benchmark results: FAIL\n",
		"| CPU | Test CPU @ 2.0GHz |", "| cores | 2 |", "| memory | 23.4 GiB |", "| Go | go1.26.8 |", "| date | 2026-12-05T12:00:00Z |",
		"| [coldstart](#coldstart) | **FAIL** | 2 of 4 pass |",
		"| [apibench](#apibench) | **FAIL** | not measured |",
		"## apibench\n\n**FAIL**: API latency",
		"**Not measured:** no apibench.json",
		"| me init (median) | 2.5 ms | 2 ms (baseline init median, 30 rounds) | ≤ 1.5× baseline | PASS | 1.25× baseline |",
		"| openapi bootstrap size | 11 MiB | 3 MiB (baseline bootstrap) | ≤ 10 MiB | **FAIL** |",
		"| deliveries/s | 180 deliveries/s | baseline, delivery client alone → a sink: 900 deliveries/s | ≥ 100 deliveries/s | PASS |",
		"| end-to-end p95 | 0 ms | — | ≤ 2000 ms | **FAIL** | invalid: 3 deliveries missing |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	for i, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "|") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") < 3 {
			t.Errorf("line %d is a broken table row: %q", i+1, line)
		}
	}
}

func TestWriteJSONRoundTrips(t *testing.T) {
	r := Gather(sampleDir(t, true), machine)
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Machine != machine || back.Pass != r.Pass || len(back.Benches) != len(programs) || len(back.Benches[0].Figures) != 4 {
		t.Errorf("round trip: %+v", back)
	}
	if !strings.Contains(b.String(), `"target": "≤ 1.5× baseline"`) {
		t.Errorf("JSON escapes or lacks the target:\n%s", b.String())
	}
}

func TestCell(t *testing.T) {
	if got := cell("a|b\n  c"); got != `a\|b c` {
		t.Errorf("cell = %q", got)
	}
}

func TestMachineParsing(t *testing.T) {
	x86 := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)  CPU @ 2.20GHz\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n"
	if got := cpuModel(x86); got != "Intel(R) Xeon(R) CPU @ 2.20GHz" {
		t.Errorf("cpuModel x86 = %q", got)
	}
	arm := "processor\t: 0\nBogoMIPS\t: 48.00\nCPU part\t: 0xd0c\n\nModel\t\t: Raspberry Pi 4 Model B\n"
	if got := cpuModel(arm); got != "Raspberry Pi 4 Model B" {
		t.Errorf("cpuModel arm = %q", got)
	}
	if got := memTotalGiB("MemTotal:       24567012 kB\nMemFree: 1 kB\n"); got != 23.4 {
		t.Errorf("memTotalGiB = %v", got)
	}
	m := ThisMachine(time.Date(2026, 12, 5, 13, 0, 0, 0, time.FixedZone("x", 3600)))
	if m.Cores < 1 || m.Go == "" || m.Date != "2026-12-05T12:00:00Z" || m.CPU == "" {
		t.Errorf("ThisMachine: %+v", m)
	}
}

// TestGatherPhoneBaseline: a function judged against the phone baseline
// shows that baseline, its ratio to it and its own size limit.
func TestGatherPhoneBaseline(t *testing.T) {
	dir := t.TempDir()
	cold := bench.NewReportFor(bench.Config{Rounds: 3},
		[]bench.Yardstick{
			{Samples: bench.Samples{Name: "baseline", Times: []time.Duration{10 * time.Millisecond}}, MaxSize: bench.MaxSize},
			{Samples: bench.Samples{Name: "baseline-phone", Times: []time.Duration{25 * time.Millisecond}}, MaxSize: bench.MaxSizePhone},
		},
		[]bench.Samples{
			{Name: "contact-create", Times: []time.Duration{30 * time.Millisecond}},
			{Name: "me", Times: []time.Duration{12 * time.Millisecond}},
		},
		map[string]int{"contact-create": 1},
		map[string]int64{"baseline": 5 << 20, "baseline-phone": 14 << 20, "contact-create": 17 << 20, "me": 9 << 20})
	if err := cold.WriteJSON(filepath.Join(dir, "coldstart.json")); err != nil {
		t.Fatal(err)
	}
	b := Gather(dir, machine).Benches[0]
	if !b.Ran || !b.Pass {
		t.Fatalf("coldstart: %+v", b)
	}
	cc := find(t, b, "contact-create init (median)")
	if *cc.BaselineValue != 25 || cc.Target != "≤ 1.5× baseline-phone" || cc.Note != "1.20× baseline-phone" || !cc.Pass {
		t.Errorf("contact-create init: %+v", cc)
	}
	if s := find(t, b, "contact-create bootstrap size"); s.Target != "≤ 20 MiB" || !s.Pass || *s.BaselineValue != 14 {
		t.Errorf("contact-create size: %+v", s)
	}
	if me := find(t, b, "me init (median)"); *me.BaselineValue != 10 || me.Target != "≤ 1.5× baseline" {
		t.Errorf("me init: %+v", me)
	}
	if s := find(t, b, "me bootstrap size"); s.Target != "≤ 10 MiB" || *s.BaselineValue != 5 {
		t.Errorf("me size: %+v", s)
	}
}

// An installbench run that lost or doubled a message fails, whatever its
// own verdict says; one that is not its report is an error.
func TestInstallbenchCounts(t *testing.T) {
	for _, c := range []struct {
		json    string
		failing []string
	}{
		{`{"n":10,"pull_ack_per_s":900,"ddb_calls_alone_per_s":950,"delivered":9,"missing":1,"target_per_s":500,"pass":true}`, []string{"messages missing", "messages delivered"}},
		{`{"n":10,"pull_ack_per_s":900,"ddb_calls_alone_per_s":950,"delivered":10,"duplicates":2,"target_per_s":500,"pass":true}`, []string{"messages delivered twice"}},
		{`{"n":10,"pull_ack_per_s":400,"ddb_calls_alone_per_s":950,"delivered":10,"target_per_s":500,"pass":true}`, []string{"pull + ack over HTTP"}},
	} {
		figs, pass, err := installbench([]byte(c.json))
		if err != nil || pass {
			t.Fatalf("%s: pass %v, err %v", c.json, pass, err)
		}
		for _, f := range figs {
			if f.Pass == slices.Contains(c.failing, f.Name) {
				t.Errorf("%s: %s pass %v", c.json, f.Name, f.Pass)
			}
		}
	}
	if _, _, err := installbench([]byte(`{"targets":[]}`)); err == nil {
		t.Error("a report without n or pass was read")
	}
}
