// Package scheduler runs what must happen later: due items kept in
// DynamoDB (the operations table) and a ticker that releases each once
// its time has come, by handing it to the handler registered for its kind.
//
// CONTRACT STUB: the types, key shape and DueItem below are fixed; the
// store, the ticker and its wiring are to be built on them.
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
