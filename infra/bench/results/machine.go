package results

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// ThisMachine describes the machine the caller runs on, at now.
func ThisMachine(now time.Time) Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(),
		Date: now.UTC().Format(time.RFC3339)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = cpuModel(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemoryGiB = memTotalGiB(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += ", kernel " + strings.TrimSpace(string(b))
	}
	if m.CPU == "" {
		m.CPU = "unknown (" + runtime.GOARCH + ")"
	}
	return m
}

// cpuModel is the first "model name" (x86) or "Model"/"CPU part" (arm) of
// /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	var fallback string
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			return strings.Join(strings.Fields(v), " ")
		case "Model", "Hardware":
			if fallback == "" {
				fallback = strings.Join(strings.Fields(v), " ")
			}
		}
	}
	return fallback
}

// memTotalGiB reads MemTotal (kB) from /proc/meminfo, in GiB to 0.1.
func memTotalGiB(meminfo string) float64 {
	sc := bufio.NewScanner(strings.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return 0
			}
			return float64(int(kb/(1<<20)*10+0.5)) / 10
		}
	}
	return 0
}
