package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of xs by linear
// interpolation between the closest ranks (the "R-7" definition that
// spreadsheets and NumPy use by default): the value at rank p/100·(n−1) of
// the sorted samples. It returns 0 for no samples; xs is not modified.
func Percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	p = math.Max(0, math.Min(100, p))
	rank := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	frac := rank - float64(lo)
	return s[lo] + time.Duration(math.Round(frac*float64(s[hi]-s[lo])))
}

// Median is the 50th percentile: the middle sample, or the mean of the two
// middle samples when there is an even number.
func Median(xs []time.Duration) time.Duration { return Percentile(xs, 50) }
