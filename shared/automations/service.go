package automations

import (
	"context"
	"fmt"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// Input is the body of POST and PUT /v1/automations: the whole
// automation as the client gives it.
type Input struct {
	Name string `json:"name"`
	// On switches the automation on or off; left out: off on a create,
	// unchanged on a replace.
	On       *bool          `json:"on,omitempty"`
	Nodes    []NodeInput    `json:"nodes"`
	Triggers []TriggerInput `json:"triggers,omitempty"`
	// Version, on a replace, is the version the client read: another
	// stored version is a conflict (409). Left out, the replace applies to
	// the version it reads. A create takes none.
	Version *int64 `json:"version,omitempty"`
}

// NodeInput is a Node as a request gives it (the OpenAPI document tells
// request types from answer types); its id may be left out.
type NodeInput struct {
	ID           string         `json:"id,omitempty"`
	Type         NodeType       `json:"type"`
	ChannelID    string         `json:"channel_id,omitempty"`
	Text         string         `json:"text,omitempty"`
	Template     *TemplateInput `json:"template,omitempty"`
	Seconds      int64          `json:"seconds,omitempty"`
	Until        string         `json:"until,omitempty"`
	Tag          string         `json:"tag,omitempty"`
	Field        string         `json:"field,omitempty"`
	Value        string         `json:"value,omitempty"`
	ConnectionID string         `json:"connection_id,omitempty"`
	Op           string         `json:"op,omitempty"`
	Then         string         `json:"then,omitempty"`
	Else         string         `json:"else,omitempty"`
}

// TemplateInput is a TemplateRef as a request gives it.
type TemplateInput TemplateRef

// TriggerInput is a Trigger as a request gives it.
type TriggerInput Trigger

// model is the input's nodes and triggers as the model's.
func (in Input) model() ([]Node, []Trigger) {
	var nodes []Node
	if in.Nodes != nil {
		nodes = make([]Node, len(in.Nodes))
	}
	for i, n := range in.Nodes {
		nodes[i] = Node{ID: n.ID, Type: n.Type, ChannelID: n.ChannelID, Text: n.Text, Template: (*TemplateRef)(n.Template),
			Seconds: n.Seconds, Until: n.Until, Tag: n.Tag, Field: n.Field, Value: n.Value, ConnectionID: n.ConnectionID,
			Op: n.Op, Then: n.Then, Else: n.Else}
	}
	var triggers []Trigger
	if in.Triggers != nil {
		triggers = make([]Trigger, len(in.Triggers))
	}
	for i, t := range in.Triggers {
		triggers[i] = Trigger(t)
	}
	return nodes, triggers
}

// TenantGuard is a Store that makes the automations-per-tenant limit
// exact: every create moves the tenant's guard version on, on the
// condition that it is the one read before the tenant's automations were
// counted, so two concurrent creates cannot both pass the count.
type TenantGuard interface {
	// AutomationsVersion reads the tenant's guard version (0: none yet).
	AutomationsVersion(ctx context.Context, tenantID string) (int64, error)
	// CreateAutomationIf writes a new automation and moves the tenant's
	// guard on from seen, in one transaction: an apperr.KindConflict when
	// the guard moved since, an apperr.KindExists when the ID is taken.
	CreateAutomationIf(ctx context.Context, a Automation, seen int64) error
}

// DefaultMaxPerTenant is how many automations a tenant may have when the
// Service is given no limit (limits.DefaultAutomationsPerTenant).
const DefaultMaxPerTenant = 100

// Service holds the rules of the /v1/automations API on a Store.
type Service struct {
	Store Store
	Refs  Refs
	NewID func() string
	Now   func() time.Time
	// MaxPerTenant is the stage's automations_per_tenant (0:
	// DefaultMaxPerTenant).
	MaxPerTenant int
}

// Create validates a new automation and stores it (Version 1); one that
// is on has its references checked first (CheckRefs).
func (s *Service) Create(ctx context.Context, tenantID string, in Input) (Automation, error) {
	if in.Version != nil {
		return Automation{}, apperr.Invalid("version", "is given by the service: send it on a replace (PUT) only")
	}
	now := s.Now().Unix()
	nodes, triggers := in.model()
	a := Automation{ID: s.NewID(), TenantID: tenantID, Name: in.Name, On: in.On != nil && *in.On, Nodes: nodes, Triggers: triggers,
		CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := s.check(ctx, &a); err != nil {
		return Automation{}, err
	}
	guard, guarded := s.Store.(TenantGuard)
	for range 8 {
		// The guard's version is read before the count: a create that
		// commits after it (counted or not) makes this one's write fail.
		var seen int64
		if guarded {
			var err error
			if seen, err = guard.AutomationsVersion(ctx, tenantID); err != nil {
				return Automation{}, err
			}
		}
		if err := s.belowLimit(ctx, tenantID); err != nil {
			return Automation{}, err
		}
		if !guarded {
			return a, s.Store.CreateAutomation(ctx, a)
		}
		if err := guard.CreateAutomationIf(ctx, a, seen); !apperr.Is(err, apperr.KindConflict) {
			return a, err
		}
	}
	return Automation{}, apperr.Conflict("automation")
}

// belowLimit refuses a create for a tenant at its limit.
func (s *Service) belowLimit(ctx context.Context, tenantID string) error {
	all, err := s.Store.ListAutomations(ctx, tenantID)
	if err != nil {
		return err
	}
	limit := s.MaxPerTenant
	if limit <= 0 {
		limit = DefaultMaxPerTenant
	}
	if len(all) >= limit {
		return apperr.Rejected("automations_per_tenant", fmt.Sprintf("the account has reached its limit of %d automations; delete one first", limit))
	}
	return nil
}

// check validates a's shape and, if it is on, its references.
func (s *Service) check(ctx context.Context, a *Automation) error {
	if err := Validate(a); err != nil {
		return err
	}
	if a.On {
		return CheckRefs(ctx, *a, s.Refs)
	}
	return nil
}

// Get reads one of the tenant's automations.
func (s *Service) Get(ctx context.Context, tenantID, id string) (Automation, error) {
	if !ValidPrefixedID(IDPrefix, id) {
		return Automation{}, apperr.NotFound("Automation", id) // no such ID can exist
	}
	return s.Store.GetAutomation(ctx, tenantID, id)
}

// List reads the tenant's automations, oldest first.
func (s *Service) List(ctx context.Context, tenantID string) ([]Automation, error) {
	return s.Store.ListAutomations(ctx, tenantID)
}

// Replace replaces an automation's name, switch, nodes and triggers: on
// the version in.Version names (KindConflict if another is stored), or
// on the one it reads. A switch left out stays as it is; an automation
// that is on after the replace has its references checked.
func (s *Service) Replace(ctx context.Context, tenantID, id string, in Input) (Automation, error) {
	return s.modify(ctx, tenantID, id, in.Version, func(a *Automation) error {
		a.Name = in.Name
		a.Nodes, a.Triggers = in.model()
		if in.On != nil {
			a.On = *in.On
		}
		return nil
	})
}

// Switch switches an automation on (its references checked again: what it
// names may have gone since it was saved) or off.
func (s *Service) Switch(ctx context.Context, tenantID, id string, on bool) (Automation, error) {
	return s.modify(ctx, tenantID, id, nil, func(a *Automation) error {
		a.On = on
		return nil
	})
}

// modify reads the automation, changes it and writes it back on the
// version read (or version, when given).
func (s *Service) modify(ctx context.Context, tenantID, id string, version *int64, change func(*Automation) error) (Automation, error) {
	a, err := s.Get(ctx, tenantID, id)
	if err != nil {
		return Automation{}, err
	}
	if version != nil && *version != a.Version {
		return Automation{}, apperr.New(apperr.KindConflict,
			"Automation %s is at version %d, not %d: it was changed since you read it. Read it again and retry.", id, a.Version, *version)
	}
	if err := change(&a); err != nil {
		return Automation{}, err
	}
	if err := s.check(ctx, &a); err != nil {
		return Automation{}, err
	}
	a.Version++
	a.UpdatedAt = s.Now().Unix()
	if err := s.Store.PutAutomation(ctx, a); err != nil {
		return Automation{}, err
	}
	return a, nil
}

// Delete removes one of the tenant's automations.
func (s *Service) Delete(ctx context.Context, tenantID, id string) error {
	if !ValidPrefixedID(IDPrefix, id) {
		return apperr.NotFound("Automation", id)
	}
	return s.Store.DeleteAutomation(ctx, tenantID, id)
}

// IDPrefix starts every automation's ID ("aut_…").
const IDPrefix = "aut_"
