// Package lazyre is a regular expression compiled on its first use instead
// of at init. A package-level regexp.MustCompile runs in every function
// that links its package, at each cold start, whether or not the function
// ever matches it; a package-level &lazyre.Regexp{Expr: ...} is static data
// and costs nothing until it is used.
package lazyre

import (
	"regexp"
	"sync"
)

// Regexp is Expr, compiled by its first use (which panics if Expr does not
// compile, as regexp.MustCompile would at init). Declare it as a pointer to
// a composite literal, so that it is laid out at build time:
//
//	var name = &lazyre.Regexp{Expr: `^[a-z0-9_]+$`}
type Regexp struct {
	Expr string
	once sync.Once
	re   *regexp.Regexp
}

// Get is the compiled expression.
func (r *Regexp) Get() *regexp.Regexp {
	r.once.Do(func() { r.re = regexp.MustCompile(r.Expr) })
	return r.re
}

// MatchString reports whether s contains a match of the expression.
func (r *Regexp) MatchString(s string) bool { return r.Get().MatchString(s) }

// FindAllStringSubmatch is regexp.Regexp's FindAllStringSubmatch.
func (r *Regexp) FindAllStringSubmatch(s string, n int) [][]string {
	return r.Get().FindAllStringSubmatch(s, n)
}
