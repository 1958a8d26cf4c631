// Package authorizer is the API Gateway REQUEST authorizer: it resolves a
// channel API token or an account secret key to its tenant and channel.
//
// API Gateway caches the answer for 300 s per identity source and reuses it
// for every route of the API, so the policy allows the whole API and the
// context says who the caller is; each function checks that the credential
// is of the kind its route takes (httpapi.Wrap). The admin functions that
// revoke a token or rotate an account secret flush the stage's cache
// (shared/authcache), so the old credential is refused on its next call.
package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// ErrUnauthorized is the error API Gateway turns into a 401.
var ErrUnauthorized = errors.New("Unauthorized")

// Lookup finds a credential by the hash of its secret.
type Lookup interface {
	LookupCredential(ctx context.Context, hash string) (tenancy.Credential, error)
}

// Handler returns the Lambda handler.
func Handler(store Lookup) func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	return func(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		secret := Presented(req)
		if !tenancy.LooksLikeSecret(secret) {
			return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
		}
		hash := tenancy.Hash(secret)
		cred, err := store.LookupCredential(ctx, hash)
		if apperr.Is(err, apperr.KindNotFound) || (err == nil && !tenancy.Matches(secret, cred.Hash)) {
			return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
		}
		if err != nil {
			// A store failure is not the caller's fault: fail so API Gateway
			// answers 500 rather than caching a denial.
			slog.ErrorContext(ctx, "credential lookup failed", "err", err)
			return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("credential lookup: %w", err)
		}
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: cred.ID,
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
				Version: "2012-10-17",
				Statement: []events.IAMPolicyStatement{{
					Action:   []string{"execute-api:Invoke"},
					Effect:   "Allow",
					Resource: []string{WholeAPI(req.MethodArn)},
				}},
			},
			Context: map[string]any{
				httpapi.AuthCtxKind:         string(cred.Kind),
				httpapi.AuthCtxTenantID:     cred.TenantID,
				httpapi.AuthCtxChannelID:    cred.ChannelID,
				httpapi.AuthCtxChannelKind:  string(cred.ChannelKind),
				httpapi.AuthCtxCredentialID: cred.ID,
				httpapi.AuthCtxCountry:      cred.DefaultCountry,
			},
		}, nil
	}
}

// Presented extracts the secret from the route's identity source, the one
// API Gateway caches the answer under: "?token=<s>" on seed 002 style routes
// (routes.AuthChannelQuery), otherwise the Authorization header as
// "Bearer <s>" or a bare "<s>" (seed 003). Reading any other place would let
// a cached answer stand for a secret that was never checked.
func Presented(req events.APIGatewayCustomAuthorizerRequestTypeRequest) string {
	if r, ok := routes.Lookup(req.HTTPMethod, req.Resource); ok && r.Auth == routes.AuthChannelQuery {
		return strings.TrimSpace(req.QueryStringParameters["token"])
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, "Authorization") {
			v = strings.TrimSpace(v)
			if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
				v = strings.TrimSpace(v[7:])
			}
			return v
		}
	}
	return ""
}

// WholeAPI turns a method ARN
// (arn:aws:execute-api:region:account:apiId/stage/METHOD/path) into the ARN
// of every method of the same API and stage, so one cached answer serves
// every route.
func WholeAPI(methodArn string) string {
	parts := strings.SplitN(methodArn, "/", 3)
	if len(parts) < 2 {
		return methodArn
	}
	return parts[0] + "/" + parts[1] + "/*/*"
}
