package connectionapi_test

import (
	"testing"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// The hourly counters are written with every batch here (tests read them
// at once); TestHourlyBuffered sets the production interval back.
func TestMain(m *testing.M) {
	ddbstore.HourlyFlushEvery = 0
	emulators.Main(m)
}
