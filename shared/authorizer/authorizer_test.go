package authorizer

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

type memLookup map[string]tenancy.Credential

func (m memLookup) LookupCredential(_ context.Context, hash string) (tenancy.Credential, error) {
	c, ok := m[hash]
	if !ok {
		return c, apperr.NotFound("Credential", "")
	}
	return c, nil
}

type failingLookup struct{}

func (failingLookup) LookupCredential(context.Context, string) (tenancy.Credential, error) {
	return tenancy.Credential{}, errors.New("throttled")
}

func TestHandler(t *testing.T) {
	secret, hash := tenancy.NewSecret(tenancy.TokenPrefix)
	store := memLookup{hash: {Hash: hash, Kind: tenancy.ChannelToken, ID: "tok_1", TenantID: "ten_a", ChannelID: "ch_1", ChannelKind: tenancy.Viber}}
	arn := "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v1/contact/42"
	h := Handler(store)
	cases := []struct {
		name    string
		headers map[string]string
		query   map[string]string
		ok      bool
	}{
		{"bearer", map[string]string{"Authorization": "Bearer " + secret}, nil, true},
		{"bearer lower-case header and scheme", map[string]string{"authorization": "bearer " + secret}, nil, true},
		{"bare secret", map[string]string{"Authorization": secret}, nil, true},
		{"query token on a header route", nil, map[string]string{"token": secret}, false},
		{"unknown token", map[string]string{"Authorization": "Bearer ct_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, nil, false},
		{"too short", map[string]string{"Authorization": "Bearer x"}, nil, false},
		{"nothing", nil, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := h(context.Background(), events.APIGatewayCustomAuthorizerRequestTypeRequest{MethodArn: arn, HTTPMethod: "GET", Resource: "/v1/me", Headers: c.headers, QueryStringParameters: c.query})
			if !c.ok {
				if !errors.Is(err, ErrUnauthorized) {
					t.Fatalf("err = %v, want Unauthorized", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := res.PolicyDocument.Statement[0]
			if st.Effect != "Allow" || st.Resource[0] != "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*" {
				t.Fatalf("policy %+v", st)
			}
			if res.Context[httpapi.AuthCtxTenantID] != "ten_a" || res.Context[httpapi.AuthCtxChannelID] != "ch_1" || res.Context[httpapi.AuthCtxKind] != "channel" || res.Context[httpapi.AuthCtxChannelKind] != "viber" {
				t.Fatalf("context %+v", res.Context)
			}
		})
	}
	t.Run("store failure is not a denial", func(t *testing.T) {
		_, err := Handler(failingLookup{})(context.Background(), events.APIGatewayCustomAuthorizerRequestTypeRequest{MethodArn: arn, Headers: map[string]string{"Authorization": "Bearer " + secret}})
		if err == nil || errors.Is(err, ErrUnauthorized) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestQueryTokenRoutes: on a seed 002 style route the token comes from
// ?token= only, the identity source API Gateway caches under.
func TestQueryTokenRoutes(t *testing.T) {
	saved := routes.Table
	routes.Table = append(append([]routes.Route(nil), saved...), routes.Route{Method: "POST", Path: "/test/message", Function: "test", Auth: routes.AuthChannelQuery})
	t.Cleanup(func() { routes.Table = saved })

	secret, hash := tenancy.NewSecret(tenancy.TokenPrefix)
	store := memLookup{hash: {Hash: hash, Kind: tenancy.ChannelToken, ID: "tok_1", TenantID: "ten_a", ChannelID: "ch_1"}}
	other, _ := tenancy.NewSecret(tenancy.TokenPrefix)
	h := Handler(store)
	req := func(headers, query map[string]string) error {
		_, err := h(context.Background(), events.APIGatewayCustomAuthorizerRequestTypeRequest{
			MethodArn: "arn:aws:execute-api:us-east-1:1:a/s/POST/test/message", HTTPMethod: "POST", Resource: "/test/message",
			Headers: headers, QueryStringParameters: query})
		return err
	}
	if err := req(nil, map[string]string{"token": secret}); err != nil {
		t.Fatalf("query token refused: %v", err)
	}
	if err := req(map[string]string{"Authorization": "Bearer " + secret}, map[string]string{"token": other}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("header token was used instead of the query token: %v", err)
	}
}
