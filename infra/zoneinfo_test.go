package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/routes"
)

// TestZoneInfo: exactly the functions that load a time zone
// (routes.ZoneReaders) have ZONEINFO=/var/task/zoneinfo.zip, and their
// asset, as the template stages it, holds zoneinfo.zip; no other does.
func TestZoneInfo(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		if len(routes.ZoneReaders) == 0 {
			t.Fatal("no zone reader")
		}
		names := f.functionNames()
		for _, z := range routes.ZoneReaders {
			if !slices.Contains(names, z) {
				t.Errorf("zone reader %s is no function of the stack", z)
			}
		}
		for _, name := range names {
			p := f.props(f.functionID(t, name))
			zone := slices.Contains(routes.ZoneReaders, name)
			env := f.envOf(t, name)
			if got, set := env[routes.ZoneInfoEnv]; zone && got != routes.ZoneInfoPath || !zone && set {
				t.Errorf("%s: %s = %v (set %v), want %v", name, routes.ZoneInfoEnv, got, set, zone)
			}
			key, _ := p["Code"].(map[string]any)["S3Key"].(string)
			hash, ok := strings.CutSuffix(key, ".zip")
			if !ok {
				t.Fatalf("%s: code %v", name, p["Code"])
			}
			staged := filepath.Join(outDir, f.stage, "asset."+hash)
			if _, err := os.Stat(filepath.Join(staged, "bootstrap")); err != nil {
				t.Fatalf("%s: staged asset: %v", name, err)
			}
			_, err := os.Stat(filepath.Join(staged, routes.ZoneInfoFile))
			if has := err == nil; has != zone {
				t.Errorf("%s: asset holds %s %v, want %v", name, routes.ZoneInfoFile, has, zone)
			}
		}
	})
}

// TestMissingZoneInfo: the app refuses to synthesize a zone reader whose
// asset lacks zoneinfo.zip (MissingAssets names it).
func TestMissingZoneInfo(t *testing.T) {
	dir := t.TempDir()
	assetDir := func(fn string) string { return filepath.Join(dir, fn) }
	for _, spec := range functionSpecs(routes.Table, routes.EventFunctions) {
		if err := os.MkdirAll(assetDir(spec.name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(assetDir(spec.name), "bootstrap"), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for _, spec := range functionSpecs(routes.Table, routes.EventFunctions) {
		if slices.Contains(routes.ZoneReaders, spec.name) {
			want = append(want, filepath.Join(assetDir(spec.name), routes.ZoneInfoFile))
		}
	}
	if got := MissingAssets(routes.Table, routes.EventFunctions, assetDir); !slices.Equal(got, want) || len(want) != len(routes.ZoneReaders) {
		t.Errorf("bootstraps only: missing %v, want %v", got, want)
	}
}
