package wiring

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/authcache"
)

func TestCheckLoopback(t *testing.T) {
	for _, c := range []struct {
		loopback, stage string
		ok              bool
	}{
		{"", "", true},
		{"", "prod", true},
		{"false", "prod", true},
		{"true", "local", true},
		{"true", "test", true},
		{"true", "bench", true},
		{"true", "dev", false},
		{"true", "prod", false},
		{"true", "", false},
		{"true", "Local", false},
	} {
		env := map[string]string{appenv.AllowLoopbackTargets: c.loopback, appenv.Stage: c.stage}
		err := CheckLoopback(func(k string) string { return env[k] })
		if (err == nil) != c.ok {
			t.Errorf("%s=%q %s=%q: %v", appenv.AllowLoopbackTargets, c.loopback, appenv.Stage, c.stage, err)
		}
		if err != nil && (!strings.Contains(err.Error(), appenv.AllowLoopbackTargets) || !strings.Contains(err.Error(), "local stage")) {
			t.Errorf("unclear message: %v", err)
		}
	}
}

// TestLoadRefusesLoopbackOutsideALocalStage: Load is what every function's
// init runs (StartAPI, StartQueue, ...): with the setting on a deployed
// stage it fails, and the function does not start.
func TestLoadRefusesLoopbackOutsideALocalStage(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	// The role's credentials, as Lambda gives them (lambdaapp.LoadConfig).
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv(appenv.TableName, "t")
	t.Setenv(appenv.OpsTableName, "o")
	t.Setenv(appenv.AllowLoopbackTargets, "true")
	t.Setenv(appenv.Stage, "dev")
	if _, err := Load(context.Background()); err == nil || !strings.Contains(err.Error(), appenv.AllowLoopbackTargets) {
		t.Fatalf("Load on stage dev with loopback targets: %v", err)
	}
	t.Setenv(appenv.Stage, "local")
	if _, err := Load(context.Background()); err != nil {
		t.Fatalf("Load on stage local: %v", err)
	}
}

type flusher struct{}

func (flusher) FlushAuthorizerCache(context.Context) error { return nil }

func TestWithAuthCache(t *testing.T) {
	e := FromConfig(aws.Config{}, func(string) string { return "" })
	if e.AuthCache() != nil {
		t.Fatal("a flusher without WithAuthCache")
	}
	WithAuthCache(func(aws.Config, func(string) string) (authcache.Flusher, error) { return flusher{}, nil })(e)
	if e.AuthCache() == nil || e.optErr != nil {
		t.Fatal("WithAuthCache did not set the flusher")
	}
	e = FromConfig(aws.Config{}, func(string) string { return "" })
	WithAuthCache(func(aws.Config, func(string) string) (authcache.Flusher, error) { return nil, errors.New("no API") })(e)
	if e.optErr == nil || e.AuthCache() != nil {
		t.Fatal("a failed WithAuthCache must fail the init")
	}
}
