package eventsapi_test

import (
	"testing"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

func TestMain(m *testing.M) { emulators.Main(m) }

var get = stacktest.Path
