// Command coldstart is `make bench`: it measures every function's cold-start
// init time against a baseline bootstrap and the size of its linux/arm64
// bootstrap, prints a table and exits 1 when a target is missed, 2 when it
// cannot run. The functions that link github.com/nyaruka/phonenumbers are
// judged against infra/bench/phonebaseline (the bare baseline plus that
// library: init median ≤ 1.5× its, bootstrap ≤ 20 MiB), so that their figure
// is the cost of the project's code; every other function against
// infra/bench/baseline (≤ 1.5×, ≤ 10 MiB).
//
// Run it from anywhere inside the module:
//
//	go run ./infra/bench/cmd/coldstart [-n 15] [-functions me,openapi] [-dist dist] [-json bench.json]
//
// It builds the functions of routes.Functions() (from ./functions/<fn>) and
// the baselines with the deployment's flags, once for the host (to
// time them; cached by content under .local/rie, see infra/local/rie) and
// once for linux/arm64 (to weigh them; -dist reads dist/<fn>/bootstrap
// instead), and builds aws-lambda-rie from go.mod's pin. Each cold start
// runs a bootstrap under a fresh aws-lambda-rie and takes the init duration
// the emulator logs; see package infra/bench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/local/rie"
	"github.com/startmsg/chatbackend/shared/routes"
)

const (
	baselineName = "baseline"
	// phoneBaselineName is the yardstick of the functions that link the
	// phone number library: the bare baseline plus that library.
	phoneBaselineName = "baseline-phone"
	// phoneLibrary is the library that puts a function in the phone class.
	phoneLibrary = "github.com/nyaruka/phonenumbers"
)

type options struct {
	rounds    int
	warmup    int
	functions string
	dist      string
	jsonPath  string
	timeout   time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.rounds, "n", 15, "measured rounds; each runs the baseline and every function once")
	flag.IntVar(&o.warmup, "warmup", 1, "warm-up rounds run first and thrown away")
	flag.StringVar(&o.functions, "functions", "", "comma-separated functions to measure (default: all of routes.Functions())")
	flag.StringVar(&o.dist, "dist", "", "read the arm64 sizes from `dir`/<fn>/bootstrap instead of building them")
	flag.StringVar(&o.jsonPath, "json", "", "also write the results as JSON to `file`")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "the functions' timeout (whole seconds), which bounds a single init")
	flag.Parse()
	if flag.NArg() > 0 || o.rounds < 1 || o.warmup < 0 {
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	pass, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if !pass {
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (pass bool, err error) {
	if runtime.GOOS != "linux" {
		return false, fmt.Errorf("bootstraps are linux binaries; cannot time them on %s", runtime.GOOS)
	}
	root, err := moduleRoot()
	if err != nil {
		return false, err
	}
	fns, err := selectFunctions(root, o.functions)
	if err != nil {
		return false, err
	}
	sizes := map[string]int64{}
	if o.dist != "" {
		if err := distSizes(o.dist, fns, sizes); err != nil {
			return false, err
		}
	}

	tmp, err := os.MkdirTemp("", "coldstart-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)

	// The functions that link the phone library are judged against a
	// baseline that links it too, so that their figure is the cost of the
	// project's own code.
	phoneFns, err := linking(ctx, root, fns, phoneLibrary)
	if err != nil {
		return false, err
	}

	// Build everything before timing anything, so the timing runs on a quiet machine.
	pkgs := map[string]string{baselineName: "./infra/bench/baseline"}
	yardsticks := []bench.Yardstick{{MaxSize: bench.MaxSize,
		What: "aws-lambda-go, the SDK config and a DynamoDB client built at init (what every function does)"}}
	names := []string{baselineName}
	judgedBy := map[string]int{}
	if len(phoneFns) > 0 {
		pkgs[phoneBaselineName] = "./infra/bench/phonebaseline"
		names = append(names, phoneBaselineName)
		yardsticks = append(yardsticks, bench.Yardstick{MaxSize: bench.MaxSizePhone,
			What: "the bare baseline plus " + phoneLibrary + " (its metadata loaded at init), the yardstick of " + strings.Join(phoneFns, ", ")})
		for _, fn := range phoneFns {
			judgedBy[fn] = 1
		}
	}
	for _, fn := range fns {
		pkgs[fn] = "./functions/" + fn
	}
	nBase := len(names)
	names = append(names, fns...)
	started := time.Now()
	fmt.Fprintf(os.Stderr, "building aws-lambda-rie and %d bootstraps for linux/%s\n", len(names), runtime.GOARCH)
	rieBin, err := rie.Binary(ctx, root)
	if err != nil {
		return false, err
	}
	host, err := rie.Bootstraps(ctx, root, pkgs)
	if err != nil {
		return false, err
	}
	if o.dist == "" {
		fmt.Fprintf(os.Stderr, "building %d bootstraps for linux/arm64\n", len(names))
		if err := buildAll(ctx, root, "arm64", tmp, names, pkgs); err != nil {
			return false, err
		}
		for _, name := range names {
			fi, err := os.Stat(filepath.Join(tmp, "arm64", name, "bootstrap"))
			if err != nil {
				return false, err
			}
			sizes[name] = fi.Size()
		}
	}
	fmt.Fprintf(os.Stderr, "built in %v\n", time.Since(started).Round(time.Second))

	targets := make([]bench.Target, len(names))
	for i, name := range names {
		targets[i] = bench.Target{Name: name, Path: host[name]}
	}
	cfg := bench.Config{Rounds: o.rounds, Warmup: o.warmup, Timeout: o.timeout, RIE: rieBin, Progress: progress()}
	started = time.Now()
	samples, err := bench.Run(ctx, targets, cfg)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(os.Stderr, "timed %d rounds of %d bootstraps in %v\n\n", o.warmup+o.rounds, len(targets), time.Since(started).Round(time.Second))
	if samples[0].Err != nil {
		return false, fmt.Errorf("the baseline failed, so nothing can be judged: %w", samples[0].Err)
	}
	for i := range yardsticks {
		yardsticks[i].Samples = samples[i]
	}

	rep := bench.NewReportFor(cfg, yardsticks, samples[nBase:], judgedBy, sizes)
	rep.WriteTable(os.Stdout)
	if o.jsonPath != "" {
		if err := rep.WriteJSON(o.jsonPath); err != nil {
			return false, err
		}
	}
	return rep.Pass, nil
}

// linking returns the functions among fns whose linux/arm64 build (with
// the deployment's build tags) imports lib, directly or not, sorted.
func linking(ctx context.Context, root string, fns []string, lib string) ([]string, error) {
	args := []string{"list", "-tags", "lambda.norpc", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}
	for _, fn := range fns {
		args = append(args, "./functions/"+fn)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list the functions' dependencies: %w", err)
	}
	var with []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if slices.Contains(f[1:], lib) {
			with = append(with, path.Base(f[0]))
		}
	}
	slices.Sort(with)
	return with, nil
}

// buildAll builds the packages of names (pkgs[name]) for linux/arch into
// dir/arch/<name>/bootstrap, a few at a time: with a warm build cache each
// go build is mostly a single-threaded link.
func buildAll(ctx context.Context, root, arch, dir string, names []string, pkgs map[string]string) error {
	errs := make([]error, len(names))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = bench.Build(ctx, root, pkgs[name], arch, filepath.Join(dir, arch, name, "bootstrap"))
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// moduleRoot is the nearest directory at or above the working directory
// holding a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod here or above: run from inside the module")
		}
		dir = parent
	}
}

