package connections

import "time"

// Schedule is the wait before each retry: after attempt 1 fails, 5 s; after
// attempt 2, 5 min; … Attempts beyond it are not made. It is an array so
// that MaxAttempts, and the queue's redrive limit derived from it, are
// constants.
var Schedule = [...]time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// MaxAttempts is the first attempt plus one per step of the schedule.
const MaxAttempts = len(Schedule) + 1

// MaxDelay is the longest SQS can hide a message (12 hours): it caps the
// retry schedule and a target's Retry-After alike.
const MaxDelay = 12 * time.Hour

// Backoff is the wait before the attempt after attempt (from 1): the
// schedule's step with ±20 % jitter (jitter in [-1, 1]), or the target's
// Retry-After when it asked for longer, at most MaxDelay.
func Backoff(attempt int, retryAfter time.Duration, jitter float64) time.Duration {
	i := min(max(attempt, 1), len(Schedule)) - 1
	d := Schedule[i] + time.Duration(float64(Schedule[i])*0.2*jitter)
	if retryAfter > d {
		d = retryAfter
	}
	return min(d, MaxDelay)
}
