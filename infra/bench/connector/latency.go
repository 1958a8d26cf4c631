package connector

import (
	"fmt"
	"time"

	"github.com/startmsg/chatbackend/infra/bench"
)

// Latency summarises a series of durations.
type Latency struct {
	Count int     `json:"count"`
	P50MS float64 `json:"p50_ms"`
	P95MS float64 `json:"p95_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
}

// Summarise computes a Latency (zero for no samples).
func Summarise(xs []time.Duration) Latency {
	if len(xs) == 0 {
		return Latency{}
	}
	return Latency{
		Count: len(xs),
		P50MS: MS(bench.Percentile(xs, 50)), P95MS: MS(bench.Percentile(xs, 95)),
		P99MS: MS(bench.Percentile(xs, 99)), MaxMS: MS(bench.Percentile(xs, 100)),
	}
}

// String is "p50 12.3 ms  p95 45.6 ms  p99 78.9 ms  max 99.0 ms (n=100)".
func (l Latency) String() string {
	return fmt.Sprintf("p50 %s ms  p95 %s ms  p99 %s ms  max %s ms  (n=%d)",
		Num(l.P50MS), Num(l.P95MS), Num(l.P99MS), Num(l.MaxMS), l.Count)
}
