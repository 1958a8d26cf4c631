package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/startmsg/chatbackend/shared/appenv"
)

// closedEndpoint is where the AWS endpoints of a measured process point: a
// loopback port nothing listens on, so a stray SDK call fails fast and locally.
const closedEndpoint = "http://127.0.0.1:1"

// LambdaEnv returns the environment of a provided.al2023 function with
// 256 MB of memory, the project's own variables, fake static credentials and
// AWS endpoints on a closed loopback port. runtimeAPI is the host:port of the
// Runtime API, taskRoot the directory of the bootstrap and home an empty
// directory (so no shared AWS config file of the host is read).
func LambdaEnv(function, runtimeAPI, taskRoot, home string) []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"HOME=" + home,
		"LAMBDA_TASK_ROOT=" + taskRoot,
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"_HANDLER=bootstrap",
		"AWS_LAMBDA_RUNTIME_API=" + runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME=" + function,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + function,
		"AWS_LAMBDA_LOG_STREAM_NAME=bench",
		"AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIABENCHFAKEFAKE000",
		"AWS_SECRET_ACCESS_KEY=bench/fake/secret/access/key/0000000000",
		"AWS_SESSION_TOKEN=bench-fake-session-token",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_DYNAMODB=" + closedEndpoint,
		"AWS_ENDPOINT_URL_SQS=" + closedEndpoint,
		appenv.TableName + "=bench",
		appenv.OpsTableName + "=bench-ops",
		appenv.QueueURL + "=" + closedEndpoint + "/q",
		appenv.DLQURL + "=" + closedEndpoint + "/dlq",
		appenv.Stage + "=dev",
	}
}

// InitError is a bootstrap that failed its init phase: it exited, posted
// .../init/error or timed out before asking for its first invocation.
type InitError struct {
	Function string
	Reason   string // what happened, e.g. "exited (exit status 1)"
	Body     string // the init/error payload, if one was posted
	Output   string // the tail of its stdout and stderr
}

func (e *InitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s before asking for an invocation", e.Function, e.Reason)
	if e.Body != "" {
		fmt.Fprintf(&b, "\n  init/error: %s", e.Body)
	}
	if out := strings.TrimSpace(e.Output); out != "" {
		b.WriteString("\n  output:\n    " + strings.ReplaceAll(out, "\n", "\n    "))
	}
	return b.String()
}

// Measure runs one cold start of the bootstrap at path as the named function
// and returns the time from exec to its first GET .../invocation/next. The
// process is killed as soon as it asks (or after timeout). Each call has its
// own Runtime, so no request of another process can be counted. A failed
// init is returned as an *InitError.
func Measure(ctx context.Context, function, path string, timeout time.Duration) (time.Duration, error) {
	home, err := os.MkdirTemp("", "bench-home-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(home)
	rt, err := StartRuntime()
	if err != nil {
		return 0, err
	}
	defer rt.Close()

	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, err
	}
	out := &tail{max: 16 << 10}
	cmd := exec.Command(abs)
	cmd.Dir = filepath.Dir(abs)
	cmd.Env = LambdaEnv(function, rt.Addr, filepath.Dir(abs), home)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%s: %w", function, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill() //nolint:errcheck // it may have exited already
		<-exited
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()

	fail := func(reason, body string) error {
		return &InitError{Function: function, Reason: reason, Body: body, Output: out.String()}
	}
	select {
	case <-rt.InitDone():
		stop()
	case werr := <-exited:
		// A process that asked and then died still finished its init.
		select {
		case <-rt.InitDone():
		default:
			return 0, fail(fmt.Sprintf("exited (%v)", werr), "")
		}
	case <-timer.C:
		stop()
		return 0, fail(fmt.Sprintf("did not finish init within %v", timeout), "")
	case <-ctx.Done():
		stop()
		return 0, ctx.Err()
	}
	end, _ := rt.InitEnd()
	if end.Kind == KindInitError {
		return 0, fail("posted init/error", string(end.Body))
	}
	return end.At.Sub(start), nil
}

// tail is an io.Writer keeping the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
	cut bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return "…" + string(t.buf)
	}
	return string(t.buf)
}

// errIsInit reports whether err is a failed init of a bootstrap (as opposed
// to a failure of the harness itself).
func errIsInit(err error) bool {
	var ie *InitError
	return errors.As(err, &ie)
}
