package connections

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	cases := []struct {
		attempt    int
		retryAfter time.Duration
		jitter     float64
		want       time.Duration
	}{
		{1, 0, 0, 5 * time.Second},
		{1, 0, 1, 6 * time.Second},
		{1, 0, -1, 4 * time.Second},
		{2, 0, 0, 5 * time.Minute},
		{3, 0, 0.5, 33 * time.Minute},
		{4, 0, 0, 2 * time.Hour},
		{5, 0, 0, 5 * time.Hour},
		{6, 0, -0.5, 9 * time.Hour},
		{7, 0, 1, 12 * time.Hour},
		{9, 0, 0, 10 * time.Hour},
		{1, time.Minute, 0, time.Minute},       // Retry-After longer than the step
		{2, time.Second, 0, 5 * time.Minute},   // shorter: the step stands
		{7, 20 * time.Hour, 0, 12 * time.Hour}, // capped by SQS's visibility limit
	}
	for _, c := range cases {
		if got := Backoff(c.attempt, c.retryAfter, c.jitter); got != c.want {
			t.Errorf("Backoff(%d, %v, %v) = %v, want %v", c.attempt, c.retryAfter, c.jitter, got, c.want)
		}
	}
	if MaxAttempts != 8 {
		t.Fatalf("MaxAttempts = %d", MaxAttempts)
	}
}

// The probe intervals come from the stage's settings when set and in
// order; otherwise the defaults hold.
func TestApplyProbeSettings(t *testing.T) {
	first, most := ProbeFirst, ProbeMax
	t.Cleanup(func() { ProbeFirst, ProbeMax = first, most })
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	ApplyProbeSettings(get)
	if ProbeFirst != first || ProbeMax != most {
		t.Fatalf("unset: %v, %v; want the defaults", ProbeFirst, ProbeMax)
	}
	env[ProbeFirstSetting], env[ProbeMaxSetting] = "5", "60"
	ApplyProbeSettings(get)
	if ProbeFirst != 5*time.Second || ProbeMax != time.Minute || NextInterval(40*time.Second) != time.Minute {
		t.Fatalf("set: %v, %v", ProbeFirst, ProbeMax)
	}
	env[ProbeFirstSetting], env[ProbeMaxSetting] = "120", "60"
	ApplyProbeSettings(get)
	if ProbeFirst != 5*time.Second || ProbeMax != time.Minute {
		t.Fatalf("out of order: %v, %v; want them left as they were", ProbeFirst, ProbeMax)
	}
}