// selectFunctions returns the functions to measure: all of
// routes.Functions(), or the listed ones, each of which must be one of them.
// Every function must have a directory functions/<fn>.
func selectFunctions(root, list string) ([]string, error) {
	all := routes.Functions()
	fns := all
	if list != "" {
		fns = nil
		for _, fn := range strings.Split(list, ",") {
			fn = strings.TrimSpace(fn)
			if fn == "" {
				continue
			}
			if !slices.Contains(all, fn) {
				return nil, fmt.Errorf("unknown function %q: not in routes.Functions() (%s)", fn, strings.Join(all, ", "))
			}
			if !slices.Contains(fns, fn) {
				fns = append(fns, fn)
			}
		}
	}
	var missing []string
	for _, fn := range fns {
		if fi, err := os.Stat(filepath.Join(root, "functions", fn)); err != nil || !fi.IsDir() {
			missing = append(missing, "functions/"+fn)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing function directory: %s (every function of routes.Functions() needs functions/<fn>/main.go; -functions limits the run to some)",
			strings.Join(missing, ", "))
	}
	if len(fns) == 0 {
		return nil, errors.New("no functions to measure")
	}
	return fns, nil
}

// distSizes records the size of dir/<fn>/bootstrap for each function.
func distSizes(dir string, fns []string, sizes map[string]int64) error {
	for _, fn := range fns {
		path := filepath.Join(dir, fn, "bootstrap")
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("-dist: %w (build the arm64 bootstraps first, or drop -dist)", err)
		}
		sizes[fn] = fi.Size()
	}
	return nil
}

// progress reports finished rounds on stderr: in place on a terminal, every
// tenth round otherwise.
func progress() func(round, total int) {
	fi, err := os.Stderr.Stat()
	tty := err == nil && fi.Mode()&os.ModeCharDevice != 0
	return func(round, total int) {
		switch {
		case tty:
			fmt.Fprintf(os.Stderr, "\rround %d/%d", round, total)
			if round == total {
				fmt.Fprintln(os.Stderr)
			}
		case round%10 == 0 || round == total:
			fmt.Fprintf(os.Stderr, "round %d/%d\n", round, total)
		}
	}
}
