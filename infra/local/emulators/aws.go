package emulators

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"

	"github.com/startmsg/chatbackend/shared/awsbody"
)

// Region and the fake credentials the stack is used with.
const (
	Region          = "us-east-1"
	accessKeyID     = "local"
	secretAccessKey = "local"
)

// IdleConnTimeout is how long the stack's SDK clients keep an idle
// connection: less than fauxqs keeps one (Fastify's keep-alive timeout,
// 72 s; the SDK's default is 90 s), so that a request is never written on
// a connection the emulator is closing at that very moment (it fails
// unsent: not retried for a ReceiveMessage, an error and a second's pause
// for the poller).
const IdleConnTimeout = 30 * time.Second

// AWSConfig returns an SDK config whose DynamoDB, DynamoDB Streams and SQS
// clients talk to the stack, with fake static credentials, on the SDK's
// default HTTP client but for IdleConnTimeout, and with awsbody.APIOption
// (a loaded machine otherwise cuts off answers). It ignores the AWS
// settings of the environment.
func (s *Stack) AWSConfig() aws.Config {
	return aws.Config{
		Region:      Region,
		HTTPClient:  awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) { t.IdleConnTimeout = IdleConnTimeout }),
		Credentials: credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
		APIOptions:  []func(*middleware.Stack) error{awsbody.APIOption},
		ConfigSources: []any{endpoints{
			"DynamoDB":         s.DynamoEndpoint,
			"DynamoDB Streams": s.DynamoEndpoint,
			"SQS":              s.SQSEndpoint,
		}},
	}
}

// Env returns KEY=value pairs that make config.LoadDefaultConfig, in a child
// process or after os.Setenv, point at the stack.
func (s *Stack) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.DynamoEndpoint,
		"AWS_ENDPOINT_URL_DYNAMODB_STREAMS=" + s.DynamoEndpoint,
		"AWS_ENDPOINT_URL_SQS=" + s.SQSEndpoint,
		"AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + accessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + secretAccessKey,
	}
}

// endpoints gives service clients their base endpoint by SDK service ID, the
// way the SDK's own env and shared-config sources do.
type endpoints map[string]string

func (e endpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	u, ok := e[sdkID]
	return u, ok, nil
}
