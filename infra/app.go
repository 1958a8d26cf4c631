// Command infra is the CDK app of the backend: one stack per stage holding
// the tables, queues and REST API, its functions in nested stacks, one per
// API area (see NewBackendStack and nested.go).
//
// It synthesizes offline, without the CDK CLI:
//
//	CDK_OUTDIR=cdk.out STAGE=dev go run ./infra   # writes cdk.out/ChatBackend-dev.template.json (and *.nested.template.json)
//
// and cdk.json (in this directory) lets the CDK CLI pinned in
// infra/package-lock.json run it for deployment, on the pinned Node.js:
//
//	make deploy STAGE=prod   # cd infra && ./node_modules/.bin/cdk deploy -c stage=prod ChatBackend-prod
//
// The function binaries must exist first (make build → dist/<fn>/bootstrap).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/limits"
	"github.com/startmsg/chatbackend/shared/routes"
)

// MissingAssets lists the bootstrap files, <assetDir(fn)>/bootstrap, and
// the zone readers' zoneinfo.zip (assetFiles), that do not exist for the
// functions of rts and events, in the stack's order.
func MissingAssets(rts []routes.Route, events []routes.EventFunction, assetDir func(fn string) string) []string {
	var missing []string
	for _, spec := range functionSpecs(rts, events) {
		for _, f := range assetFiles(spec.name) {
			p := filepath.Join(assetDir(spec.name), f)
			if fi, err := os.Stat(p); err != nil || fi.IsDir() {
				missing = append(missing, p)
			}
		}
	}
	return missing
}

// missingAssetsMessage says which bootstraps are missing (relative to the
// working directory where possible) and how to build them.
func missingAssetsMessage(missing []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "infra: %d function assets are missing; run `make build` (or `make synth`, which builds first):\n", len(missing))
	wd, _ := os.Getwd()
	for _, p := range missing {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			p = rel
		}
		fmt.Fprintf(&b, "  %s\n", p)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func main() {
	defer jsii.Close()
	// Without this check, the first missing asset panics deep in jsii.
	if missing := MissingAssets(routes.Table, routes.EventFunctions, DefaultAssetDir); len(missing) > 0 {
		fmt.Fprintln(os.Stderr, missingAssetsMessage(missing))
		jsii.Close()
		os.Exit(1)
	}

	app := awscdk.NewApp(nil)
	stage, err := stageOf(app.Node().TryGetContext(jsii.String("stage")), os.Getenv(appenv.Stage))
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(2)
	}
	waf, err := wafSetting(app.Node().TryGetContext(jsii.String("wafRateLimit")), os.Getenv("WAF_RATE_LIMIT"))
	if err == nil {
		_, err = wafRateLimitOf(stage, waf)
	}
	var concurrency int
	var lim limits.Limits
	if err == nil {
		concurrency, lim, err = tenantSettingsOf(func(k string) any { return app.Node().TryGetContext(jsii.String(k)) }, os.Getenv)
	}
	dispatchers := 0
	if err == nil {
		dispatchers, err = dispatcherConcurrencyOf(stage, concurrency)
	}
	if err == nil {
		_, err = limitsOf(lim)
	}
	var delivery DeliverySettings
	if err == nil {
		delivery, err = deliverySettingsFrom(func(k string) any { return app.Node().TryGetContext(jsii.String(k)) }, os.Getenv)
	}
	if err == nil {
		_, err = deliverySettingsOf(delivery, dispatchers)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(2)
	}
	NewBackendStack(app, StackName(stage), &BackendStackProps{
		Stage:                 stage,
		StackProps:            awscdk.StackProps{Env: envFromDefaults()},
		WAFRateLimit:          waf,
		DispatcherConcurrency: concurrency,
		Limits:                lim,
		Delivery:              delivery,
	})
	app.Synth(nil)
}

// StackName is the stack's name (and template file stem) for a stage.
func StackName(stage string) string { return "ChatBackend-" + stage }

// stageOf picks the stage: the CDK context value "stage" (-c stage=prod)
// wins over the STAGE environment variable; the default is dev.
func stageOf(ctx any, env string) (string, error) {
	stage := StageDev
	if s, ok := ctx.(string); ok && s != "" {
		stage = s
	} else if env != "" {
		stage = env
	}
	if stage != StageDev && stage != StageProd {
		return "", fmt.Errorf("stage must be %q or %q, got %q", StageDev, StageProd, stage)
	}
	return stage, nil
}

// envFromDefaults pins the stack to the account and region the CDK CLI
// resolved from the caller's credentials, when it did. Offline synth leaves
// them unset and the stack environment-agnostic.
func envFromDefaults() *awscdk.Environment {
	account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION")
	if account == "" && region == "" {
		return nil
	}
	env := &awscdk.Environment{}
	if account != "" {
		env.Account = jsii.String(account)
	}
	if region != "" {
		env.Region = jsii.String(region)
	}
	return env
}

// repoRoot is the nearest directory at or above the working directory that
// holds go.mod (the working directory itself if there is none).
func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return wd
		}
		dir = parent
	}
}
