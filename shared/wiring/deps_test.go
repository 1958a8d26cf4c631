package wiring_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/routes"
)

const module = "github.com/startmsg/chatbackend/"

// messagingAdapters are the packages only the messaging functions may link:
// the messaging composition, the WhatsApp Cloud API client, the chat-api
// ports.
var messagingAdapters = []string{
	module + "shared/wiring/messaging",
	module + "shared/whatsapp",
	module + "shared/chatapi/chatports",
}

// notInWiring are further packages the wiring must not link: the sender
// and the SQS client (the functions that queue or consume link them through
// their handler packages, never through the wiring).
var notInWiring = []string{
	module + "shared/sender",
	"github.com/aws/aws-sdk-go-v2/service/sqs",
	"time/tzdata", // 450 KB: no function embeds it (TestZoneDataWhereHoursAreRead)
}

// TestZoneDataWhereHoursAreRead: no function embeds the IANA zone
// database (time/tzdata, 450 KB): the functions that load a time zone
// (routes.ZoneReaders) read Go's zoneinfo.zip from their asset, where
// `make build` puts it (checked here on the Makefile's rule) and the CDK
// app points ZONEINFO at it (infra's TestZoneInfo). shared/hours'
// TestZoneDataAsInLambda shows a zone load without it failing, not
// falling back to UTC.
func TestZoneDataWhereHoursAreRead(t *testing.T) {
	all := deps(t, "./functions/...")
	fns := map[string]bool{}
	for pkg, d := range all {
		fn, ok := strings.CutPrefix(pkg, module+"functions/")
		if !ok {
			continue
		}
		fns[fn] = true
		if slices.Contains(d, "time/tzdata") {
			t.Errorf("%s links time/tzdata: read the zone database from the asset's zoneinfo.zip (routes.ZoneReaders)", fn)
		}
	}
	for _, fn := range routes.ZoneReaders {
		if !fns[fn] {
			t.Errorf("zone reader %s is no function", fn)
		}
	}
	// What `make build` copies: Go's zoneinfo.zip into dist/<fn>/ for
	// exactly the zone readers.
	cmd := exec.Command("make", "-n", "-B", "zoneinfo")
	cmd.Dir = "../.."
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make -n zoneinfo: %v", err)
	}
	var copied []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "cp" && strings.HasSuffix(f[1], "/lib/time/zoneinfo.zip") {
			fn, ok := strings.CutPrefix(strings.TrimSuffix(f[2], "/"+routes.ZoneInfoFile), "dist/")
			if !ok {
				t.Errorf("copies the zone database to %s", f[2])
			}
			copied = append(copied, fn)
		}
	}
	slices.Sort(copied)
	want := slices.Sorted(slices.Values(routes.ZoneReaders))
	if !slices.Equal(copied, want) {
		t.Errorf("make build copies zoneinfo.zip for %v, want %v (routes.ZoneReaders)\n%s", copied, want, out)
	}
}

// sdkLoaders are the SDK's configuration loader and the credential
// providers only it uses (STS, SSO, the instance metadata service): about
// 600 KB of a bootstrap. A function reads its configuration from the
// environment instead (lambdaapp.LoadConfig).
var sdkLoaders = []string{
	"github.com/aws/aws-sdk-go-v2/config",
	"github.com/aws/aws-sdk-go-v2/service/sts",
	"github.com/aws/aws-sdk-go-v2/service/sso",
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
}

// TestNoSDKConfigLoader: no function links the SDK's configuration loader.
func TestNoSDKConfigLoader(t *testing.T) {
	n := 0
	for pkg, d := range deps(t, "./functions/...") {
		fn, ok := strings.CutPrefix(pkg, module+"functions/")
		if !ok {
			continue
		}
		n++
		for _, p := range sdkLoaders {
			if slices.Contains(d, p) {
				t.Errorf("functions/%s links %s (load the configuration with lambdaapp.LoadConfig)", fn, p)
			}
		}
	}
	if n == 0 {
		t.Fatal("no function listed")
	}
}

