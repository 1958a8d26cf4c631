// Package automationapi serves a tenant's automations (seed 003,
// /v1/automations, the account secret key): create, list, read, replace
// (version-conditioned), switch on or off, delete. The rules are
// shared/automations': an automation's shape (Validate) and, whenever it
// is on, what its nodes name (CheckRefs).
package automationapi

import (
	"net/http"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/idempotency"
	"github.com/startmsg/chatbackend/shared/limits"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// The handlers, one builder per function: a function binary links only
// its own handler (shared/registry lists them all by name).

// AutomationCreate builds the handler of function automation-create; it
// honours Idempotency-Key.
func AutomationCreate(p Ports) http.Handler {
	return idempotency.Middleware(p.IdempotencyStore(), "automation-create", p.Clock(), build((*API).create)(p))
}

// AutomationList builds the handler of function automation-list.
func AutomationList(p Ports) http.Handler { return build((*API).list)(p) }

// AutomationGet builds the handler of function automation-get.
func AutomationGet(p Ports) http.Handler { return build((*API).get)(p) }

// AutomationUpdate builds the handler of function automation-update.
func AutomationUpdate(p Ports) http.Handler { return build((*API).update)(p) }

// AutomationSwitch builds the handler of function automation-switch.
func AutomationSwitch(p Ports) http.Handler { return build((*API).setOn)(p) }

// AutomationDelete builds the handler of function automation-delete.
func AutomationDelete(p Ports) http.Handler { return build((*API).delete)(p) }

// Ports are what these handlers need; shared/wiring provides them.
type Ports interface {
	AutomationStore() automations.Store
	AutomationRefs() automations.Refs
	IdempotencyStore() idempotency.Store
	TenantLimits() limits.Limits
	Clock() func() time.Time
}

// API holds the handlers' dependencies.
type API struct {
	svc *automations.Service
}

// New is the API on its ports (tests).
func New(p Ports) *API {
	return &API{svc: &automations.Service{
		Store:        p.AutomationStore(),
		Refs:         p.AutomationRefs(),
		NewID:        func() string { return tenancy.NewID("aut") },
		Now:          p.Clock(),
		MaxPerTenant: p.TenantLimits().AutomationsPerTenant,
	}}
}

func build(h func(*API, http.ResponseWriter, *http.Request) error) func(Ports) http.Handler {
	return func(p Ports) http.Handler {
		a := New(p)
		return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return h(a, w, r) })
	}
}

// AutomationBody is POST and PUT /v1/automations' body.
type AutomationBody = automations.Input

// SwitchBody is PATCH /v1/automations/{automationId}'s body.
type SwitchBody struct {
	// On switches the automation on (its references are checked again)
	// or off.
	On *bool `json:"on"`
}

// Automation is an automation as the API shows it.
type Automation = automations.Automation

func tenant(r *http.Request) string { return httpapi.CallerOf(r).TenantID }

func id(r *http.Request) string { return httpapi.PathParam(r, "automationId") }

func (a *API) create(w http.ResponseWriter, r *http.Request) error {
	var in AutomationBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	out, err := a.svc.Create(r.Context(), tenant(r), in)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusCreated, out)
	return nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request) error {
	all, err := a.svc.List(r.Context(), tenant(r))
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, all)
	return nil
}

func (a *API) get(w http.ResponseWriter, r *http.Request) error {
	out, err := a.svc.Get(r.Context(), tenant(r), id(r))
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, out)
	return nil
}

func (a *API) update(w http.ResponseWriter, r *http.Request) error {
	var in AutomationBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	out, err := a.svc.Replace(r.Context(), tenant(r), id(r), in)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, out)
	return nil
}

func (a *API) setOn(w http.ResponseWriter, r *http.Request) error {
	var in SwitchBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	if in.On == nil {
		return apperr.Invalid("on", "is required: true switches the automation on, false off")
	}
	out, err := a.svc.Switch(r.Context(), tenant(r), id(r), *in.On)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, out)
	return nil
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.Delete(r.Context(), tenant(r), id(r)); err != nil {
		return err
	}
	httpapi.WriteSuccess(w, "Automation deleted successfully.")
	return nil
}
