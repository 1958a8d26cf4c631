package routes

// KeyCount is the operations table's per-tenant counters (the contact
// count that enforces the tenant's contact limit).
const KeyCount = "COUNT#*"

// CountWriters are the functions that create or delete contacts: each
// updates the tenant's contact count in the contact's own transaction, so
// each may write KeyCount on the operations table, and read it (a create
// whose counter shard is full reads the others to find one with room,
// ddbstore/counts.go). Their Keys entries grant both; a test checks it.
// (The grants are written in Keys itself, not added by an init function,
// which would keep Keys in every function's binary.)
var CountWriters = []string{"contact-create", "contact-delete", "actions", "events-collect", "messenger-intake", "whatsapp-intake",
	// Sends to a number no contact has yet make its contact.
	"message-send", "chatapi-message", "chatapi-instance-message", "chatapi-send-template", "chatapi-instance-send-template"}
