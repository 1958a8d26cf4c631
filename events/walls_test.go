package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appevents "github.com/startmsg/chatbackend/events"
	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/rie"
	"github.com/startmsg/chatbackend/shared/appenv"
)

// TestLoopbackRefusedOnDeployedStage: the dispatcher's real bootstrap,
// started with ALLOW_LOOPBACK_TARGETS=true on a stage that is not a local
// one, fails its init with a message naming the setting.
func TestLoopbackRefusedOnDeployedStage(t *testing.T) {
	tenv := emulators.ForTest(t)
	env := append(rieEnv(t, tenv), appenv.Stage+"=dev", appenv.AllowLoopbackTargets+"=true") // the last STAGE wins
	bin, boot := bootstrap(t, "dispatcher")
	f, err := rie.Start(context.Background(), bin, rie.Options{Name: "dispatcher", Bootstrap: boot, Env: env, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	raw, _ := appevents.Samples.ReadFile("sqs/delivery.json")
	_, err = f.ColdStart(context.Background(), raw)
	var ie *rie.InitError
	if !errors.As(err, &ie) || !strings.Contains(ie.Output, appenv.AllowLoopbackTargets+"=true is allowed only on a local stage") {
		t.Fatalf("ColdStart = %v; want an init error naming %s", err, appenv.AllowLoopbackTargets)
	}
}
