// Package authcache names the one thing a revocation needs from the API's
// front door: dropping the authorizer answers it caches. API Gateway keeps
// an authorizer's Allow for its cache TTL (300 s) per identity, so a revoked
// token or a rotated account secret would keep working until its entry
// expired; the admin functions that revoke or rotate flush the stage's
// cache right after the store says the credential is gone.
//
// The package has no dependencies, so the wiring can carry a Flusher
// without linking any client: the AWS implementation (API Gateway's
// FlushStageAuthorizersCache) is in package awsflush, linked only by the
// functions that flush; the local gateway implements it on its own cache.
package authcache

import "context"

// Flusher drops every cached authorizer answer of the API stage, so the
// next call of each credential is authorized afresh.
type Flusher interface {
	FlushAuthorizerCache(ctx context.Context) error
}

// FlushesAuthorizerCache names the functions that change credentials and
// so flush the cache: in AWS they get the API's ID and stage by environment
// and the IAM grant on the stage's /cache/authorizers resource, and only
// they link the API Gateway client.
var FlushesAuthorizerCache = map[string]bool{
	"admin-token-revoke":  true,
	"admin-secret-rotate": true,
}
