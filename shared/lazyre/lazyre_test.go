package lazyre

import (
	"sync"
	"testing"
)

var word = &Regexp{Expr: `^[a-z0-9_]+$`}

func TestCompiledOnFirstUse(t *testing.T) {
	if word.re != nil {
		t.Fatal("compiled before its first use")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if !word.MatchString("order_update") || word.MatchString("Order") {
				t.Error("wrong match")
			}
		})
	}
	wg.Wait()
	if word.Get() != word.Get() || word.re == nil {
		t.Fatal("compiled more than once")
	}
	if got := (&Regexp{Expr: `\{\{\s*([0-9]+)\s*\}\}`}).FindAllStringSubmatch("a {{1}} b {{ 2 }}", -1); len(got) != 2 || got[1][1] != "2" {
		t.Fatalf("FindAllStringSubmatch: %q", got)
	}
}

func TestBadExpressionPanicsOnUse(t *testing.T) {
	r := &Regexp{Expr: `(`}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	r.MatchString("x")
}
