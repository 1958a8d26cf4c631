// Package emulators runs the local stand-ins for DynamoDB (dynoxide) and SQS
// (fauxqs) as child processes, for `make run` and for integration tests.
//
// The emulators come from npm (infra/local/package.json), and so does the
// Node.js that runs fauxqs (infra/node/package.json: Node 22, linux-x64);
// Start does not install them but tells you to run `make deps` when they are
// missing. dynoxide's npm build runs on linux-x64 only: elsewhere, or to use
// another DynamoDB (DynamoDB Local, a cargo-built dynoxide), set
// Options.DynamoEndpoint (the DYNAMODB_ENDPOINT variable of `make run` and
// of the test harness) and Start leaves DynamoDB to it.
//
// The children run in their own process group, are stopped by Stack.Stop
// and, on Linux, are killed by the kernel if the parent dies first (for
// example when a test panics).
package emulators

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure Start. The zero value runs both emulators in memory
// (dynoxide on a temporary file in /dev/shm) on free ports.
type Options struct {
	// Dir is the infra/local folder holding node_modules. Default: the
	// directory with go.mod, found by walking up from the working directory,
	// joined with infra/local.
	Dir string
	// DataDir keeps the data across runs ("" = in memory, gone at Stop): DynamoDB in
	// DataDir/dynamodb.sqlite, SQS in DataDir/sqs/fauxqs.db (queues with
	// their attributes, and their messages: ready, delayed and in flight
	// with their visibility deadlines and receive counts).
	DataDir string
	// DynamoPort and SQSPort are the ports to listen on (0 = a free one).
	DynamoPort, SQSPort int
	// DynamoEndpoint, when set (http://host:port), is a DynamoDB that is
	// already running: Start checks that it answers and starts no dynoxide
	// (DataDir and DynamoPort then do not apply to DynamoDB).
	DynamoEndpoint string
	// Log receives the children's output, one line at a time, prefixed with
	// "dynamodb: " or "sqs: ". Default: discarded.
	Log io.Writer
}

// Stack is a running pair of emulators.
type Stack struct {
	DynamoEndpoint string // http://127.0.0.1:port, or Options.DynamoEndpoint
	SQSEndpoint    string // http://127.0.0.1:port
	// External tells that DynamoDB is Options.DynamoEndpoint, not a
	// dynoxide this stack started.
	External bool

	// dynamoDB is dynoxide's SQLite file ("" when External); node runs
	// fauxqs, the stream indexer and the stream trimmer. tmpDir holds
	// dynoxide's file when Options.DataDir is "" (removed by Stop).
	dynamoDB string
	node     string
	tmpDir   string

	mu       sync.Mutex // guards children (Restart replaces one)
	children []*child
	stopOnce sync.Once
}

const (
	startTimeout = 30 * time.Second
	indexTimeout = 2 * time.Minute
	stopTimeout  = 5 * time.Second
)

