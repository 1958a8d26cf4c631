package rie

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeFunction is a Function whose emulator is a test server answering
// invocations with answer (after delay), and whose log is written by the
// test.
func fakeFunction(t *testing.T, delay time.Duration, answer string) *Function {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so that a client gone ends r.Context()
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte(answer))
	}))
	t.Cleanup(srv.Close)
	return &Function{URL: srv.URL, name: "fake", exited: make(chan struct{}), client: srv.Client(),
		out: &logBuffer{max: 1 << 20, changed: make(chan struct{}, 1)}}
}

// TestColdStartReportArrivesBetweenReads: the emulator's INIT REPORT line
// reaches the log just after ColdStart looked at it (RTDONE already there).
// ColdStart waits for it and reads the duration; it does not report a
// failed init whose reason is "no INIT REPORT" while the line is in the
// output.
func TestColdStartReportArrivesBetweenReads(t *testing.T) {
	f := fakeFunction(t, time.Minute, "{}")
	_, _ = f.out.Write([]byte("START RequestId: 1\nINIT RTDONE(status: success)\n"))
	var once sync.Once
	f.out.afterRead = func() {
		once.Do(func() { _, _ = f.out.Write([]byte("INIT REPORT(durationMs: 12.50)\n")) })
	}
	d, err := f.ColdStart(t.Context(), []byte(`{}`))
	if err != nil {
		t.Fatalf("ColdStart: %v", err)
	}
	if want := 12500 * time.Microsecond; d != want {
		t.Errorf("init %v, want %v", d, want)
	}
}

// TestColdStartReportAfterAnswer: the answer comes before the log lines,
// which arrive a moment later through the pipe.
func TestColdStartReportAfterAnswer(t *testing.T) {
	f := fakeFunction(t, 0, "{}")
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = f.out.Write([]byte("INIT RTDONE(status: success)\n"))
		time.Sleep(300 * time.Millisecond)
		_, _ = f.out.Write([]byte("INIT REPORT(durationMs: 7)\n"))
	}()
	d, err := f.ColdStart(t.Context(), []byte(`{}`))
	if err != nil || d != 7*time.Millisecond {
		t.Fatalf("ColdStart: %v, %v; want 7ms", d, err)
	}
}

// TestColdStartExitLogComplete: the emulator exits after writing its INIT
// lines; the log it wrote before exiting is read, not lost to the exit.
func TestColdStartExitLogComplete(t *testing.T) {
	f := fakeFunction(t, time.Minute, "{}")
	var once sync.Once
	f.out.afterRead = func() {
		once.Do(func() {
			_, _ = f.out.Write([]byte("INIT RTDONE(status: success)\nINIT REPORT(durationMs: 3)\n"))
			close(f.exited)
		})
	}
	d, err := f.ColdStart(t.Context(), []byte(`{}`))
	if err != nil || d != 3*time.Millisecond {
		t.Fatalf("ColdStart: %v, %v; want 3ms", d, err)
	}
}

// TestColdStartFailedInit: an init that failed is an *InitError with the
// emulator's reason, once both lines are in.
func TestColdStartFailedInit(t *testing.T) {
	f := fakeFunction(t, 0, `{"errorMessage":"boom","errorType":"Runtime.ExitError"}`)
	_, _ = f.out.Write([]byte("Init failed InvokeID= error=Runtime exited with error: exit status 3\nINIT RTDONE(status: error)\nINIT REPORT(durationMs: 4)\n"))
	_, err := f.ColdStart(t.Context(), []byte(`{}`))
	ie, ok := err.(*InitError)
	if !ok {
		t.Fatalf("ColdStart: %v, want an *InitError", err)
	}
	if !strings.Contains(ie.Reason, "status error") || !strings.Contains(ie.Body, "boom") {
		t.Errorf("reason %q, body %q", ie.Reason, ie.Body)
	}
}

// TestRuntimeAPIPortTaken: the emulator's own bind failure (as it logged
// it in a make bench run) is told apart from a bootstrap's failed init.
func TestRuntimeAPIPortTaken(t *testing.T) {
	taken := &InitError{Function: "f", Output: "06 Dec 2026 07:45:19,748 [PANIC] (rapid) Runtime API Server failed to listen error=listen tcp 127.0.0.1:34933: bind: address already in use"}
	if !taken.RuntimeAPIPortTaken() {
		t.Error("the emulator's Runtime API bind failure is not recognised")
	}
	own := &InitError{Function: "f", Output: "[ERROR] (rapid) Init failed error=Runtime exited with error: exit status 2\npanic: listen tcp :8080: bind: address already in use"}
	if own.RuntimeAPIPortTaken() {
		t.Error("a bootstrap's own failure is taken for the emulator's")
	}
}
