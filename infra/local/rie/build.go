package rie

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// Module is the emulator's Go module; go.mod pins its version (a tool
// dependency), so go.sum pins its code.
const Module = "github.com/aws/aws-lambda-runtime-interface-emulator"

const toolPkg = Module + "/cmd/aws-lambda-rie"

// BuildFlags are the go build flags of a deployable bootstrap (as in
// CONVENTIONS.md and the Makefile); CGO_ENABLED=0 is set in the environment.
var BuildFlags = []string{"-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w -buildid="}

// ModuleRoot is the nearest directory at or above the working directory
// holding a go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod at or above " + dir + ": run from inside the module")
		}
	}
}

// Binary returns root/.local/bin/aws-lambda-rie, building it first from the
// version go.mod pins when it is missing or was built from another version.
func Binary(ctx context.Context, root string) (string, error) {
	version, err := goOutput(ctx, root, nil, "list", "-m", "-f", "{{.Version}}", Module)
	if err != nil {
		return "", fmt.Errorf("aws-lambda-rie version from go.mod: %w", err)
	}
	version = strings.TrimSpace(version)
	bin := filepath.Join(root, ".local", "bin", "aws-lambda-rie")
	stamp := bin + ".version"
	if b, err := os.ReadFile(stamp); err == nil && string(b) == version {
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	defer os.Remove(tmp)
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH}
	if _, err := goOutput(ctx, root, env, "build", "-trimpath", "-o", tmp, toolPkg); err != nil {
		return "", fmt.Errorf("build aws-lambda-rie %s: %w", version, err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, os.WriteFile(stamp, []byte(version), 0o644)
}

// Bootstraps builds the main packages of pkgs (name → package path relative
// to root, e.g. "me" → "./functions/me") for linux on the host's
// architecture, with BuildFlags, and returns name → path of its bootstrap.
//
// The binaries are cached under root/.local/rie/ by the content of the
// module's Go sources, go.mod and go.sum and the toolchain: a second call,
// in this or a later process, with nothing changed builds nothing. Missing
// ones are built together by one go build.
func Bootstraps(ctx context.Context, root string, pkgs map[string]string) (map[string]string, error) {
	goVersion, err := goOutput(ctx, root, nil, "env", "GOVERSION")
	if err != nil {
		return nil, err
	}
	key, err := sourceKey(root, runtime.GOARCH, strings.TrimSpace(goVersion))
	if err != nil {
		return nil, err
	}
	cache := filepath.Join(root, ".local", "rie", "bootstraps-"+runtime.GOARCH, key)
	out := map[string]string{}
	var missing []string
	for name := range pkgs {
		path := filepath.Join(cache, name, "bootstrap")
		out[name] = path
		if _, err := os.Stat(path); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	slices.Sort(missing)
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cache, ".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// One go build per package would link them one after the other; go
	// build -o dir/ builds them all, in parallel, naming each binary after
	// its package's last path element.
	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", tmp+string(filepath.Separator))
	byBase := map[string]string{}
	for _, name := range missing {
		base := filepath.Base(pkgs[name])
		if other, dup := byBase[base]; dup {
			return nil, fmt.Errorf("packages of %s and %s share the name %s", other, name, base)
		}
		byBase[base] = name
		args = append(args, pkgs[name])
	}
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH}
	if _, err := goOutput(ctx, root, env, args...); err != nil {
		return nil, err
	}
	for base, name := range byBase {
		dir := filepath.Join(tmp, "d-"+name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(tmp, base), filepath.Join(dir, "bootstrap")); err != nil {
			return nil, err
		}
		// Another process may have put the same build in place first.
		if err := os.Rename(dir, filepath.Join(cache, name)); err != nil {
			if _, serr := os.Stat(out[name]); serr != nil {
				return nil, err
			}
		}
	}
	pruneOthers(filepath.Dir(cache), key)
	return out, nil
}

// pruneOthers removes the cached builds of other source keys.
func pruneOthers(dir, keep string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() && e.Name() != keep {
			os.RemoveAll(filepath.Join(dir, e.Name())) //nolint:errcheck // best effort
		}
	}
}

// sourceKey hashes every non-test Go file of the module (outside .local,
// node_modules, dist, cdk.out and testdata), go.mod, go.sum, the
// architecture, the toolchain and the build flags.
func sourceKey(root, arch, goVersion string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%q\x00", arch, goVersion, BuildFlags)
	skip := map[string]bool{".local": true, "node_modules": true, "dist": true, "cdk.out": true, ".git": true, "testdata": true}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (skip[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if (strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go")) || rel == "go.mod" || rel == "go.sum" {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			fmt.Fprintf(h, "%s\x00", rel)
			if _, err := io.Copy(h, f); err != nil {
				return err
			}
			h.Write([]byte{0})
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// goOutput runs the go command in dir with extra environment and returns
// its standard output.
func goOutput(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
