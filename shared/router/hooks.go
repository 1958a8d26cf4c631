package router

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/messages"
)

// Zapier's hooks on messages (connections.TriggerMessageReceived and
// TriggerMessageStatus), and the recent items of every trigger a hook may
// take (connections.Recent, GET /v1/hooks/sample).

// RecentEvery is how often, at most, one router process records a recent
// item of one trigger on one channel: the editor wants a few real items,
// not every one, and a burst of contact writes pays one PutItem per
// channel and trigger in this time, not one each.
const RecentEvery = 10 * time.Second

// recentGate remembers when each (channel, trigger) was last recorded.
type recentGate struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// take reports whether key may be recorded at now, and marks it so.
func (g *recentGate) take(key string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil {
		g.last = map[string]time.Time{}
	}
	if at, ok := g.last[key]; ok && now.Sub(at) < RecentEvery {
		return false
	}
	if len(g.last) >= 10000 { // forget what may be recorded anyway
		for k, at := range g.last {
			if now.Sub(at) >= RecentEvery {
				delete(g.last, k)
			}
		}
	}
	g.last[key] = now
	return true
}

// recordRecent keeps payload as a recent item of trigger t on the channel
// (best effort: a failure is logged, the record is still routed).
func (r *Router) recordRecent(ctx context.Context, tenantID, channelID string, t connections.Trigger, payload func() ([]byte, error)) {
	if r.Recent == nil || channelID == "" {
		return
	}
	now := time.Now()
	if !r.recent.take(tenantID+"#"+channelID+"#"+string(t), now) {
		return
	}
	p, err := payload()
	if err == nil {
		err = r.Recent.PutRecent(ctx, tenantID, channelID, t, now, p)
	}
	if err != nil {
		r.Log.WarnContext(ctx, "record recent item", "err", err, "trigger", t)
	}
}

// messageTrigger is the hook trigger a message record fires: a new inbound
// message, or an outbound message's new status past queued.
func messageTrigger(rec events.DynamoDBEventRecord) (connections.Trigger, *messages.Message, error) {
	if rec.EventName == "REMOVE" || !isMessage(rec.Change.Keys) {
		return "", nil, nil
	}
	cur, err := messageOf(rec.Change.NewImage)
	if err != nil || cur == nil {
		return "", nil, err
	}
	old, err := messageOf(rec.Change.OldImage)
	if err != nil {
		return "", nil, err
	}
	switch {
	case cur.Direction == messages.Inbound && old == nil:
		return connections.TriggerMessageReceived, cur, nil
	case cur.Direction == messages.Outbound && old != nil && old.Status != cur.Status && cur.Status != messages.StatusQueued:
		return connections.TriggerMessageStatus, cur, nil
	}
	return "", nil, nil
}

// messageHookDeliveries returns a message record's deliveries to the
// hooks of its channel that take its trigger, and records it as a recent
// item of that trigger.
func (r *Router) messageHookDeliveries(ctx context.Context, cache *batchCache, rec events.DynamoDBEventRecord) ([]connections.Delivery, error) {
	t, m, err := messageTrigger(rec)
	if err != nil || m == nil {
		return nil, err
	}
	payload := func() ([]byte, error) {
		ch, err := cache.channel(ctx, m.TenantID, m.ChannelID)
		if err != nil {
			return nil, err
		}
		return connections.MessagePayload(t, *m, ch), nil
	}
	r.recordRecent(ctx, m.TenantID, m.ChannelID, t, payload)
	conns, err := cache.connections(ctx, m.TenantID)
	if err != nil {
		return nil, err
	}
	var out []connections.Delivery
	for _, c := range conns {
		if !c.Enabled || c.ChannelID != m.ChannelID || !c.Has(t) {
			continue
		}
		p, err := payload()
		if err != nil {
			return nil, err
		}
		out = append(out, connections.Delivery{
			ID: DeliveryID(rec.Change.SequenceNumber, c.ID, t), TenantID: c.TenantID, ConnectionID: c.ID,
			Trigger: t, Payload: p, CreatedAt: m.CreatedAt / 1000, ConnVersion: c.Version,
		})
	}
	return out, nil
}