// Start starts dynoxide and fauxqs and returns once both answer HTTP.
func Start(ctx context.Context, o Options) (*Stack, error) {
	external := o.DynamoEndpoint != ""
	if external {
		if err := CheckEndpoint(o.DynamoEndpoint); err != nil {
			return nil, err
		}
		o.DynamoPort = -1
	}
	dport, sport, err := ports(o.DynamoPort, o.SQSPort)
	if err != nil {
		return nil, err
	}
	dir, err := localDir(o.Dir)
	if err != nil {
		return nil, err
	}
	dynoxide := filepath.Join(dir, "node_modules", "@dynoxide", "linux-x64", "dynoxide")
	fauxqs := filepath.Join(dir, "node_modules", "fauxqs", "dist", "app.js")
	if _, err := os.Stat(fauxqs); err != nil {
		return nil, fmt.Errorf("emulators not installed: run `make deps` (npm ci in %s): %w", dir, err)
	}
	if !external {
		if _, err := os.Stat(dynoxide); err != nil {
			return nil, dynoxideMissing(runtime.GOOS, runtime.GOARCH, dir, err)
		}
	}
	node, err := Node(dir)
	if err != nil {
		return nil, err
	}

	var dynamoDB, sqsDir, tmpDir string
	if o.DataDir != "" {
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		sqsDir = filepath.Join(o.DataDir, "sqs")
		if !external {
			dynamoDB = filepath.Join(o.DataDir, "dynamodb.sqlite")
		}
	} else if !external {
		// dynoxide's own in-memory database cannot be given the stream
		// indexes (IndexStreams), so "in memory" is a file in a temporary
		// folder, on tmpfs where the machine has /dev/shm, removed by Stop.
		if tmpDir, err = os.MkdirTemp(memoryDir(), "dynoxide-"); err != nil {
			return nil, fmt.Errorf("create dynoxide's folder: %w", err)
		}
		dynamoDB = filepath.Join(tmpDir, "dynamodb.sqlite")
	}
	dynamoArgs := []string{"serve", "--host", "127.0.0.1", "--port", strconv.Itoa(dport)}
	if dynamoDB != "" {
		dynamoArgs = append(dynamoArgs, "--db-path", dynamoDB)
	}
	newDynamo := func() *exec.Cmd { return exec.Command(dynoxide, dynamoArgs...) }

	// fauxqs's cli.js hard-codes logger: true; startFauxqs() honours
	// FAUXQS_LOGGER when its options do not set logger. Its dataDir option
	// (SQLite through node:sqlite) is read from FAUXQS_DATA_DIR here, as
	// its Docker entry point does.
	sqsArgs := append(nodeFlags(node, dir), "-e",
		"import(process.argv[1]).then((m) => m.startFauxqs(process.env.FAUXQS_DATA_DIR ? { dataDir: process.env.FAUXQS_DATA_DIR } : {}))",
		(&url.URL{Scheme: "file", Path: fauxqs}).String())
	sqsEnv := append(os.Environ(), "FAUXQS_PORT="+strconv.Itoa(sport), "FAUXQS_LOGGER=false", "FAUXQS_DATA_DIR="+sqsDir)
	newSQS := func() *exec.Cmd {
		c := exec.Command(node, sqsArgs...)
		c.Env = sqsEnv
		return c
	}

	log := &lockedWriter{w: o.Log}
	if o.Log == nil {
		log.w = io.Discard
	}
	s := &Stack{
		DynamoEndpoint: fmt.Sprintf("http://127.0.0.1:%d", dport),
		SQSEndpoint:    fmt.Sprintf("http://127.0.0.1:%d", sport),
		External:       external,
		dynamoDB:       dynamoDB,
		node:           node,
		tmpDir:         tmpDir,
	}
	var children []*child
	if external {
		s.DynamoEndpoint = strings.TrimRight(o.DynamoEndpoint, "/")
	} else {
		children = append(children, &child{name: "dynamodb", newCmd: newDynamo, probe: s.DynamoEndpoint + "/", log: log})
	}
	children = append(children, &child{name: "sqs", newCmd: newSQS, probe: s.SQSEndpoint + "/health", log: log})
	for _, c := range children {
		if err := c.start(); err != nil {
			s.Stop()
			return nil, err
		}
		s.children = append(s.children, c)
	}
	readyCtx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for _, c := range s.children {
		if err := c.waitReady(readyCtx); err != nil {
			s.Stop()
			return nil, err
		}
	}
	if dynamoDB != "" {
		// A node process of its own: on a loaded machine its start alone
		// can take seconds, so it gets its own time limit.
		ictx, cancel := context.WithTimeout(ctx, indexTimeout)
		defer cancel()
		if err := IndexStreams(ictx, node, dynamoDB); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// memoryDir is where a stack keeps data meant to live in memory: /dev/shm
// where it is a folder, else the system's temporary folder.
func memoryDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return ""
}

// Stop terminates the emulators (SIGTERM, then SIGKILL after a few seconds)
// and waits for them. It is safe to call more than once.
func (s *Stack) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.children {
			c.signal(syscall.SIGTERM)
		}
		for _, c := range s.children {
			select {
			case <-c.exited:
			case <-time.After(stopTimeout):
				c.signal(syscall.SIGKILL)
				<-c.exited
			}
		}
		if s.tmpDir != "" {
			_ = os.RemoveAll(s.tmpDir)
		}
	})
}

