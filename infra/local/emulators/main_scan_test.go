package emulators

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sharedStackUse is a test's use of the shared stack (ForTest, directly or
// through stacktest.New).
var sharedStackUse = regexp.MustCompile(`\bemulators\.ForTest\(|\bstacktest\.New\(`)

// TestEveryUserOfTheSharedStackStopsIt: a test package that starts the
// shared stack has a TestMain that stops it (Main, or stacktest's, which
// calls it). Without one, the emulators' processes end with the test binary
// but their data folder on /dev/shm stays behind, one per run.
func TestEveryUserOfTheSharedStackStopsIt(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	uses, mains := map[string]bool{}, map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		if sharedStackUse.Match(b) {
			uses[dir] = true
		}
		if strings.Contains(string(b), "emulators.Main(") || strings.Contains(string(b), "stacktest.Main(") {
			mains[dir] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) < 10 {
		t.Fatalf("found only %d packages that use the shared stack: the scan is broken", len(uses))
	}
	for dir := range uses {
		if !mains[dir] && dir != "." {
			t.Errorf("%s starts the shared stack but has no TestMain calling emulators.Main", dir)
		}
	}
}
