package api

import (
	"os"
	"slices"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	stat := "4242 (dyno xide) (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 100 0 0 18446744073709551615\n"
	got, err := ParseProcStat(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3250 * time.Millisecond; got != want {
		t.Errorf("got %v, want %v (utime 250 + stime 75 ticks)", got, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 abc 7 8"} {
		if _, err := ParseProcStat(bad); err == nil {
			t.Errorf("ParseProcStat(%q): no error", bad)
		}
	}
}

func TestProcCPUAndFind(t *testing.T) {
	if _, err := ProcCPU(os.Getpid()); err != nil {
		t.Errorf("ProcCPU(self): %v", err)
	}
	self := FindProcesses(func(argv []string) bool { return argv[0] == os.Args[0] })
	if !slices.Contains(self, os.Getpid()) {
		t.Errorf("FindProcesses did not find this test (%d) among %v", os.Getpid(), self)
	}
}

func TestParseProcNetTCP(t *testing.T) {
	// 127.0.0.1:8000 (0x1F40) listening, one connection to it from both
	// ends, one client socket in TIME_WAIT, and an unrelated socket.
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F40 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:A1B2 0100007F:1F40 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:C000 0100007F:1F40 06 00000000:00000000 03:00000F00 00000000     0        0 0 3 0000000000000000
   4: 0100007F:1F41 0100007F:C001 06 00000000:00000000 03:00000F00 00000000     0        0 0 3 0000000000000000
`
	got := ParseProcNetTCP(table, 8000)
	want := map[string]int{"LISTEN": 1, "ESTABLISHED": 2, "TIME_WAIT": 1}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}