// Kill kills one emulator, "dynamodb" or "sqs", at once (SIGKILL), as a
// crash would, and waits until it has exited. Restart brings it back.
func (s *Stack) Kill(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.child(name)
	if err != nil {
		return err
	}
	c.signal(syscall.SIGKILL)
	<-c.exited
	return nil
}

// Restart starts one emulator, "dynamodb" or "sqs", again on the same port
// and with the same data (killing it first if it still runs), and returns
// once it answers.
func (s *Stack) Restart(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := s.child(name)
	if err != nil {
		return err
	}
	old.signal(syscall.SIGKILL)
	<-old.exited
	c := &child{name: old.name, newCmd: old.newCmd, probe: old.probe, log: old.log}
	if err := c.start(); err != nil {
		return err
	}
	for i, o := range s.children {
		if o == old {
			s.children[i] = c
		}
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return c.waitReady(ctx)
}

// child returns the running child called name; s.mu is held.
func (s *Stack) child(name string) (*child, error) {
	for _, c := range s.children {
		if c.name == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no %s emulator in this stack", name)
}

type child struct {
	name   string
	newCmd func() *exec.Cmd // a fresh command each start
	cmd    *exec.Cmd
	probe  string // answers 200 when the emulator is ready
	log    *lockedWriter
	out    *output
	exited chan struct{}
	err    error // the result of Wait, set before exited is closed
}

func (c *child) start() error {
	c.cmd = c.newCmd()
	c.out = &output{name: c.name, log: c.log}
	c.exited = make(chan struct{})
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.cmd.SysProcAttr = sysProcAttr()
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start %s emulator: %w", c.name, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	return nil
}

// signal sends sig to the child's process group.
func (c *child) signal(sig syscall.Signal) {
	_ = syscall.Kill(-c.cmd.Process.Pid, sig)
}

// waitReady polls the probe URL until it answers 200, the child exits or
// ctx ends.
func (c *child) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.probe, nil)
		if err != nil {
			return fmt.Errorf("probe %s: %w", c.name, err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s emulator exited during start-up (%v); last output:\n%s", c.name, c.err, c.out.tail())
		case <-ctx.Done():
			return fmt.Errorf("%s emulator not ready at %s: %w; last output:\n%s", c.name, c.probe, ctx.Err(), c.out.tail())
		case <-tick.C:
		}
	}
}

// ports checks that fixed ports are free and picks free ones for zeros. A
// negative dynamo port is not reserved (DynamoDB runs elsewhere).
func ports(dynamo, sqs int) (int, int, error) {
	dport := -1
	if dynamo >= 0 {
		dl, err := reserve(dynamo, "DynamoDB", "DYNAMO_PORT")
		if err != nil {
			return 0, 0, err
		}
		defer dl.Close()
		dport = dl.Addr().(*net.TCPAddr).Port
	}
	sl, err := reserve(sqs, "SQS", "SQS_PORT")
	if err != nil {
		return 0, 0, err
	}
	defer sl.Close()
	return dport, sl.Addr().(*net.TCPAddr).Port, nil
}

func reserve(port int, service, envVar string) (net.Listener, error) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		if port != 0 {
			return nil, fmt.Errorf("%s port %d is in use (another `make run`?): stop it or set %s: %w", service, port, envVar, err)
		}
		return nil, fmt.Errorf("find a free port for %s: %w", service, err)
	}
	return l, nil
}

// localDir returns dir made absolute, or infra/local under the module root.
func localDir(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find infra/local: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "infra", "local"), nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("find infra/local: no go.mod above " + wd + "; set Options.Dir")
		}
	}
}
