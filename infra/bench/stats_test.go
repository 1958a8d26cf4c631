package bench

import (
	"slices"
	"testing"
	"time"
)

func ds(ms ...float64) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m * float64(time.Millisecond))
	}
	return out
}

func TestPercentile(t *testing.T) {
	oneToTen := ds(10, 3, 7, 1, 9, 2, 8, 4, 6, 5) // unsorted on purpose
	tests := []struct {
		name string
		xs   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single", ds(7), 90, ds(7)[0]},
		{"median odd", ds(5, 1, 3), 50, ds(3)[0]},
		{"median even is the mean of the middle two", ds(4, 1, 3, 2), 50, ds(2.5)[0]},
		{"p0 is the minimum", oneToTen, 0, ds(1)[0]},
		{"p100 is the maximum", oneToTen, 100, ds(10)[0]},
		{"p90 interpolates at rank 8.1", oneToTen, 90, ds(9.1)[0]},
		{"p50 of 1..10", oneToTen, 50, ds(5.5)[0]},
		{"p below 0 clamps", oneToTen, -5, ds(1)[0]},
		{"p above 100 clamps", oneToTen, 150, ds(10)[0]},
		{"ties", ds(2, 2, 2, 2), 90, ds(2)[0]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.xs, tc.p); got != tc.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tc.xs, tc.p, got, tc.want)
			}
		})
	}
}

func TestMedianLeavesInputAlone(t *testing.T) {
	xs := ds(3, 1, 2)
	before := slices.Clone(xs)
	if got, want := Median(xs), ds(2)[0]; got != want {
		t.Errorf("Median = %v, want %v", got, want)
	}
	if !slices.Equal(xs, before) {
		t.Errorf("Median reordered its input: %v, was %v", xs, before)
	}
}
