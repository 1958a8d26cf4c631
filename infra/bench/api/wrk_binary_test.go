//go:build wrk

package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestScriptsWithWrk runs both scripts with the real wrk against a local
// server (make bench runs it, with -tags wrk, before the benchmarks; make
// test checks the same scripts in an embedded Lua instead, see
// TestScriptsInLua): every token is used by one thread only and at
// most perToken times, and the static request arrives as written.
func TestScriptsWithWrk(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is not installed: make bench installs it (Debian package wrk)")
	}
	const perToken = 50
	var mu sync.Mutex
	byToken := map[string]int{}
	var static []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost {
			static = append(static, r.Header.Get("X-Amz-Target")+" "+r.Header.Get("Authorization")+" "+r.URL.Path)
			return
		}
		if r.URL.Path != "/v1/contact/42" {
			w.WriteHeader(http.StatusNotFound)
		}
		byToken[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]++
	}))
	defer srv.Close()

	tokens := make([]string, 4000)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("ct_%06d", i)
	}
	dir := t.TempDir()
	run := func(script string, path string) string {
		f := filepath.Join(dir, "s.lua")
		if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, wrk, "-t", "2", "-c", "4", "-d", "1s", "--latency", "-s", f, srv.URL+path).CombinedOutput()
		if err != nil {
			t.Fatalf("wrk: %v\n%s", err, out)
		}
		return string(out)
	}
	out := run(GatewayScript("/v1/contact/42", tokens, perToken, 2), "/v1/contact/42")
	st, err := ParseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Non2xx != 0 || st.Requests == 0 {
		t.Fatalf("gateway script: %+v\n%s", st, out)
	}
	mu.Lock()
	total := 0
	for _, n := range byToken {
		total += n
	}
	if int64(total) < st.Requests {
		t.Errorf("server saw %d requests, wrk reports %d", total, st.Requests)
	}
	if total <= len(tokens)*perToken {
		for tok, n := range byToken {
			if n > perToken {
				t.Errorf("token %s used %d times, more than %d", tok, n, perToken)
			}
		}
	} else {
		t.Logf("%d requests: more than the tokens serve, wrap-around not checked", total)
	}
	mu.Unlock()

	out = run(StaticScript("POST", "/", map[string]string{"X-Amz-Target": "DynamoDB_20120810.GetItem", "Authorization": "AWS4-HMAC-SHA256 x"}, `{"a":1}`), "/")
	if st, err := ParseWrk(out); err != nil || st.Non2xx != 0 {
		t.Fatalf("static script: %+v %v\n%s", st, err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(static) == 0 || static[0] != "DynamoDB_20120810.GetItem AWS4-HMAC-SHA256 x /" {
		t.Errorf("static requests: %q", static[:min(len(static), 3)])
	}
}
