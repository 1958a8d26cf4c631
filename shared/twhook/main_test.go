package twhook_test

import (
	"testing"

	"github.com/startmsg/chatbackend/infra/local/emulators"
)

// TestMain stops the emulators the integration tests started.
func TestMain(m *testing.M) { emulators.Main(m) }
