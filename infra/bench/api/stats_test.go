package api

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func ms(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, m := range v {
		out[i] = time.Duration(m * float64(time.Millisecond))
	}
	return out
}

func TestSummarize(t *testing.T) {
	if s := Summarize(nil); s != (Stats{}) {
		t.Errorf("Summarize(nil) = %+v, want zero", s)
	}
	s := Summarize(ms(10, 3, 7, 1, 9, 2, 8, 4, 6, 5))
	want := Stats{N: 10, P50: ms(5.5)[0], P90: ms(9.1)[0], P99: ms(9.91)[0], Min: ms(1)[0], Max: ms(10)[0],
		P50MS: 5.5, P90MS: 9.1, P99MS: 9.91, MinMS: 1, MaxMS: 10}
	if s != want {
		t.Errorf("Summarize(1..10) = %+v\nwant %+v", s, want)
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		a, b, want float64
	}{
		{3, 2, 1.5},
		{0, 2, 0},
		{1, 0, math.Inf(1)},
		{1, -1, math.Inf(1)},
		{1, math.NaN(), math.Inf(1)},
	}
	for _, tc := range tests {
		if got := Ratio(tc.a, tc.b); got != tc.want {
			t.Errorf("Ratio(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNewTarget(t *testing.T) {
	tests := []struct {
		name             string
		value, base, max float64
		invalid          string
		pass             bool
		ratio            string
	}{
		{"under", 1.2, 1, 1.5, "", true, "1.20×"},
		{"at the limit passes", 1.5, 1, 1.5, "", true, "1.50×"},
		{"over", 1.51, 1, 1.5, "", false, "1.51×"},
		{"faster than baseline", 0.8, 1, 1.2, "", true, "0.80×"},
		{"no baseline never passes", 1, 0, 1.5, "", false, "n/a"},
		{"invalid never passes", 1, 1, 1.5, "3 answers were 429", false, "1.00×"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NewTarget("x", "ms", tc.value, tc.base, tc.max, tc.invalid)
			if got.Pass != tc.pass || got.RatioString() != tc.ratio {
				t.Errorf("pass %v ratio %s, want %v %s", got.Pass, got.RatioString(), tc.pass, tc.ratio)
			}
			want := "FAIL"
			if tc.pass {
				want = "PASS"
			}
			if got.Verdict() != want {
				t.Errorf("Verdict() = %s, want %s", got.Verdict(), want)
			}
		})
	}
}

func TestNumJSON(t *testing.T) {
	b, err := json.Marshal([]Num{1.23456789, Num(math.Inf(1)), Num(math.NaN()), 2})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "[1.2346,null,null,2]" {
		t.Errorf("got %s", b)
	}
}

func TestTokensNeeded(t *testing.T) {
	tests := []struct{ req, per, want int }{
		{0, 90, 0}, {1, 90, 1}, {90, 90, 1}, {91, 90, 2}, {2200, 90, 25}, {5, 0, 0},
	}
	for _, tc := range tests {
		if got := TokensNeeded(tc.req, tc.per); got != tc.want {
			t.Errorf("TokensNeeded(%d, %d) = %d, want %d", tc.req, tc.per, got, tc.want)
		}
	}
}

func TestFormatCounts(t *testing.T) {
	c := map[string]int{"Query TENANT#": 4000, "UpdateItem RL#": 2000, "BatchGetItem CONTACT#": 2000}
	if got, want := FormatCounts(c, 2000), "BatchGetItem CONTACT# 1.00, Query TENANT# 2.00, UpdateItem RL# 1.00"; got != want {
		t.Errorf("per request: %q, want %q", got, want)
	}
	if got, want := FormatCounts(c, 0), "BatchGetItem CONTACT# 2000, Query TENANT# 4000, UpdateItem RL# 2000"; got != want {
		t.Errorf("totals: %q, want %q", got, want)
	}
	if got := FormatCounts(nil, 1); got != "none" {
		t.Errorf("empty: %q", got)
	}
}
