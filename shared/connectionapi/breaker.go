package connectionapi

import (
	"context"
	"log/slog"
	"time"

	"github.com/startmsg/chatbackend/shared/connections"
)

// States of a connection as the API shows them (ConnectionView.State).
const (
	StateActive   = "active"   // deliveries are sent
	StatePaused   = "paused"   // its circuit breaker, or its endpoint host's, is open: deliveries wait, one probe per interval
	StateDisabled = "disabled" // switched off (by its owner, 410 Gone, 5 days of failures)
)

// breakers is the store's breaker part, when it has one.
func (a *API) breakers() connections.BreakerStore {
	b, _ := a.store.(connections.BreakerStore)
	return b
}

// withState sets the view's state from the connection and its breaker.
func withState(v ConnectionView, b connections.Breaker) ConnectionView {
	v.State = StateActive
	switch {
	case !v.Enabled:
		v.State = StateDisabled
	case b.Paused():
		v.State = StatePaused
		v.PausedReason = "endpoint failing since " + time.UnixMilli(b.PausedSince()).UTC().Format(time.RFC3339)
		if b.HostOpen() {
			v.PausedReason += " (host-wide: " + b.Host + " does not answer; every connection to it is paused)"
		}
		v.NextProbeAt = time.UnixMilli(b.NextProbeAt()).UTC().Format(time.RFC3339)
	}
	return v
}

// stateOf is the view of c with its breaker's state.
func (a *API) stateOf(ctx context.Context, c connections.Connection) (ConnectionView, error) {
	v := view(c, false)
	bs := a.breakers()
	if bs == nil {
		return withState(v, connections.Breaker{}), nil
	}
	b, err := bs.Breaker(ctx, c.TenantID, c.ID)
	if err != nil {
		return v, err
	}
	return withState(v, b), nil
}

// statesOf is the views of cs (one tenant's) with their breakers' states.
func (a *API) statesOf(ctx context.Context, tenantID string, cs []connections.Connection) ([]ConnectionView, error) {
	var m map[string]connections.Breaker
	if bs := a.breakers(); bs != nil {
		var err error
		if m, err = bs.Breakers(ctx, tenantID); err != nil {
			return nil, err
		}
	}
	out := make([]ConnectionView, len(cs))
	for i, c := range cs {
		out[i] = withState(view(c, false), m[c.ID])
	}
	return out, nil
}

// resetBreaker closes c's breaker: its owner changed it (PUT) or a test
// send succeeded, so its deliveries are tried again at once (if the
// endpoint still fails, five failures open it again). A failure is logged:
// the breaker then keeps its course.
func (a *API) resetBreaker(ctx context.Context, tenantID, id string) {
	bs := a.breakers()
	if bs == nil {
		return
	}
	if err := bs.CloseBreaker(ctx, tenantID, id); err != nil {
		slog.ErrorContext(ctx, "close breaker", "err", err, "connection", id)
	}
}
