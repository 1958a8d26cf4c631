package bench

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func startRuntime(t *testing.T) (*Runtime, string) {
	t.Helper()
	rt, err := StartRuntime()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	if !strings.HasPrefix(rt.Addr, "127.0.0.1:") {
		t.Fatalf("Addr = %q, want a loopback address", rt.Addr)
	}
	return rt, "http://" + rt.Addr + "/2018-06-01/runtime/"
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s: status %d, want 202", url, resp.StatusCode)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestRuntimeInvocationCycle(t *testing.T) {
	rt, base := startRuntime(t)
	if closed(rt.InitDone()) {
		t.Fatal("InitDone closed before any request")
	}

	// The first next is held open until an invocation is queued.
	type result struct {
		resp *http.Response
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "invocation/next")
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{resp, string(b), err}
	}()
	select {
	case <-rt.InitDone():
	case <-time.After(10 * time.Second):
		t.Fatal("InitDone not closed after GET next")
	}
	select {
	case r := <-got:
		t.Fatalf("next answered with no invocation queued: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	end, ok := rt.InitEnd()
	if !ok || end.Kind != KindNext || end.At.IsZero() {
		t.Fatalf("InitEnd = %+v, %v; want the next request", end, ok)
	}

	id := rt.Invoke([]byte(`{"hello":"world"}`))
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.resp.StatusCode != http.StatusOK || r.body != `{"hello":"world"}` {
		t.Fatalf("next: %d %q", r.resp.StatusCode, r.body)
	}
	if h := r.resp.Header.Get("Lambda-Runtime-Aws-Request-Id"); h != id {
		t.Errorf("request id header %q, want %q", h, id)
	}
	deadline, err := strconv.ParseInt(r.resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	if err != nil || time.UnixMilli(deadline).Before(time.Now()) {
		t.Errorf("deadline header %q is not a future epoch in ms", r.resp.Header.Get("Lambda-Runtime-Deadline-Ms"))
	}

	post(t, base+"invocation/"+id+"/response", `"done"`)
	post(t, base+"invocation/"+id+"/error", `{"errorMessage":"boom"}`)
	reqs := rt.Requests()
	if len(reqs) != 3 {
		t.Fatalf("recorded %d requests, want 3: %+v", len(reqs), reqs)
	}
	if q := reqs[1]; q.Kind != KindResponse || q.ID != id || string(q.Body) != `"done"` {
		t.Errorf("response recorded as %+v", q)
	}
	if q := reqs[2]; q.Kind != KindError || q.ID != id || !strings.Contains(string(q.Body), "boom") {
		t.Errorf("error recorded as %+v", q)
	}
}

func TestRuntimeInitError(t *testing.T) {
	rt, base := startRuntime(t)
	post(t, base+"init/error", `{"errorType":"Runtime.InitError"}`)
	if !closed(rt.InitDone()) {
		t.Fatal("InitDone not closed after init/error")
	}
	end, ok := rt.InitEnd()
	if !ok || end.Kind != KindInitError || !strings.Contains(string(end.Body), "Runtime.InitError") {
		t.Fatalf("InitEnd = %+v, %v", end, ok)
	}
}

func TestRuntimeCloseReleasesHeldNext(t *testing.T) {
	rt, base := startRuntime(t)
	done := make(chan struct{})
	go func() {
		if resp, err := http.Get(base + "invocation/next"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		close(done)
	}()
	<-rt.InitDone()
	rt.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("GET next still held after Close")
	}
}

func TestRuntimeExtensionRegister(t *testing.T) {
	rt, _ := startRuntime(t)
	req, _ := http.NewRequest("POST", "http://"+rt.Addr+"/2020-01-01/extension/register", strings.NewReader(`{"events":[]}`))
	req.Header.Set("Lambda-Extension-Name", "GoLangEnableSIGTERM")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Lambda-Extension-Identifier") == "" {
		t.Errorf("register: %d, identifier %q", resp.StatusCode, resp.Header.Get("Lambda-Extension-Identifier"))
	}
	if closed(rt.InitDone()) {
		t.Error("registering an extension ended the init phase")
	}
}

func TestRuntimeUnknownPath(t *testing.T) {
	_, base := startRuntime(t)
	resp, err := http.Get(base + "nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET unknown path: %d, want 404", resp.StatusCode)
	}
}
