package lambdaapp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// awsEnv are the variables the cases set; every other AWS_ variable is
// cleared, and the shared files point nowhere, so that the SDK's loader
// sees only the environment (as in Lambda).
func clearAWSEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestLoadConfigAsTheSDK: on the environment Lambda gives a function (and
// the local stack's endpoints), LoadConfig gives the service clients what
// config.LoadDefaultConfig gives them: region, credentials, endpoints per
// service, retry settings and the loader's defaults.
func TestLoadConfigAsTheSDK(t *testing.T) {
	lambda := map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
		"AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range lambda {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := map[string]map[string]string{
		"Lambda":             lambda,
		"default region":     {"AWS_DEFAULT_REGION": "us-east-2", "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s"},
		"older key names":    {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY": "AKIA", "AWS_SECRET_KEY": "s", "AWS_ACCOUNT_ID": "123456789012"},
		"local endpoints":    with(map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000", "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9324"}),
		"one endpoint":       with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}),
		"both endpoints":     with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9324"}),
		"endpoints ignored":  with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9324", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}),
		"retries":            with(map[string]string{"AWS_MAX_ATTEMPTS": "7", "AWS_RETRY_MODE": "adaptive"}),
		"application id":     with(map[string]string{"AWS_SDK_UA_APP_ID": "chat"}),
		"account endpoints":  with(map[string]string{"AWS_ACCOUNT_ID": "123456789012", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}),
		"no region in Local": {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s"},
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			clearAWSEnv(t)
			for k, v := range env {
				t.Setenv(k, v)
			}
			want, err := config.LoadDefaultConfig(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			got, err := LoadConfig(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got.Region != want.Region || aws.ToString(got.BaseEndpoint) != aws.ToString(want.BaseEndpoint) ||
				got.RetryMaxAttempts != want.RetryMaxAttempts || got.RetryMode != want.RetryMode || got.AppID != want.AppID ||
				got.DefaultsMode != want.DefaultsMode || got.RequestChecksumCalculation != want.RequestChecksumCalculation ||
				got.ResponseChecksumValidation != want.ResponseChecksumValidation || got.AccountIDEndpointMode != want.AccountIDEndpointMode {
				t.Errorf("config\n got region %q endpoint %q retries %d %q app %q defaults %q checksums %v %v account mode %q\nwant region %q endpoint %q retries %d %q app %q defaults %q checksums %v %v account mode %q",
					got.Region, aws.ToString(got.BaseEndpoint), got.RetryMaxAttempts, got.RetryMode, got.AppID, got.DefaultsMode, got.RequestChecksumCalculation, got.ResponseChecksumValidation, got.AccountIDEndpointMode,
					want.Region, aws.ToString(want.BaseEndpoint), want.RetryMaxAttempts, want.RetryMode, want.AppID, want.DefaultsMode, want.RequestChecksumCalculation, want.ResponseChecksumValidation, want.AccountIDEndpointMode)
			}
			gc, err := got.Credentials.Retrieve(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			wc, err := want.Credentials.Retrieve(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if gc.AccessKeyID != wc.AccessKeyID || gc.SecretAccessKey != wc.SecretAccessKey || gc.SessionToken != wc.SessionToken || gc.AccountID != wc.AccountID || gc.CanExpire != wc.CanExpire {
				t.Errorf("credentials %+v, want %+v", gc, wc)
			}
			if g, w := aws.ToString(dynamodb.NewFromConfig(got).Options().BaseEndpoint), aws.ToString(dynamodb.NewFromConfig(want).Options().BaseEndpoint); g != w {
				t.Errorf("DynamoDB endpoint %q, want %q", g, w)
			}
			if g, w := aws.ToString(sqs.NewFromConfig(got).Options().BaseEndpoint), aws.ToString(sqs.NewFromConfig(want).Options().BaseEndpoint); g != w {
				t.Errorf("SQS endpoint %q, want %q", g, w)
			}
		})
	}
}

// TestLoadConfigNeedsCredentials: without credentials in the environment
// the init fails, naming the variables, instead of signing nothing.
func TestLoadConfigNeedsCredentials(t *testing.T) {
	for _, env := range []map[string]string{
		{"AWS_REGION": "eu-west-1"},
		{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIA"},
		{"AWS_REGION": "eu-west-1", "AWS_SECRET_ACCESS_KEY": "s"},
	} {
		clearAWSEnv(t)
		for k, v := range env {
			t.Setenv(k, v)
		}
		if _, err := LoadConfig(t.Context()); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") {
			t.Errorf("%v: err %v", env, err)
		}
	}
	clearAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIA")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	for _, bad := range [][2]string{{"AWS_MAX_ATTEMPTS", "many"}, {"AWS_RETRY_MODE", "eager"}, {"AWS_ACCOUNT_ID_ENDPOINT_MODE", "always"}} {
		t.Setenv(bad[0], bad[1])
		if _, err := LoadConfig(t.Context()); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%s=%s: err %v", bad[0], bad[1], err)
		}
		os.Unsetenv(bad[0])
	}
}
