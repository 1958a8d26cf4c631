// Package idempotency makes a POST safe to retry: a request that carries an
// Idempotency-Key is answered once, and a retry with the same key and body
// gets the same answer for 24 hours. The same key with another body is a
// client error (422); a retry while the first request is still running gets
// 409.
package idempotency

import (
	"context"
	"time"
)

// Record is what the store keeps for a key.
type Record struct {
	// RequestHash identifies the request (method, route, body).
	RequestHash string `dynamodbav:"request_hash"`
	// Done is false while the first request is being processed.
	Done   bool   `dynamodbav:"done"`
	Status int    `dynamodbav:"status"`
	Body   []byte `dynamodbav:"body"`
	// LeaseUntil is when a pending claim may be taken over (unix seconds):
	// a request that died mid-way does not block its key for 24 hours.
	LeaseUntil int64 `dynamodbav:"lease_until"`
	// Expires is when the record is forgotten (unix seconds; the table's TTL).
	Expires int64 `dynamodbav:"ttl"`
}

// Store keeps records by scope (tenant and route) and key.
type Store interface {
	// Claim stores rec for the key unless a record is there already whose
	// lease has not run out; it returns the record that holds the key and
	// whether this call claimed it.
	Claim(ctx context.Context, scope, key string, rec Record, now time.Time) (Record, bool, error)
	// Complete stores the response of a claimed key.
	Complete(ctx context.Context, scope, key string, rec Record) error
	// Release forgets a claimed key, so that a retry runs again.
	Release(ctx context.Context, scope, key string) error
}
