package routes

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeysNotBuiltAtInit: this package has no func init. Every function
// links the package (through the middleware and the stores), while Keys
// and the other maps here are the CDK app's and the tests': a map literal
// nothing refers to at init is left out of the binaries, but one that an
// init writes is linked and built at every cold start of every function
// (Keys alone was 64 KB of each bootstrap). Add a function's key scope to
// the Keys literal.
func TestKeysNotBuiltAtInit(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		n++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "init" {
				t.Errorf("%s: func init in package routes: every function would run it at its cold start (put the entries in their map literal)", fset.Position(fn.Pos()))
			}
		}
	}
	if n == 0 {
		t.Fatal("no file checked")
	}
}
