package pollers

import (
	"strconv"
	"strings"
)

// ConcurrencySetting is the environment variable that sets how many
// batches of the deliveries queue `make run` hands the dispatcher at once:
// the local stand-in for the dispatcher function's concurrency in AWS. The
// connector benchmark's noisy-neighbour scenario caps the dispatcher the
// same way.
const ConcurrencySetting = "DISPATCHER_CONCURRENCY"

// SenderConcurrencySetting is the environment variable that sets how many
// batches of the outbox `make run` hands the sender at once
// (DefaultSenderConcurrency when unset; in AWS, the sender's reserved
// concurrency).
const SenderConcurrencySetting = "SENDER_CONCURRENCY"

// DefaultSenderConcurrency is make run's sender concurrency.
const DefaultSenderConcurrency = 8

// DefaultConcurrency is SQSPoller's concurrency when none is set.
const DefaultConcurrency = 2

// Concurrency reads ConcurrencySetting: a whole number from 1 to 64, else
// DefaultConcurrency.
func Concurrency(getenv func(string) string) int {
	n, err := strconv.Atoi(strings.TrimSpace(getenv(ConcurrencySetting)))
	if err != nil || n < 1 || n > 64 {
		return DefaultConcurrency
	}
	return n
}
