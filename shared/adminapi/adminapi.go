// Package adminapi is the operator's API: tenants, their channels, channel
// API tokens and account secret keys. In AWS it sits behind IAM
// authorization; channel tokens and account secrets can never call it.
package adminapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/startmsg/chatbackend/shared/authcache"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// The handlers, one builder per function: a function binary links only
// its own handler (shared/registry lists them all by name).

// AdminTenantCreate builds the handler of function admin-tenant-create.
func AdminTenantCreate(p Ports) http.Handler {
	return httpapi.HandlerFunc(newAPI(p).createTenant)
}

// AdminTenantGet builds the handler of function admin-tenant-get.
func AdminTenantGet(p Ports) http.Handler {
	return httpapi.HandlerFunc(newAPI(p).getTenant)
}

// AdminSecretRotate builds the handler of function admin-secret-rotate.
func AdminSecretRotate(p Ports) http.Handler {
	return httpapi.HandlerFunc(newAPI(p).rotateSecret)
}

// AdminChannelCreate builds the handler of function admin-channel-create.
func AdminChannelCreate(p Ports) http.Handler {
	return httpapi.HandlerFunc(newAPI(p).createChannel)
}

// AdminChannelList builds the handler of function admin-channel-list.
func AdminChannelList(p Ports) http.Handler {
	return httpapi.HandlerFunc(newAPI(p).listChannels)
}

// AdminTokenCreate builds the handler of function admin-token-create.
func AdminTokenCreate(p Ports) http.Handler {
	return httpapi.HandlerFunc(newAPI(p).createToken)
}

// AdminTokenList builds the handler of function admin-token-list.
func AdminTokenList(p Ports) http.Handler {
	return httpapi.HandlerFunc(newAPI(p).listTokens)
}

// AdminTokenRevoke builds the handler of function admin-token-revoke.
func AdminTokenRevoke(p Ports) http.Handler {
	return httpapi.HandlerFunc(newAPI(p).revokeToken)
}

// AdminDlqStats builds the handler of function admin-dlq-stats.
func AdminDlqStats(p Ports) http.Handler {
	return httpapi.HandlerFunc(newDLQ(p).stats)
}

// AdminDlqRedrive builds the handler of function admin-dlq-redrive.
func AdminDlqRedrive(p Ports) http.Handler {
	return httpapi.HandlerFunc(newDLQ(p).redrive)
}

// Ports are what the admin handlers need; shared/wiring provides them.
type Ports interface {
	TenancyStore() tenancy.Store
	Clock() func() time.Time
	AWSConfig() aws.Config
	Queues() (deliveries, dlq string)
	// AuthCache drops the API's cached authorizer answers, so that a
	// revoked token or a rotated secret is refused on its next call: API
	// Gateway's FlushStageAuthorizersCache in AWS, the local gateway's
	// cache locally; nil where nothing caches.
	AuthCache() AuthCacheFlusher
}

// AuthCacheFlusher drops every cached authorizer answer of the API.
type AuthCacheFlusher = authcache.Flusher

// API holds the handlers.
type API struct {
	svc   *tenancy.Service
	cache AuthCacheFlusher
}

func newAPI(p Ports) *API {
	svc := &tenancy.Service{Store: p.TenancyStore(), Now: p.Clock()}
	// A store that hands out instance ids gives each new WhatsApp channel one.
	if ia, ok := svc.Store.(tenancy.InstanceAllocator); ok {
		svc.Instances = ia
	}
	return &API{svc: svc, cache: p.AuthCache()}
}

// flushAuthCache makes a credential change take effect at once: the
// authorizer's cached answers go, so every credential is checked afresh on
// its next call. A failure is logged; the change itself stands, and the
// old credential works until its cache entry expires (300 s).
func (a *API) flushAuthCache(ctx context.Context) bool {
	if a.cache == nil {
		return true
	}
	if err := a.cache.FlushAuthorizerCache(ctx); err != nil {
		slog.ErrorContext(ctx, "authorizer cache flush failed: the old credential works until its cache entry expires", "err", err)
		return false
	}
	return true
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) error {
	var in TenantInput
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	nt, err := a.svc.CreateTenant(r.Context(), in.Name)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusCreated, nt)
	return nil
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := a.svc.Store.GetTenant(r.Context(), httpapi.PathParam(r, "tenantId"))
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, t)
	return nil
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	nt, err := a.svc.RotateSecret(r.Context(), httpapi.PathParam(r, "tenantId"))
	if err != nil {
		return err
	}
	a.flushAuthCache(r.Context())
	httpapi.WriteData(w, http.StatusOK, nt)
	return nil
}

func (a *API) createChannel(w http.ResponseWriter, r *http.Request) error {
	var in tenancy.ChannelInput
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	c, err := a.svc.CreateChannel(r.Context(), httpapi.PathParam(r, "tenantId"), in)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusCreated, c)
	return nil
}

func (a *API) listChannels(w http.ResponseWriter, r *http.Request) error {
	id := httpapi.PathParam(r, "tenantId")
	if _, err := a.svc.Store.GetTenant(r.Context(), id); err != nil {
		return err
	}
	cs, err := a.svc.Store.ListChannels(r.Context(), id)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, cs)
	return nil
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	var in TokenInput
	// The body is optional: a token needs no name.
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(r, &in, true); err != nil {
			return err
		}
	}
	t, err := a.svc.CreateToken(r.Context(), httpapi.PathParam(r, "tenantId"), httpapi.PathParam(r, "channelId"), in.Name)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusCreated, t)
	return nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	tid, cid := httpapi.PathParam(r, "tenantId"), httpapi.PathParam(r, "channelId")
	if _, err := a.svc.Store.GetChannel(r.Context(), tid, cid); err != nil {
		return err
	}
	ts, err := a.svc.Store.ListTokens(r.Context(), tid, cid)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, ts)
	return nil
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) error {
	err := a.svc.Store.RevokeToken(r.Context(), httpapi.PathParam(r, "tenantId"), httpapi.PathParam(r, "channelId"), httpapi.PathParam(r, "tokenId"))
	if err != nil {
		return err
	}
	if !a.flushAuthCache(r.Context()) {
		httpapi.WriteSuccess(w, "Token revoked, but the authorizer cache could not be flushed: it may keep working for up to 5 minutes.")
		return nil
	}
	httpapi.WriteSuccess(w, "Token revoked.")
	return nil
}
