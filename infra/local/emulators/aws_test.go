package emulators

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// TestIdleConnTimeoutBelowFauxqsKeepAlive: the stack's SDK clients drop an
// idle connection before fauxqs closes it (its Fastify keep-alive timeout,
// read from the installed packages), so that no request is written on a
// connection the emulator is closing.
func TestIdleConnTimeoutBelowFauxqsKeepAlive(t *testing.T) {
	dir, err := localDir("")
	if err != nil {
		t.Fatal(err)
	}
	app, err := os.ReadFile(filepath.Join(dir, "node_modules", "fauxqs", "dist", "app.js"))
	if err != nil {
		t.Fatalf("fauxqs not installed (make deps): %v", err)
	}
	if bytes.Contains(app, []byte("keepAliveTimeout")) {
		t.Fatal("fauxqs now sets Fastify's keepAliveTimeout itself: read it from there")
	}
	var validator []byte
	for _, p := range []string{filepath.Join(dir, "node_modules", "fauxqs", "node_modules", "fastify", "lib", "config-validator.js"),
		filepath.Join(dir, "node_modules", "fastify", "lib", "config-validator.js")} {
		if validator, err = os.ReadFile(p); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("fastify (fauxqs's server) not found: %v", err)
	}
	m := regexp.MustCompile(`"keepAliveTimeout":\{"type":"integer","default":(\d+)\}`).FindSubmatch(validator)
	if m == nil {
		t.Fatal("Fastify's default keepAliveTimeout not found")
	}
	ms, _ := strconv.Atoi(string(m[1]))
	keepAlive := time.Duration(ms) * time.Millisecond

	cfg := (&Stack{}).AWSConfig()
	bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("HTTP client %T, want the SDK's BuildableClient", cfg.HTTPClient)
	}
	if idle := bc.GetTransport().IdleConnTimeout; idle <= 0 || idle >= keepAlive {
		t.Errorf("the SDK clients keep idle connections %v; fauxqs closes them after %v", idle, keepAlive)
	}
}
