package connector

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/infra/bench/api"
)

// clockTicks is USER_HZ, the unit of /proc/stat's times (100 on every
// Linux the project runs on).
const clockTicks = 100

// CPUSample is the CPU time (user + system) used so far by this process
// and by each of its children, by command name ("self" for this process).
// Linux only; empty elsewhere.
type CPUSample map[string]time.Duration

// SampleCPU reads /proc.
func SampleCPU() CPUSample {
	out := CPUSample{}
	self := os.Getpid()
	if d, _, ok := procCPU(filepath.Join("/proc", strconv.Itoa(self), "stat")); ok {
		out["self"] = d
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		d, st, ok := procCPU(p)
		if !ok || st.ppid != self {
			continue
		}
		out[st.comm] += d
	}
	return out
}

type procStat struct {
	comm string
	ppid int
}

// procCPU parses utime+stime, the command and the parent of a stat file.
func procCPU(path string) (time.Duration, procStat, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, procStat{}, false
	}
	return parseStat(string(b))
}

func parseStat(s string) (time.Duration, procStat, bool) {
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return 0, procStat{}, false
	}
	st := procStat{comm: s[open+1 : closing]}
	cpu, err := api.ParseProcStat(s)
	f := strings.Fields(s[closing+1:])
	if err != nil || len(f) < 2 {
		return 0, procStat{}, false
	}
	// After the command: state(0) ppid(1).
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, procStat{}, false
	}
	st.ppid = ppid
	return cpu, st, true
}

// CPUUse is what each process used between two samples.
type CPUUse struct {
	Process string  `json:"process"`
	CPUS    float64 `json:"cpu_s"`
	// Cores is CPUS over the wall time: 1.0 is one core kept busy.
	Cores float64 `json:"cores"`
}

// Since returns the CPU each process used from before to s over wall,
// busiest first.
func (s CPUSample) Since(before CPUSample, wall time.Duration) []CPUUse {
	var out []CPUUse
	for name, d := range s {
		used := d - before[name]
		if used <= 0 {
			continue
		}
		out = append(out, CPUUse{Process: name, CPUS: used.Seconds(), Cores: used.Seconds() / wall.Seconds()})
	}
	slices.SortFunc(out, func(a, b CPUUse) int {
		switch {
		case a.CPUS > b.CPUS:
			return -1
		case a.CPUS < b.CPUS:
			return 1
		}
		return strings.Compare(a.Process, b.Process)
	})
	return out
}

// CPULine formats uses as "self 1.2 cores, dynoxide 0.8, node 0.1".
func CPULine(uses []CPUUse) string {
	parts := make([]string, len(uses))
	for i, u := range uses {
		name := u.Process
		switch name {
		case "self":
			name = "this process (handlers, pollers, gateway, sink)"
		case "node":
			name = "fauxqs (node)"
		}
		parts[i] = fmt.Sprintf("%s %.2f cores (%.1f s)", name, u.Cores, u.CPUS)
	}
	if len(parts) == 0 {
		return "n/a"
	}
	return strings.Join(parts, ", ")
}

// MachineCPU is the busy time of all CPUs together, from /proc/stat's
// "cpu" line (everything but idle and iowait); 0 elsewhere.
func MachineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseMachine(line)
}

func parseMachine(line string) time.Duration {
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest times are already in user and nice
			break
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks
}

// CPUWindow measures CPU use over a stretch of a run.
type CPUWindow struct {
	start   time.Time
	procs   CPUSample
	machine time.Duration
}

// StartCPU begins a window.
func StartCPU() CPUWindow {
	return CPUWindow{start: time.Now(), procs: SampleCPU(), machine: MachineCPU()}
}

// CPUReport is a window's CPU use: per process of ours, and the machine's.
type CPUReport struct {
	WallS        float64  `json:"wall_s"`
	Ours         []CPUUse `json:"ours"`
	MachineCores float64  `json:"machine_busy_cores"`
	OtherCores   float64  `json:"other_processes_cores"`
}

// End closes the window.
func (w CPUWindow) End() CPUReport {
	wall := time.Since(w.start)
	r := CPUReport{WallS: wall.Seconds(), Ours: SampleCPU().Since(w.procs, wall)}
	r.MachineCores = (MachineCPU() - w.machine).Seconds() / wall.Seconds()
	ours := 0.0
	for _, u := range r.Ours {
		ours += u.Cores
	}
	r.OtherCores = max(r.MachineCores-ours, 0)
	return r
}

// String is one line.
func (r CPUReport) String() string {
	return fmt.Sprintf("CPU over %.1f s: %s; whole machine %.2f cores busy, of which other processes (not this benchmark) %.2f",
		r.WallS, CPULine(r.Ours), r.MachineCores, r.OtherCores)
}
