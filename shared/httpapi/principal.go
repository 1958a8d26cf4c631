package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/startmsg/chatbackend/shared/tenancy"
)

// Principal is the authenticated caller, as the authorizer (or IAM, for the
// admin API) established it.
type Principal struct {
	// Kind is a tenancy credential kind, or "admin".
	Kind         string
	TenantID     string
	ChannelID    string
	ChannelKind  tenancy.ChannelKind
	CredentialID string
	// DefaultCountry is the channel's country for phone numbers written
	// without a country code.
	DefaultCountry string
}

// The keys of the authorizer's context (API Gateway passes it to every
// function in requestContext.authorizer): the wire form of a Principal.
const (
	AuthCtxKind         = "kind"
	AuthCtxTenantID     = "tenantId"
	AuthCtxChannelID    = "channelId"
	AuthCtxChannelKind  = "channelKind"
	AuthCtxCredentialID = "credentialId"
	AuthCtxCountry      = "defaultCountry"
)

// KindAdmin marks the operator calling the admin API.
const KindAdmin = "admin"

type principalKey struct{}
type paramsKey struct{}
type publicURLKey struct{}

// WithPublicURL returns ctx carrying the URL of the request as the client
// called it (scheme, host and full path, including any stage or base path).
func WithPublicURL(ctx context.Context, u *url.URL) context.Context {
	return context.WithValue(ctx, publicURLKey{}, u)
}

// PublicURL returns the request's URL as the client called it, without the
// query; r.URL when the edge did not say.
func PublicURL(r *http.Request) url.URL {
	if u, ok := r.Context().Value(publicURLKey{}).(*url.URL); ok && u != nil {
		return *u
	}
	u := *r.URL
	u.RawQuery = ""
	return u
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// CallerOf returns the request's principal; the zero Principal if none.
func CallerOf(r *http.Request) Principal {
	p, _ := r.Context().Value(principalKey{}).(Principal)
	return p
}

// WithPathParams returns ctx carrying the route's path parameters.
func WithPathParams(ctx context.Context, params map[string]string) context.Context {
	return context.WithValue(ctx, paramsKey{}, params)
}

// PathParam returns a path parameter of the matched route.
func PathParam(r *http.Request, name string) string {
	m, _ := r.Context().Value(paramsKey{}).(map[string]string)
	return m[name]
}
