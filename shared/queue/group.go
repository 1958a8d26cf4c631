package queue

import "encoding/json"

// GroupID is the MessageGroupId of a delivery message: its tenant's ID.
// Sent on the standard deliveries queue, it makes the queue a fair queue:
// SQS deprioritises a tenant holding more than its share of the messages in
// flight, so one tenant's backlog or slow receiver does not delay the
// others' deliveries. Nil (no group) for an empty tenant ID.
func GroupID(tenantID string) *string {
	if tenantID == "" {
		return nil
	}
	return &tenantID
}

// GroupOfBody is the group of a delivery message from its body (a
// connections.Task: its "tenant_id"), for messages that come back without
// the attribute (the DLQ's, the local emulator's); nil when the body names
// no tenant.
func GroupOfBody(body string) *string {
	var t struct {
		TenantID string `json:"tenant_id"`
	}
	if json.Unmarshal([]byte(body), &t) != nil {
		return nil
	}
	return GroupID(t.TenantID)
}
