package browsertest

import (
	"testing"

	"github.com/startmsg/chatbackend/infra/local/emulators"
)

func TestMain(m *testing.M) { emulators.Main(m) }
