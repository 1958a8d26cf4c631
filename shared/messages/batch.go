package messages

import "time"

// The sender's batch writes: a batch of the outbox's messages is claimed
// in one round of the store, and the outcomes of its provider calls are
// recorded in another (ddbstore.Messages.ClaimMessages and
// RecordOutcomes), each message keeping the guarantees of its own writes.

// Key names one message.
type Key struct{ TenantID, ID string }

// ClaimRequest is one message to claim: its key, and the message as its
// outbox task carried it (Queued: the item the API stored, status queued),
// or nil when the task did not carry it (then the claim reads it).
type ClaimRequest struct {
	Key
	Queued *Message
}

// Claim is one message's answer to a batch claim: the message as claimed
// (Err nil, Done false); Done with the message as stored when it is no
// longer queued (sent or failed already); or Err: apperr not found, a
// *ClaimedError when another sender holds a live claim, another error
// when the store failed for it.
type Claim struct {
	Message Message
	Done    bool
	Err     error
}

// OutcomeKind is what a sender records of a claimed message.
type OutcomeKind int

// The outcomes, as the single writes record them: Sent (RecordSent),
// Failed (RecordFailed), Retry (RecordRetry), Release (ReleaseClaim).
const (
	OutcomeSent OutcomeKind = iota + 1
	OutcomeFailed
	OutcomeRetry
	OutcomeRelease
)

// Outcome is one message's write after its provider call. Message is the
// message as claimed (its tenant, id, channel kind and id are used);
// ProviderID is the provider's id of it (Sent); Failure the provider's or
// the sender's error (Failed, Retry); Token the claim's (Retry, Release);
// At the time of the outcome (Sent, Failed); Attempted whether the
// failure was a provider call (Failed).
type Outcome struct {
	Kind       OutcomeKind
	Message    Message
	ProviderID string
	Failure    Failure
	Token      string
	At         time.Time
	Attempted  bool
}
