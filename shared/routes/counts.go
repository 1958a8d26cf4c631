package routes

import "slices"

// KeyCount is the operations table's per-tenant counters (the contact
// count that enforces the tenant's contact limit).
const KeyCount = "COUNT#*"

// CountWriters are the functions that create or delete contacts: each
// updates the tenant's contact count in the contact's own transaction, so
// each may write KeyCount on the operations table (added to Keys below),
// and read it: a create whose counter shard is full reads the others to
// find one with room (ddbstore/counts.go).
var CountWriters = []string{"contact-create", "contact-delete", "actions", "events-collect", "messenger-intake"}

func init() {
	for _, fn := range CountWriters {
		s, ok := Keys[fn]
		if !ok {
			panic("routes: CountWriters names " + fn + ", which has no KeyScope")
		}
		if !slices.Contains(s.OpsWrite, KeyCount) {
			s.OpsWrite = append(slices.Clone(s.OpsWrite), KeyCount)
		}
		if !slices.Contains(s.OpsRead, KeyCount) {
			s.OpsRead = append(slices.Clone(s.OpsRead), KeyCount)
		}
		Keys[fn] = s
	}
}
