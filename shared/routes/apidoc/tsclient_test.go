package apidoc

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/routes"
)

// TestTypeScriptClientCompiles generates TypeScript types from the
// document with openapi-typescript and compiles tsclient/client.ts, a small
// client that uses them, with tsc --noEmit. Both tools are pinned by
// tsclient/package-lock.json and installed with npm ci.
func TestTypeScriptClientCompiles(t *testing.T) {
	dir, err := filepath.Abs("tsclient")
	if err != nil {
		t.Fatal(err)
	}
	npmCI(t, dir)
	work := t.TempDir()
	doc := filepath.Join(work, "openapi.json")
	if err := os.WriteFile(doc, routes.Document, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"client.ts", "tsconfig.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "node_modules", ".bin")
	run(t, work, filepath.Join(bin, "openapi-typescript"), doc, "-o", filepath.Join(work, "schema.d.ts"))
	run(t, work, filepath.Join(bin, "tsc"), "--noEmit", "-p", work)
}

// npmCI installs tsclient's packages from its lockfile, once per lockfile.
func npmCI(t *testing.T, dir string) {
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	stamp := filepath.Join(dir, "node_modules", ".installed")
	if b, err := os.ReadFile(stamp); err == nil && string(b) == hex.EncodeToString(sum[:]) {
		return
	}
	run(t, dir, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	if err := os.WriteFile(stamp, []byte(hex.EncodeToString(sum[:])), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs a Node tool on the project's Node (the one pinned in infra/node,
// or Node 20+ on PATH), which the tools' #!/usr/bin/env node lines find
// first on PATH.
func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	node, err := emulators.Node(filepath.Join("..", "..", "..", "infra", "local"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, out)
	}
}
