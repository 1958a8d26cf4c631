// Package awsflush flushes API Gateway's authorizer cache of one REST API
// stage (FlushStageAuthorizersCache: DELETE
// /restapis/{id}/stages/{stage}/cache/authorizers). Only the functions of
// authcache.FlushesAuthorizerCache import it, so no other binary links the
// API Gateway client.
package awsflush

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/authcache"
)

// API is the part of the API Gateway client the flush uses.
type API interface {
	FlushStageAuthorizersCache(ctx context.Context, in *apigateway.FlushStageAuthorizersCacheInput, opts ...func(*apigateway.Options)) (*apigateway.FlushStageAuthorizersCacheOutput, error)
}

// Stage flushes the authorizer cache of one stage of one REST API.
type Stage struct {
	API       API
	RestAPIID string
	StageName string
}

// FlushAuthorizerCache implements authcache.Flusher.
func (s *Stage) FlushAuthorizerCache(ctx context.Context) error {
	_, err := s.API.FlushStageAuthorizersCache(ctx, &apigateway.FlushStageAuthorizersCacheInput{
		RestApiId: aws.String(s.RestAPIID), StageName: aws.String(s.StageName),
	})
	if err != nil {
		return fmt.Errorf("flush the authorizer cache of %s/%s: %w", s.RestAPIID, s.StageName, err)
	}
	return nil
}

// New builds the flusher from the SDK configuration and the API's ID and
// stage, which the CDK app sets (appenv.RestAPIID, appenv.APIStageName).
// Either missing is an init error: a function that revokes credentials must
// not start unable to make the revocation take effect.
func New(cfg aws.Config, getenv func(string) string) (authcache.Flusher, error) {
	id, stage := getenv(appenv.RestAPIID), getenv(appenv.APIStageName)
	if id == "" || stage == "" {
		return nil, fmt.Errorf("%s and %s must be set (the CDK app sets them) to flush the authorizer cache", appenv.RestAPIID, appenv.APIStageName)
	}
	return &Stage{API: apigateway.NewFromConfig(cfg), RestAPIID: id, StageName: stage}, nil
}
