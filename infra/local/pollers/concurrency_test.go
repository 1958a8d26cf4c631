package pollers

import "testing"

func TestConcurrency(t *testing.T) {
	for v, want := range map[string]int{"": DefaultConcurrency, "8": 8, " 4 ": 4, "0": DefaultConcurrency, "x": DefaultConcurrency, "65": DefaultConcurrency} {
		if got := Concurrency(func(string) string { return v }); got != want {
			t.Errorf("%s=%q: %d, want %d", ConcurrencySetting, v, got, want)
		}
	}
}
