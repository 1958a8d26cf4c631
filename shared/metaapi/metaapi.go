// Package metaapi serves what describes the API itself: the OpenAPI
// document and the caller's own identity (GET /v1/me, Zapier's auth test).
package metaapi

import (
	"context"
	"net/http"

	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/limits"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// The handlers, one builder per function: a function binary links only
// its own handler (shared/registry lists them all by name).

// Openapi builds the handler of function openapi.
func Openapi(p Ports) http.Handler {
	return http.HandlerFunc(serveOpenAPI)
}

// Me builds the handler of function me.
func Me(p Ports) http.Handler {
	return httpapi.HandlerFunc((&me{store: p.TenancyStore(), limits: p.TenantLimits()}).serve)
}

// Ports are what these handlers need; shared/wiring provides them.
type Ports interface {
	TenancyStore() tenancy.Store
	TenantLimits() limits.Limits
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(routes.Document)
}

// tenancyReader is what GET /v1/me reads.
type tenancyReader interface {
	GetTenant(ctx context.Context, id string) (tenancy.Tenant, error)
	GetChannel(ctx context.Context, tenantID, channelID string) (tenancy.Channel, error)
}

type me struct {
	store  tenancyReader
	limits limits.Limits
}

// serve answers who the token belongs to: its tenant and its channel.
func (m *me) serve(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.CallerOf(r)
	t, err := m.store.GetTenant(r.Context(), p.TenantID)
	if err != nil {
		return err
	}
	c, err := m.store.GetChannel(r.Context(), p.TenantID, p.ChannelID)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, MeView{Channel: c, Tenant: MeTenant{ID: t.ID, Name: t.Name}, Limits: m.limits})
	return nil
}

// MeView is GET /v1/me's data: the calling token's channel, its tenant and
// the per-tenant limits of the deployment.
type MeView struct {
	Channel tenancy.Channel `json:"channel"`
	Tenant  MeTenant        `json:"tenant"`
	// Limits are the tenant's limits: contacts, connections per channel and
	// webhook deliveries per second.
	Limits limits.Limits `json:"limits"`
}

// MeTenant is the tenant as a channel token sees it.
type MeTenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}
