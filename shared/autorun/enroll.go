// Package autorun runs automations (shared/automations): enrollment (a
// contact into an automation, by the action API or a connector trigger),
// and the engine, the scheduler's handler of automations.StepKind, that
// takes a run node by node.
//
// Exactly once. The scheduler releases a due item at least once, so the
// engine makes a step's effects idempotent and records each step once: a
// run carries the reference of the one due item that may advance it now
// (DueRef), and every write of the run is conditioned on the one before
// (its Seq). A due item whose Ref is not the run's DueRef is an old one,
// replayed, and does nothing. A release that dies between a step's effect
// and the run's write does the effect again on the retry, to the same
// result: a message's ID is derived from the run and its Seq (stored only
// if absent), a tag added or removed and a field set are states, not
// increments, and a connection call's delivery ID is derived the same way
// (its receivers drop a repeat).
package autorun

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/scheduler"
)

// Service enrolls contacts in automations.
type Service struct {
	Runs        automations.RunStore
	Automations automations.Store
	Contacts    *contacts.Service
	// Refs checks that what an automation's nodes refer to (channels,
	// templates, fields, connections) exists (automations.CheckRefs);
	// nil checks nothing.
	Refs func(ctx context.Context, a automations.Automation) error
	Now  func() time.Time
}

// Enroll enrolls contact contactID (the tenant's: any channel's, or an
// account contact) in automation automationID. The automation must exist,
// be on and have a node, the contact must exist and the automation's
// references too; a contact with an active run of the automation is
// refused (apperr.KindExists), not enrolled twice. Errors are apperr kinds
// whose messages say which rule failed.
func (s *Service) Enroll(ctx context.Context, tenantID, automationID, contactID, source string) (automations.Run, error) {
	a, err := s.Usable(ctx, tenantID, automationID)
	if err != nil {
		return automations.Run{}, err
	}
	c, err := s.Contacts.Get(ctx, contacts.Scope{TenantID: tenantID}, contactID)
	if apperr.Is(err, apperr.KindNotFound) {
		return automations.Run{}, apperr.NotFound("Contact", contactID)
	}
	if err != nil {
		return automations.Run{}, err
	}
	if s.Refs != nil {
		if err := s.Refs(ctx, a); err != nil {
			return automations.Run{}, err
		}
	}
	return s.Start(ctx, a, c, source)
}

// Usable reads an automation a contact may be enrolled in: it exists, is
// on and has at least one node.
func (s *Service) Usable(ctx context.Context, tenantID, automationID string) (automations.Automation, error) {
	if automationID == "" {
		return automations.Automation{}, apperr.Invalid("idAuto", "is required: the ID of the automation")
	}
	a, err := s.Automations.GetAutomation(ctx, tenantID, automationID)
	if apperr.Is(err, apperr.KindNotFound) {
		return a, apperr.NotFound("Automation", automationID)
	}
	if err != nil {
		return a, err
	}
	if !a.On {
		return a, apperr.Rejected("idAuto", fmt.Sprintf("automation %q is switched off; switch it on to enroll contacts", automationID))
	}
	if len(a.Nodes) == 0 {
		return a, apperr.Rejected("idAuto", fmt.Sprintf("automation %q has no nodes; add at least one to enroll contacts", automationID))
	}
	return a, nil
}

// Start enrolls c in a (already checked): the run, its guard and its first
// step, due now, in one write.
func (s *Service) Start(ctx context.Context, a automations.Automation, c contacts.Contact, source string) (automations.Run, error) {
	now := s.Now()
	return s.StartWithID(ctx, NewRunID(now), now, a, c, source)
}

// StartWithID is Start with the run's ID and start time given (a trigger's
// enrollment derives them from its stream record, so that the record
// routed again starts no second run: apperr.KindExists).
func (s *Service) StartWithID(ctx context.Context, id string, now time.Time, a automations.Automation, c contacts.Contact, source string) (automations.Run, error) {
	r := automations.Run{
		ID: id, TenantID: a.TenantID, AutomationID: a.ID, ContactID: c.ID, ChannelID: c.ChannelID,
		Status: automations.RunActive, AutomationVersion: a.Version, Node: a.Nodes[0].ID, Source: source,
		Steps: []automations.Step{}, StartedAt: now.UnixMilli(), UpdatedAt: now.UnixMilli(), Seq: 1,
	}
	due := DueFor(r, now)
	r.DueRef = due.Ref
	if err := s.Runs.StartRun(ctx, r, due); err != nil {
		return automations.Run{}, err
	}
	return r, nil
}

// NewRunID is a run ID that sorts by its start time: run_, the Unix ms
// in 13 digits, 8 random characters.
func NewRunID(at time.Time) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]%32]
	}
	return fmt.Sprintf("run_%013d%s", at.UnixMilli(), b)
}

// DerivedRunID is a run ID that sorts by at, its random part derived from
// parts.
func DerivedRunID(at time.Time, parts ...string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b := make([]byte, 8)
	for i := range b {
		b[i] = alphabet[sum[i]%32]
	}
	return fmt.Sprintf("run_%013d%s", at.UnixMilli(), b)
}

// payload is a step's due item's payload: where its run is.
type payload struct {
	Channel string `json:"ch"`
	Contact string `json:"c"`
	Run     string `json:"r"`
	Auto    string `json:"a,omitempty"` // the run's automation (due items from before it was added: "")
}

// DueFor is the due item that advances r (as it will be stored, with its
// Seq) at at: its Ref, the run's ID and Seq, is what r.DueRef must be.
func DueFor(r automations.Run, at time.Time) scheduler.Due {
	p, _ := json.Marshal(payload{Channel: r.ChannelID, Contact: r.ContactID, Run: r.ID, Auto: r.AutomationID})
	return scheduler.Due{Kind: automations.StepKind, TenantID: r.TenantID, Ref: fmt.Sprintf("%s#%d", r.ID, r.Seq), At: at, Payload: p}
}

func parsePayload(d scheduler.Due) (payload, error) {
	var p payload
	if err := json.Unmarshal(d.Payload, &p); err != nil || p.Run == "" || !strings.HasPrefix(d.Ref, p.Run+"#") {
		return p, fmt.Errorf("automation step %s: bad payload %q", d.Ref, d.Payload)
	}
	return p, nil
}