// deps lists, for each of the packages, its transitive imports as the
// deployment builds it (linux/arm64, the deployment's build tags).
func deps(t *testing.T, pkgs ...string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-tags", "lambda.norpc", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}, pkgs...)...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

// TestMessagingAdaptersOnlyInMessagingFunctions: the wiring every function
// builds links none of the messaging adapters (nor the sender and the SQS
// client), and a function whose main does not start from
// shared/wiring/messaging links none of them either, so that the others
// stay small and start fast (every package linked runs its init at a cold
// start).
func TestMessagingAdaptersOnlyInMessagingFunctions(t *testing.T) {
	all := deps(t, "./shared/wiring", "./functions/...")
	for _, p := range append(slices.Clone(messagingAdapters), notInWiring...) {
		if slices.Contains(all[module+"shared/wiring"], p) {
			t.Errorf("shared/wiring links %s: every function would (move what needs it to shared/wiring/messaging)", p)
		}
	}
	var messaging, others []string
	for pkg, d := range all {
		fn, ok := strings.CutPrefix(pkg, module+"functions/")
		if !ok {
			continue
		}
		if slices.Contains(d, module+"shared/wiring/messaging") {
			messaging = append(messaging, fn)
			continue
		}
		others = append(others, fn)
		for _, p := range messagingAdapters {
			if slices.Contains(d, p) {
				t.Errorf("functions/%s links %s but is no messaging function (its main starts from shared/wiring)", fn, path.Base(p))
			}
		}
	}
	// Both kinds exist, so the checks above check something.
	for _, fn := range []string{"dispatcher", "contact-get", "authorizer", "trigger-router"} {
		if !slices.Contains(others, fn) {
			t.Errorf("functions/%s should not link shared/wiring/messaging", fn)
		}
	}
	for _, fn := range []string{"sender", "message-send", "whatsapp-intake", "template-create", "chatapi-message"} {
		if !slices.Contains(messaging, fn) {
			t.Errorf("functions/%s should start from shared/wiring/messaging", fn)
		}
	}
}

// compilesAtInit are the calls that must not run in a package-level
// initialiser of a package a function links: each runs at every cold start
// of every function linking the package, used or not (lazyre.Regexp is the
// regexp compiled on first use).
var compilesAtInit = map[string]bool{
	"regexp.MustCompile": true, "regexp.Compile": true, "regexp.MustCompilePOSIX": true, "regexp.CompilePOSIX": true,
	"template.Must": true, "template.New": true, "jsonschema.Compile": true, "jsonschema.MustCompile": true,
}

// TestNoCompileAtInit: no package of this module that a function links
// compiles a regular expression or a template in a package-level variable.
func TestNoCompileAtInit(t *testing.T) {
	cmd := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "-f", `{{if not .Standard}}{{.ImportPath}} {{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{end}}`, "./functions/...")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasPrefix(f[0], module) {
			continue
		}
		for _, name := range f[2:] {
			n++
			for _, at := range compilesAtInitIn(t, filepath.Join(f[1], name)) {
				t.Errorf("%s in a package-level variable runs at every cold start of every function linking %s: compile it on first use (shared/lazyre)", at, strings.TrimPrefix(f[0], module))
			}
		}
	}
	if n == 0 {
		t.Fatal("no file checked")
	}
}

// compilesAtInitIn returns where file's package-level variables call one of
// compilesAtInit.
func compilesAtInitIn(t *testing.T, file string) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var at []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		ast.Inspect(g, func(n ast.Node) bool {
			if _, ok := n.(*ast.FuncLit); ok {
				return false // runs when called, not at init
			}
			if c, ok := n.(*ast.CallExpr); ok {
				if sel, ok := c.Fun.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && compilesAtInit[x.Name+"."+sel.Sel.Name] {
						at = append(at, fset.Position(c.Pos()).String()+" "+x.Name+"."+sel.Sel.Name)
					}
				}
			}
			return true
		})
	}
	return at
}
