package api

import (
	"encoding/json"
	"math"
	"strconv"
)

// Num is a float that encodes to JSON as null when it is not finite
// (encoding/json refuses Inf and NaN).
type Num float64

// MarshalJSON writes the number, or null for Inf and NaN.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return []byte("null"), nil
	}
	return json.Marshal(math.Round(f*10000) / 10000)
}

// Target is one pass/fail line: a measured value beside its baseline from
// the same run, their ratio and the largest ratio allowed.
type Target struct {
	// Number is the target's place in the report.
	Number   int     `json:"number"`
	Name     string  `json:"name"`
	What     string  `json:"what"`     // what was measured
	Baseline string  `json:"baseline"` // what it is compared with
	Unit     string  `json:"unit"`
	Value    float64 `json:"value"`
	Base     float64 `json:"baseline_value"`
	Ratio    Num     `json:"ratio"`
	MaxRatio float64 `json:"max_ratio"`
	Pass     bool    `json:"pass"`
	// Invalid says why the measurement cannot be judged (for example a
	// request that did not answer 200); such a target fails.
	Invalid string `json:"invalid,omitempty"`
	// Notes explain choices and show the breakdown behind the numbers.
	Notes []string `json:"notes,omitempty"`
}

// NewTarget judges value against base: it passes when value/base ≤
// maxRatio and nothing made the measurement invalid.
func NewTarget(name, unit string, value, base, maxRatio float64, invalid string) Target {
	r := Ratio(value, base)
	return Target{
		Name: name, Unit: unit, Value: value, Base: base, Ratio: Num(r), MaxRatio: maxRatio,
		Pass:    invalid == "" && !math.IsInf(r, 0) && r <= maxRatio,
		Invalid: invalid,
	}
}

// Verdict is PASS or FAIL.
func (t Target) Verdict() string {
	if t.Pass {
		return "PASS"
	}
	return "FAIL"
}

// RatioString is the ratio with two decimals and a ×, or "n/a".
func (t Target) RatioString() string { return ratioString(float64(t.Ratio)) }

func ratioString(r float64) string {
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return "n/a"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "×"
}
