// Package api holds the pieces of the API benchmark (infra/bench/cmd/apibench)
// that need no running stack: latency summaries, targets judged as ratios to
// a baseline measured in the same run, the wrk scripts and the parsing of
// wrk's output, /proc readings, and the report.
//
// Every target is a ratio of two numbers measured in the same run on the same
// machine, never an absolute time: the machines this runs on are small and
// shared, so absolute numbers move from run to run while ratios much less.
package api

import (
	"math"
	"time"

	"github.com/startmsg/chatbackend/infra/bench"
)

// Stats summarises a series of latencies.
type Stats struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"-"`
	P90 time.Duration `json:"-"`
	P99 time.Duration `json:"-"`
	Min time.Duration `json:"-"`
	Max time.Duration `json:"-"`

	P50MS float64 `json:"p50_ms"`
	P90MS float64 `json:"p90_ms"`
	P99MS float64 `json:"p99_ms"`
	MinMS float64 `json:"min_ms"`
	MaxMS float64 `json:"max_ms"`
}

// Summarize computes the percentiles of xs with infra/bench's Percentile
// (linear interpolation between closest ranks); the zero Stats for none.
func Summarize(xs []time.Duration) Stats {
	if len(xs) == 0 {
		return Stats{}
	}
	s := Stats{
		N:   len(xs),
		P50: bench.Percentile(xs, 50),
		P90: bench.Percentile(xs, 90),
		P99: bench.Percentile(xs, 99),
		Min: bench.Percentile(xs, 0),
		Max: bench.Percentile(xs, 100),
	}
	s.P50MS, s.P90MS, s.P99MS, s.MinMS, s.MaxMS = MS(s.P50), MS(s.P90), MS(s.P99), MS(s.Min), MS(s.Max)
	return s
}

// MS is d in milliseconds.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Ratio is a/b, or +Inf when b is not positive (a missing baseline never
// passes a target).
func Ratio(a, b float64) float64 {
	if b <= 0 || math.IsNaN(b) {
		return math.Inf(1)
	}
	return a / b
}
