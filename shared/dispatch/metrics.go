package dispatch

import (
	"os"
	"sync"
)

var metricsMu sync.Mutex

// metricsOut writes one EMF line to stdout, where Lambda's log capture
// turns it into metrics. Tests may replace it.
var metricsOut = func(b []byte) {
	metricsMu.Lock()
	defer metricsMu.Unlock()
	_, _ = os.Stdout.Write(append(b, '\n'))
}
