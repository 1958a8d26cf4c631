package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"
)

// TestLogRequestOffAllocatesNothing: with Info off, the request line costs
// no allocation (no value boxed for a line that is not written).
func TestLogRequestOffAllocatesNothing(t *testing.T) {
	saved := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})))
	t.Cleanup(func() { slog.SetDefault(saved) })
	r := httptest.NewRequest("GET", "/v1/contact/100000000000042", nil)
	p := Principal{TenantID: "ten_a", ChannelID: "ch_b"}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { logRequest(ctx, "contact-get", r, p, 200, time.Millisecond) }); n != 0 {
		t.Errorf("%v allocations per request line with Info off", n)
	}
}
