package lambdaapp

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/startmsg/chatbackend/shared/awsbody"
)

// LoadConfig builds the SDK configuration from the environment, as Lambda
// gives it to a function: the region (AWS_REGION, else AWS_DEFAULT_REGION)
// and the role's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN). Locally AWS_ENDPOINT_URL_<SERVICE> (and
// AWS_ENDPOINT_URL) point the clients at the emulators, as the SDK's own
// loader does; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, AWS_MAX_ATTEMPTS,
// AWS_RETRY_MODE, AWS_ACCOUNT_ID(_ENDPOINT_MODE) and AWS_SDK_UA_APP_ID are
// read the same way too, with the same defaults.
//
// It stands in for config.LoadDefaultConfig, which a function in Lambda
// does not need: its credential chain (shared files, SSO, STS web
// identity, the instance metadata service) and their service clients are
// about 600 KB of every bootstrap. Credentials missing from the
// environment are an error here rather than a search along that chain.
// Unlike the SDK's, its config has awsbody.APIOption: without it, a
// client on a loaded machine now and then closes a connection under an
// answer it is reading.
func LoadConfig(ctx context.Context) (aws.Config, error) {
	return configFromEnv(os.Getenv)
}

// configFromEnv is LoadConfig on an environment.
func configFromEnv(getenv func(string) string) (aws.Config, error) {
	cfg := aws.Config{
		Region:        firstSet(getenv, "AWS_REGION", "AWS_DEFAULT_REGION"),
		HTTPClient:    awshttp.NewBuildableClient(),
		Logger:        logging.NewStandardLogger(os.Stderr),
		ConfigSources: []any{envEndpoints(getenv)},
		AppID:         getenv("AWS_SDK_UA_APP_ID"),
		// The SDK loader's defaults.
		DefaultsMode:               aws.DefaultsModeLegacy,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
		AccountIDEndpointMode:      aws.AccountIDEndpointModePreferred,
		// Not the SDK's: see package awsbody.
		APIOptions: []func(*middleware.Stack) error{awsbody.APIOption},
	}
	id := firstSet(getenv, "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY")
	secret := firstSet(getenv, "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	if id == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("load AWS config: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (a function takes its role's credentials from the environment, as Lambda gives them)")
	}
	static := credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))
	static.Value.AccountID = getenv("AWS_ACCOUNT_ID")
	cfg.Credentials = aws.NewCredentialsCache(static)
	if ignoreEndpoints(getenv) {
		// As the SDK: no configured endpoint at all.
	} else if u := getenv("AWS_ENDPOINT_URL"); u != "" {
		cfg.BaseEndpoint = aws.String(u)
	}
	if v := getenv("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return aws.Config{}, fmt.Errorf("load AWS config: AWS_MAX_ATTEMPTS=%q is not a number of attempts", v)
		}
		cfg.RetryMaxAttempts = n
	}
	switch m := aws.AccountIDEndpointMode(getenv("AWS_ACCOUNT_ID_ENDPOINT_MODE")); m {
	case "":
	case aws.AccountIDEndpointModePreferred, aws.AccountIDEndpointModeRequired, aws.AccountIDEndpointModeDisabled:
		cfg.AccountIDEndpointMode = m
	default:
		return aws.Config{}, fmt.Errorf("load AWS config: AWS_ACCOUNT_ID_ENDPOINT_MODE=%q: must be preferred, required or disabled", m)
	}
	if v := getenv("AWS_RETRY_MODE"); v != "" {
		m, err := aws.ParseRetryMode(v)
		if err != nil {
			return aws.Config{}, fmt.Errorf("load AWS config: AWS_RETRY_MODE: %w", err)
		}
		cfg.RetryMode = m
	}
	return cfg, nil
}

func firstSet(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return ""
}

func ignoreEndpoints(getenv func(string) string) bool {
	return strings.EqualFold(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true")
}

// envEndpoints gives each service client its AWS_ENDPOINT_URL_<SERVICE>
// (the SDK service ID in capitals, spaces as underscores), through the
// config sources the clients consult, as the SDK's environment source does.
type envEndpoints func(string) string

// GetServiceBaseEndpoint is the service's endpoint from the environment.
func (e envEndpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	if u := e("AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")); u != "" {
		return u, true, nil
	}
	return "", false, nil
}

// GetIgnoreConfiguredEndpoints is AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (e envEndpoints) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	if e("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") == "" {
		return false, false, nil
	}
	return ignoreEndpoints(e), true, nil
}
