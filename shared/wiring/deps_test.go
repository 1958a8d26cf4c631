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
	"time/tzdata", // 450 KB: only the installations' functions embed it
}

// zoneReaders are the functions that load a schedule's time zone: they
// validate allowed hours (installation create and update, the channel's
// hours) or apply them to a new message (both add_message forms).
var zoneReaders = []string{"installation-create", "installation-update", "installation-hours-set", "add-message", "webhook-add-message"}

// TestZoneDataWhereHoursAreRead: the functions that load a time zone embed
// the IANA zone database (Lambda's provided.al2023 is not promised to have
// /usr/share/zoneinfo), and no other function does (it is 450 KB).
func TestZoneDataWhereHoursAreRead(t *testing.T) {
	all := deps(t, "./functions/...")
	for pkg, d := range all {
		fn, ok := strings.CutPrefix(pkg, module+"functions/")
		if !ok {
			continue
		}
		if has, want := slices.Contains(d, "time/tzdata"), slices.Contains(zoneReaders, fn); has != want {
			t.Errorf("%s: links time/tzdata %v, want %v", fn, has, want)
		}
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
