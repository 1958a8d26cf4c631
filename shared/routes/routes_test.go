package routes

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var pathRE = regexp.MustCompile(`^(/[a-zA-Z0-9_.\-]+|/\{[a-zA-Z]+\})+$`)

func TestTableIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	fns := map[string]bool{}
	for _, r := range Table {
		k := r.Method + " " + r.Path
		if seen[k] {
			t.Errorf("duplicate route %s", k)
		}
		seen[k] = true
		if fns[r.Function] {
			t.Errorf("function %s serves two routes: one Lambda per route", r.Function)
		}
		fns[r.Function] = true
		if !pathRE.MatchString(r.Path) {
			t.Errorf("%s: malformed path", k)
		}
		switch r.Method {
		case "GET", "POST", "PUT", "PATCH", "DELETE":
		default:
			t.Errorf("%s: method", k)
		}
		switch r.Auth {
		case AuthNone, AuthChannel, AuthChannelQuery, AuthAccount, AuthChannelOrAccount, AuthAdmin:
		default:
			t.Errorf("%s: auth %q", k, r.Auth)
		}
		if r.Auth != AuthNone && r.Auth != AuthAdmin && !r.Access.Has(RateCount) {
			t.Errorf("%s: a rate-limited route needs RateCount to count its calls", k)
		}
		if r.Summary == "" || r.Tag == "" {
			t.Errorf("%s: summary and tag are required", k)
		}
	}
	// A path's parameters must be named alike in every route that shares
	// the prefix: API Gateway has one resource per segment.
	params := map[string]string{}
	for _, r := range Table {
		segs := strings.Split(r.Path, "/")
		for i, s := range segs {
			prefix := strings.Join(segs[:i], "/")
			if strings.HasPrefix(s, "{") {
				if other, ok := params[prefix]; ok && other != s {
					t.Errorf("%s: parameter %s clashes with %s after %s", r.Path, s, other, prefix)
				}
				params[prefix] = s
			}
		}
	}
}

// TestEveryFunctionHasAMain fails when a route or event function has no
// functions/<name>/main.go, or a functions/ directory has no route.
func TestEveryFunctionHasAMain(t *testing.T) {
	dirs, err := filepath.Glob("../../functions/*/main.go")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, d := range dirs {
		have[filepath.Base(filepath.Dir(d))] = true
	}
	want := map[string]bool{}
	for _, f := range Functions() {
		want[f] = true
		if !have[f] {
			t.Errorf("function %s has no functions/%s/main.go", f, f)
		}
	}
	for f := range have {
		if !want[f] {
			t.Errorf("functions/%s has no route or event function entry", f)
		}
	}
}

// TestReadOnlyRoutes: the routes whose calls are counted while they are
// served (httpapi.Wrap) are GETs that change nothing; a route that writes
// is never one of them.
func TestReadOnlyRoutes(t *testing.T) {
	var readOnly []string
	for _, r := range Table {
		if !r.Access.Has(RateCount) || !r.Access.ReadOnly() {
			continue
		}
		readOnly = append(readOnly, r.Function)
		if r.Method != "GET" || r.Body {
			t.Errorf("%s %s (%s) is read-only but is not a GET without a body", r.Method, r.Path, r.Function)
		}
	}
	for _, fn := range []string{"contact-get", "me", "contact-search", "connection-activity"} {
		if !slices.Contains(readOnly, fn) {
			t.Errorf("%s is not read-only: %v", fn, readOnly)
		}
	}
	for _, a := range []Access{TableWrite, Ops, QueueSend, QueueConsume, DLQRead, StreamRead} {
		if (TableRead | OpsRead | RateCount | a).ReadOnly() {
			t.Errorf("access with bit %d is read-only", a)
		}
	}
}
