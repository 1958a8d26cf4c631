// Package automations holds a tenant's automations (seed 003): data, not
// code — an on switch and ordered nodes (send a message, wait, add or
// remove a tag, set a field, call a connection, branch on a field) — and
// their runs, one per enrolled contact, executed node by node with waits on
// the scheduler (shared/scheduler).
//
// This file is the model both halves share: the definitions (Automation,
// Node, Store: the /v1/automations API) and the runs (Run, Step, RunStore:
// enrollment, the engine, the runs API).
package automations

import "context"

// NodeType names what a node does.
type NodeType string

// The node types.
const (
	NodeSendMessage    NodeType = "send_message"    // ChannelID + Text or Template
	NodeWait           NodeType = "wait"            // Seconds, or Until ("HH:MM" in the contact's time zone)
	NodeAddTag         NodeType = "add_tag"         // Tag
	NodeRemoveTag      NodeType = "remove_tag"      // Tag
	NodeSetField       NodeType = "set_field"       // Field, Value
	NodeCallConnection NodeType = "call_connection" // ConnectionID
	NodeCondition      NodeType = "condition"       // Field, Op, Value; Then / Else
)

// NodeTypes are the node types in the order the docs list them.
var NodeTypes = []NodeType{NodeSendMessage, NodeWait, NodeAddTag, NodeRemoveTag, NodeSetField, NodeCallConnection, NodeCondition}

// Condition operators (Node.Op).
const (
	OpEquals    = "equals"     // the field's value is Value (case-insensitive, trimmed)
	OpNotEquals = "not_equals" // it is not (an unset field is not Value)
	OpContains  = "contains"   // it contains Value (case-insensitive)
	OpIsSet     = "is_set"     // it has a non-empty value (Value unused)
	OpIsNotSet  = "is_not_set" // it has none (Value unused)
)

// Ops are the condition operators.
var Ops = []string{OpEquals, OpNotEquals, OpContains, OpIsSet, OpIsNotSet}

// Node is one step of an automation. Which fields are used depends on
// Type; the others are empty. After a node the run goes on with the next
// node in order, except a condition, which goes on with the node named by
// Then (the field matches) or Else (it does not); an empty Then or Else
// ends the run there.
type Node struct {
	// ID names the node within its automation (unique; what Then and Else
	// refer to): given by the client or, if empty, "n<position from 1>".
	ID   string   `json:"id" dynamodbav:"id"`
	Type NodeType `json:"type" dynamodbav:"type"`

	// send_message: on ChannelID (a channel of the tenant), Text (a
	// free-form text) or Template (a WhatsApp template of that channel).
	ChannelID string       `json:"channel_id,omitempty" dynamodbav:"channel_id,omitempty"`
	Text      string       `json:"text,omitempty" dynamodbav:"text,omitempty"`
	Template  *TemplateRef `json:"template,omitempty" dynamodbav:"template,omitempty"`

	// wait: Seconds (a duration), or Until ("HH:MM", 24-hour clock: the
	// next such time in the contact's time zone, UTC when it has none).
	Seconds int64  `json:"seconds,omitempty" dynamodbav:"seconds,omitempty"`
	Until   string `json:"until,omitempty" dynamodbav:"until,omitempty"`

	// add_tag, remove_tag.
	Tag string `json:"tag,omitempty" dynamodbav:"tag,omitempty"`

	// set_field and condition: Field is a standard field's name or a
	// custom field's ID; Value the value to set or compare.
	Field string `json:"field,omitempty" dynamodbav:"field,omitempty"`
	Value string `json:"value,omitempty" dynamodbav:"value,omitempty"`

	// call_connection: a connection of the tenant, called with the
	// contact's payload as a trigger would (the dispatcher's road).
	ConnectionID string `json:"connection_id,omitempty" dynamodbav:"connection_id,omitempty"`

	// condition.
	Op   string `json:"op,omitempty" dynamodbav:"op,omitempty"`
	Then string `json:"then,omitempty" dynamodbav:"then,omitempty"`
	Else string `json:"else,omitempty" dynamodbav:"else,omitempty"`
}

// TemplateRef is a send_message node's template: a template of the node's
// channel by name and language, with its body parameters.
type TemplateRef struct {
	Name     string   `json:"name" dynamodbav:"name"`
	Language string   `json:"language" dynamodbav:"language"`
	Params   []string `json:"params,omitempty" dynamodbav:"params,omitempty"`
}

// Trigger is an automation's entry by a connector trigger: a contact of
// ChannelID ("" any channel of the tenant) whose Field was collected (one
// of the connector's trigger fields: email, phone, location, postback,
// birthday, webview form) is enrolled as by the API.
type Trigger struct {
	Field     string `json:"field" dynamodbav:"field"`
	ChannelID string `json:"channel_id,omitempty" dynamodbav:"channel_id,omitempty"`
}

