package bench

import (
	"context"
	"errors"
	"time"

	"github.com/startmsg/chatbackend/infra/local/rie"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
)

// closedEndpoint is where the AWS endpoints of a measured function point: a
// loopback port nothing listens on, so a stray SDK call fails fast and locally.
const closedEndpoint = "http://127.0.0.1:1"

// FunctionEnv is the environment a measured function gets on top of the
// emulator's Lambda-like one (rie.BaseEnv): the project's own variables,
// the Go runtime's settings the CDK app gives a function of BaseEnv's
// 256 MB (lambdaapp.RuntimeEnv), fake static credentials and AWS endpoints
// on a closed loopback port.
func FunctionEnv() []string {
	env := []string{
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIABENCHFAKEFAKE000",
		"AWS_SECRET_ACCESS_KEY=bench/fake/secret/access/key/0000000000",
		"AWS_SESSION_TOKEN=bench-fake-session-token",
		"AWS_ENDPOINT_URL_DYNAMODB=" + closedEndpoint,
		"AWS_ENDPOINT_URL_DYNAMODB_STREAMS=" + closedEndpoint,
		"AWS_ENDPOINT_URL_SQS=" + closedEndpoint,
		appenv.TableName + "=bench",
		appenv.OpsTableName + "=bench-ops",
		appenv.QueueURL + "=" + closedEndpoint + "/q",
		appenv.DLQURL + "=" + closedEndpoint + "/dlq",
		appenv.Stage + "=bench",
		// The functions that flush the authorizer cache need their API.
		appenv.RestAPIID + "=bench",
		appenv.APIStageName + "=bench",
	}
	for k, v := range lambdaapp.RuntimeEnv(256) {
		env = append(env, k+"="+v)
	}
	return env
}

// InitError is a bootstrap that failed its init phase: it exited, posted
// .../init/error or did not ask for an invocation within the timeout.
type InitError = rie.InitError

// Measure runs one cold start of the bootstrap at path as the named
// function under aws-lambda-rie (the binary at rieBin), as Lambda runs it:
// a fresh emulator, one invocation, which starts the bootstrap. It returns
// the init duration the emulator logs (INIT REPORT: from starting the
// bootstrap to its first request for an invocation) and stops the emulator
// without waiting for the answer. timeout is the function's timeout (whole
// seconds, at least one), which bounds its init. A failed init is returned
// as an *InitError; any other error is the harness's.
//
// An emulator that could not bind its Runtime API port (taken by another
// process since it was chosen) is started again on other ports, up to
// three times in all.
func Measure(ctx context.Context, rieBin, function, path string, timeout time.Duration) (time.Duration, error) {
	var ie *InitError
	for try := 1; ; try++ {
		d, err := measureOnce(ctx, rieBin, function, path, timeout)
		if try < 3 && errors.As(err, &ie) && ie.RuntimeAPIPortTaken() {
			continue
		}
		return d, err
	}
}

func measureOnce(ctx context.Context, rieBin, function, path string, timeout time.Duration) (time.Duration, error) {
	f, err := rie.Start(ctx, rieBin, rie.Options{Name: function, Bootstrap: path, Env: FunctionEnv(), Timeout: timeout})
	if err != nil {
		return 0, err
	}
	defer f.Stop()
	ctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	return f.ColdStart(ctx, []byte(`{}`))
}

// errIsInit reports whether err is a failed init of a bootstrap (as opposed
// to a failure of the harness itself).
func errIsInit(err error) bool {
	var ie *InitError
	return errors.As(err, &ie)
}
