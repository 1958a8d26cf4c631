// Command benchreport is the last step of `make bench`: it gathers the
// -json outputs of coldstart, apibench, connectorbench and msgbench from one folder
// and writes the report, bench/results.md and its twin bench/results.json
// (package infra/bench/results), naming the machine the run was on.
//
//	go run ./infra/bench/cmd/benchreport -in .local/bench -md bench/results.md -json bench/results.json
//
// It exits 0 once the report is written, whatever the benchmarks' verdicts
// (make bench takes those from the programs' exit codes), and 2 when it
// cannot write it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/startmsg/chatbackend/infra/bench/results"
)

func main() {
	in := flag.String("in", ".local/bench", "folder with the programs' reports (coldstart, apibench, connectorbench, msgbench, autobench and installbench .json)")
	md := flag.String("md", "bench/results.md", "markdown report to write")
	js := flag.String("json", "bench/results.json", "JSON report to write")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	r := results.Gather(*in, results.ThisMachine(time.Now()))
	var m, j bytes.Buffer
	if err := r.WriteMarkdown(&m); err != nil {
		fail(err)
	}
	if err := r.WriteJSON(&j); err != nil {
		fail(err)
	}
	for path, b := range map[string][]byte{*md: m.Bytes(), *js: j.Bytes()} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fail(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			fail(err)
		}
	}
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Printf("bench report: %s — %s, %s\n", verdict, *md, *js)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchreport:", err)
	os.Exit(2)
}