// Automation is a tenant's automation.
type Automation struct {
	ID       string    `json:"id" dynamodbav:"id"`
	TenantID string    `json:"-" dynamodbav:"tenant_id"`
	Name     string    `json:"name" dynamodbav:"name"`
	On       bool      `json:"on" dynamodbav:"on"`
	Nodes    []Node    `json:"nodes" dynamodbav:"nodes"`
	Triggers []Trigger `json:"triggers" dynamodbav:"triggers"`
	// CreatedAt and UpdatedAt are Unix seconds.
	CreatedAt int64 `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt int64 `json:"updated_at" dynamodbav:"updated_at"`
	// Version counts the writes: a replace is conditioned on it (optimistic
	// locking), and a run records the version it started on.
	Version int64 `json:"version" dynamodbav:"version"`
}

// Node answers the node named id.
func (a Automation) Node(id string) (Node, bool) {
	for _, n := range a.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}

// Next answers the ID of the node after the node named id in order ("" at
// the end): where a run goes on after any node but a condition.
func (a Automation) Next(id string) string {
	for i, n := range a.Nodes {
		if n.ID == id && i+1 < len(a.Nodes) {
			return a.Nodes[i+1].ID
		}
	}
	return ""
}

// Store keeps the tenant's automations. Its errors are apperr kinds.
type Store interface {
	// CreateAutomation writes a new automation (Version 1).
	CreateAutomation(ctx context.Context, a Automation) error
	// GetAutomation reads one (strongly consistent; KindNotFound).
	GetAutomation(ctx context.Context, tenantID, id string) (Automation, error)
	// ListAutomations reads the tenant's automations, oldest first.
	ListAutomations(ctx context.Context, tenantID string) ([]Automation, error)
	// PutAutomation replaces one whose stored Version is a.Version-1
	// (KindConflict otherwise, KindNotFound when it is gone).
	PutAutomation(ctx context.Context, a Automation) error
	// DeleteAutomation removes one (KindNotFound when it is gone).
	DeleteAutomation(ctx context.Context, tenantID, id string) error
}

// RunStatus is where a run stands.
type RunStatus string

// The run statuses: a run is active until it ends in one of the others.
const (
	RunActive    RunStatus = "active"    // executing, or waiting (WaitUntil set)
	RunCompleted RunStatus = "completed" // ran past its last node
	RunFailed    RunStatus = "failed"    // a step failed after its retries (Error)
	RunStopped   RunStatus = "stopped"   // the automation was switched off or deleted
)

// Run is one contact's pass through an automation.
type Run struct {
	ID           string `json:"id" dynamodbav:"id"`
	TenantID     string `json:"-" dynamodbav:"tenant_id"`
	AutomationID string `json:"automation_id" dynamodbav:"automation_id"`
	ContactID    string `json:"contact_id" dynamodbav:"contact_id"`
	// ChannelID is the contact's channel ("" for an account contact): a
	// contact's identity is (tenant, channel, ID).
	ChannelID string    `json:"channel_id" dynamodbav:"channel_id"`
	Status    RunStatus `json:"status" dynamodbav:"status"`
	// AutomationVersion is the automation's Version when the run started.
	AutomationVersion int64 `json:"automation_version" dynamodbav:"automation_version"`
	// Node is the node the run executes next ("" once it has ended).
	Node string `json:"node,omitempty" dynamodbav:"node,omitempty"`
	// WaitUntil is, while the run waits, when it goes on (Unix ms).
	WaitUntil int64 `json:"wait_until,omitempty" dynamodbav:"wait_until,omitempty"`
	// Source says what enrolled the contact: "api" or "trigger:<field>".
	Source string `json:"source" dynamodbav:"source"`
	Error  string `json:"error,omitempty" dynamodbav:"error,omitempty"`
	// Steps are the steps executed, oldest first.
	Steps []Step `json:"steps" dynamodbav:"steps"`
	// StartedAt, UpdatedAt and EndedAt are Unix ms.
	StartedAt int64 `json:"started_at" dynamodbav:"started_at"`
	UpdatedAt int64 `json:"updated_at" dynamodbav:"updated_at"`
	EndedAt   int64 `json:"ended_at,omitempty" dynamodbav:"ended_at,omitempty"`

	// The engine's bookkeeping (not shown by the API). Seq counts the
	// run's writes since enrollment: every write is conditioned on the
	// one before it, so that no step is recorded twice. DueRef is the
	// scheduler reference of the due item that may advance the run now
	// (a due item whose Ref is not it is an old one, replayed: ignored).
	// Attempt is how many times the current node failed.
	Seq     int64  `json:"-" dynamodbav:"seq"`
	DueRef  string `json:"-" dynamodbav:"due_ref,omitempty"`
	Attempt int    `json:"-" dynamodbav:"attempt,omitempty"`
}

// Active reports whether the run has not ended.
func (r Run) Active() bool { return r.Status == RunActive }

// Step is the record of one node executed (or tried) by a run.
type Step struct {
	Node string   `json:"node" dynamodbav:"node"`
	Type NodeType `json:"type" dynamodbav:"type"`
	// Outcome: "ok", "retry" (failed; tried again later) or "failed".
	Outcome string `json:"outcome" dynamodbav:"outcome"`
	Attempt int    `json:"attempt" dynamodbav:"attempt"`
	// Detail says what the step did (a message ID, the branch taken, the
	// time a wait ends...); Error why it failed.
	Detail string `json:"detail,omitempty" dynamodbav:"detail,omitempty"`
	Error  string `json:"error,omitempty" dynamodbav:"error,omitempty"`
	At     int64  `json:"at" dynamodbav:"at"` // Unix ms
}

// MaxNodes bounds an automation's nodes; MaxSteps a run's steps (a
// condition may loop back, so a run stops, failed, past MaxSteps).
const (
	MaxNodes = 50
	MaxSteps = 200
)
