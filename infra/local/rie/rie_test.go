package rie

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBaselineUnderRIE builds the emulator and the bench baseline, runs one
// invocation and reads the init duration the emulator logs.
func TestBaselineUnderRIE(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("aws-lambda-rie runs on Linux only")
	}
	ctx := context.Background()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := Binary(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	boots, err := Bootstraps(ctx, root, map[string]string{"baseline": "./infra/bench/baseline", "initerror": "./infra/bench/testdata/initerror"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Bootstraps(ctx, root, map[string]string{"baseline": "./infra/bench/baseline"})
	if err != nil || again["baseline"] != boots["baseline"] {
		t.Fatalf("second build: %v, %v; want the cached %s", again, err, boots["baseline"])
	}
	fi, err := os.Stat(boots["baseline"])
	if err != nil || filepath.Base(boots["baseline"]) != "bootstrap" || fi.Size() == 0 {
		t.Fatalf("bootstrap %s: %v", boots["baseline"], err)
	}

	f, err := Start(ctx, bin, Options{Name: "baseline", Bootstrap: boots["baseline"], Timeout: 10 * time.Second,
		Env: []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y"}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	if _, err := f.Init(); err == nil {
		t.Error("Init before the first invocation: want an error (the bootstrap starts at the first invocation)")
	}
	for range 2 {
		out, err := f.Invoke(ctx, []byte(`{"ping":1}`))
		if err != nil || string(out) != `{"ok":true}` {
			t.Fatalf("Invoke = %s, %v", out, err)
		}
	}
	d, err := f.Init()
	if err != nil || d <= 0 || d > 10*time.Second {
		t.Fatalf("Init = %v, %v", d, err)
	}
	t.Logf("baseline init under RIE: %v", d)
	f.Stop()
	if _, err := f.Invoke(ctx, []byte(`{}`)); err == nil {
		t.Error("Invoke after Stop succeeded")
	}

	// A bootstrap that posts init/error: the invocation fails, as does Init.
	bad, err := Start(ctx, bin, Options{Name: "initerror", Bootstrap: boots["initerror"], Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Stop()
	_, err = bad.Invoke(ctx, []byte(`{}`))
	var ie *InvokeError
	if !errors.As(err, &ie) {
		t.Fatalf("Invoke of initerror = %v, want an *InvokeError", err)
	}
	if _, err := bad.Init(); err == nil || !strings.Contains(err.Error(), "status") {
		t.Errorf("Init of initerror = %v, want its failed status", err)
	}
}
