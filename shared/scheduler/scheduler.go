// Package scheduler runs what must happen later: due items kept in
// DynamoDB (the operations table) and a ticker that releases each once
// its time has come, by handing it to the handler registered for its kind.
//
// A producer puts a due item in its own transaction (ddbstore.DueItem) or
// alone (ddbstore.DueStore.Put), with At its release time: now or later
// (an At more than DefaultGrace in the past may be behind the ticker's
// cursor and is never read). The ticker (scheduler-tick, every minute in
// AWS; a poller under make run) runs a Releaser; the handlers by kind are
// wiring.DueHandlers. Delivery is at-least-once (see Releaser).
package scheduler

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"
)

// Due is one thing to do at At.
type Due struct {
	Kind     string // which handler runs it, e.g. "installation.release"
	TenantID string
	Ref      string // the handler's reference (e.g. a message id); unique per kind
	At       time.Time
	Payload  []byte // the handler's own data, opaque here
}

// Handler does a due item's work. It must be idempotent: a release that
// fails or times out is retried.
type Handler func(ctx context.Context, d Due) error

// Shards spread one minute's due items over partitions.
const Shards = 10

// Key shape on the operations table:
//
//	PK  DUE#<UTC minute "2006-01-02T15:04">#<shard 0..Shards-1>
//	SK  <At Unix ms, 13 digits>#<Kind>#<Ref>
//
// attributes: kind (S), tenant (S), ref (S), at (N, Unix ms), payload (B).
const KeyPrefix = "DUE#"

// Keys returns the partition and sort key of d.
func Keys(d Due) (pk, sk string) {
	h := fnv.New32a()
	h.Write([]byte(d.Kind + "#" + d.Ref))
	at := d.At.UTC()
	pk = fmt.Sprintf("%s%s#%d", KeyPrefix, at.Format("2006-01-02T15:04"), h.Sum32()%Shards)
	sk = fmt.Sprintf("%013d#%s#%s", at.UnixMilli(), d.Kind, d.Ref)
	return pk, sk
}
