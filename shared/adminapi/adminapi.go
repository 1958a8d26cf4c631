// Package adminapi is the operator's API: tenants, their channels, channel
// API tokens and account secret keys. In AWS it sits behind IAM
// authorization; channel tokens and account secrets can never call it.
package adminapi

import (
	"errors"
	"net/http"

	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Functions maps each admin function to its handler.
var Functions = lambdaapp.Builders{
	"admin-tenant-create":  func(d *lambdaapp.Deps) http.Handler { return httpapi.HandlerFunc(newAPI(d).createTenant) },
	"admin-tenant-get":     func(d *lambdaapp.Deps) http.Handler { return httpapi.HandlerFunc(newAPI(d).getTenant) },
	"admin-secret-rotate":  func(d *lambdaapp.Deps) http.Handler { return httpapi.HandlerFunc(newAPI(d).rotateSecret) },
	"admin-channel-create": func(d *lambdaapp.Deps) http.Handler { return httpapi.HandlerFunc(newAPI(d).createChannel) },
	"admin-channel-list":   func(d *lambdaapp.Deps) http.Handler { return httpapi.HandlerFunc(newAPI(d).listChannels) },
	"admin-token-create":   func(d *lambdaapp.Deps) http.Handler { return httpapi.HandlerFunc(newAPI(d).createToken) },
	"admin-token-list":     func(d *lambdaapp.Deps) http.Handler { return httpapi.HandlerFunc(newAPI(d).listTokens) },
	"admin-token-revoke":   func(d *lambdaapp.Deps) http.Handler { return httpapi.HandlerFunc(newAPI(d).revokeToken) },
	"admin-dlq-stats":      func(d *lambdaapp.Deps) http.Handler { return httpapi.HandlerFunc(newDLQ(d).stats) },
	"admin-dlq-redrive":    func(d *lambdaapp.Deps) http.Handler { return httpapi.HandlerFunc(newDLQ(d).redrive) },
}

// API holds the handlers.
type API struct {
	svc *tenancy.Service
}

func newAPI(d *lambdaapp.Deps) *API {
	return &API{svc: &tenancy.Service{Store: d.Tenancy(), Now: d.Now}}
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) error {
	var in TenantInput
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	nt, err := a.svc.CreateTenant(r.Context(), in.Name)
	if err != nil {
		return mapErr(err)
	}
	httpapi.WriteData(w, http.StatusCreated, nt)
	return nil
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := a.svc.Store.GetTenant(r.Context(), httpapi.PathParam(r, "tenantId"))
	if err != nil {
		return mapErr(err)
	}
	httpapi.WriteData(w, http.StatusOK, t)
	return nil
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	nt, err := a.svc.RotateSecret(r.Context(), httpapi.PathParam(r, "tenantId"))
	if err != nil {
		return mapErr(err)
	}
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
		return mapErr(err)
	}
	httpapi.WriteData(w, http.StatusCreated, c)
	return nil
}

func (a *API) listChannels(w http.ResponseWriter, r *http.Request) error {
	id := httpapi.PathParam(r, "tenantId")
	if _, err := a.svc.Store.GetTenant(r.Context(), id); err != nil {
		return mapErr(err)
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
		return mapErr(err)
	}
	httpapi.WriteData(w, http.StatusCreated, t)
	return nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	tid, cid := httpapi.PathParam(r, "tenantId"), httpapi.PathParam(r, "channelId")
	if _, err := a.svc.Store.GetChannel(r.Context(), tid, cid); err != nil {
		return mapErr(err)
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
		return mapErr(err)
	}
	httpapi.WriteSuccess(w, "Token revoked. It stops working within 5 minutes (authorizer cache).")
	return nil
}

// mapErr turns domain errors into client answers.
func mapErr(err error) error {
	var ve *tenancy.ValidationError
	switch {
	case errors.As(err, &ve):
		return httpapi.Errorf(http.StatusBadRequest, "Field %q %s.", ve.Field, ve.Problem)
	case errors.Is(err, tenancy.ErrNotFound):
		return httpapi.Errorf(http.StatusNotFound, "%s not found.", httpapi.Wording(err, tenancy.ErrNotFound))
	case errors.Is(err, tenancy.ErrExists):
		return httpapi.Errorf(http.StatusConflict, "%s already exists; retry.", httpapi.Wording(err, tenancy.ErrExists))
	case errors.Is(err, tenancy.ErrConflict):
		return httpapi.Errorf(http.StatusConflict, "%s changed at the same time; retry.", httpapi.Wording(err, tenancy.ErrConflict))
	}
	return err
}
