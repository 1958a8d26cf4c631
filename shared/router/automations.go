package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/autorun"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
)

// The router's part in automations (shared/autorun): an automation's call
// of a connection reaches the dispatcher as a trigger's delivery does, and
// a trigger field collected enrolls the contact in the automations it
// starts.

// AutoCallKeyPrefix starts an automation's call of a connection on the
// data table (ddbstore.AutoCallKeyPrefix).
const AutoCallKeyPrefix = "AUTOCALL#"

func isAutoCall(keys map[string]events.DynamoDBAttributeValue) bool {
	pk, ok := keys["PK"]
	return ok && pk.DataType() == events.DataTypeString && strings.HasPrefix(pk.String(), AutoCallKeyPrefix)
}

// autoCall is the stream image of a ddbstore.AutoCall.
type autoCall struct {
	ID           string `dynamodbav:"id"`
	TenantID     string `dynamodbav:"tenant_id"`
	ConnectionID string `dynamodbav:"connection_id"`
	ChannelID    string `dynamodbav:"channel_id"`
	ContactID    string `dynamodbav:"contact_id"`
	CreatedAt    int64  `dynamodbav:"created_at"`
}

// autoCallDelivery is the delivery of an automation's call: the contact's
// payload for the connection, under the call's ID. A connection deleted
// or switched off since, or a contact gone, queues nothing.
func (r *Router) autoCallDelivery(ctx context.Context, cache *batchCache, rec events.DynamoDBEventRecord) ([]connections.Delivery, error) {
	if rec.EventName != "INSERT" {
		return nil, nil
	}
	call, err := imageOf[autoCall](rec.Change.NewImage)
	if err != nil || call == nil {
		return nil, err
	}
	conns, err := cache.connections(ctx, call.TenantID)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(conns, func(c connections.Connection) bool { return c.ID == call.ConnectionID })
	if i < 0 || !conns[i].Enabled {
		r.Log.WarnContext(ctx, "automation call: the connection is gone or off; not sent", "connection", call.ConnectionID, "delivery", call.ID)
		return nil, nil
	}
	conn := conns[i]
	c, err := r.Contacts.GetContact(ctx, call.TenantID, call.ChannelID, call.ContactID)
	if apperr.Is(err, apperr.KindNotFound) {
		r.Log.WarnContext(ctx, "automation call: the contact is gone; not sent", "contact", call.ContactID, "delivery", call.ID)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// The payload names the connection's channel (an account contact has
	// none of its own).
	pc := c
	pc.ChannelID = conn.ChannelID
	payload, err := cache.payload(ctx, pc, conn)
	if err != nil {
		return nil, err
	}
	return []connections.Delivery{{ID: call.ID, TenantID: call.TenantID, ConnectionID: conn.ID, Trigger: connections.TriggerAutomation,
		Payload: payload, CreatedAt: call.CreatedAt / 1000, ConnVersion: conn.Version}}, nil
}

// AutomationCacheTTL is how long a router instance keeps a tenant's
// automations: a trigger added, changed or switched off takes effect
// within it.
const AutomationCacheTTL = 30 * time.Second

// Enroller enrolls contacts whose trigger fields were collected in the
// automations those triggers start.
type Enroller struct {
	Automations automations.Store
	Service     *autorun.Service
	Now         func() time.Time

	mu    sync.Mutex
	cache map[string]cachedAutomations
}

type cachedAutomations struct {
	list []automations.Automation
	at   time.Time
}

// automations reads the tenant's automations that are on and have a
// trigger and a node, from the cache when it is fresh.
func (e *Enroller) automations(ctx context.Context, tenantID string) ([]automations.Automation, error) {
	now := e.Now()
	e.mu.Lock()
	c, ok := e.cache[tenantID]
	e.mu.Unlock()
	if ok && now.Sub(c.at) < AutomationCacheTTL {
		return c.list, nil
	}
	all, err := e.Automations.ListAutomations(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var list []automations.Automation
	for _, a := range all {
		if a.On && len(a.Nodes) > 0 && len(a.Triggers) > 0 {
			list = append(list, a)
		}
	}
	e.mu.Lock()
	if e.cache == nil {
		e.cache = map[string]cachedAutomations{}
	}
	e.cache[tenantID] = cachedAutomations{list: list, at: now}
	e.mu.Unlock()
	return list, nil
}

// Enroll enrolls cur in every automation one of fired starts (a trigger of
// that field on the contact's channel or on any). The run's ID is derived
// from the stream record, so a record routed again enrolls no second run;
// a contact with an active run of the automation is not enrolled again.
func (e *Enroller) Enroll(ctx context.Context, rec events.DynamoDBEventRecord, cur contacts.Contact, fired []connections.Trigger) error {
	if e == nil || len(fired) == 0 {
		return nil
	}
	list, err := e.automations(ctx, cur.TenantID)
	if err != nil || len(list) == 0 {
		return err
	}
	now := e.Now()
	at := rec.Change.ApproximateCreationDateTime.Time // the ID's time: the same when the record is routed again
	if at.IsZero() {
		at = now
	}
	var errs []error
	for _, a := range list {
		field, ok := startedBy(a, cur.ChannelID, fired)
		if !ok {
			continue
		}
		id := autorun.DerivedRunID(at, rec.Change.SequenceNumber, a.ID)
		if e.Service.Refs != nil {
			if err := e.Service.Refs(ctx, a); err != nil {
				continue // its nodes refer to something missing: nothing to start
			}
		}
		_, err := e.Service.StartWithID(ctx, id, now, a, cur, automations.TriggerSource(field))
		if err != nil && !apperr.Is(err, apperr.KindExists) {
			errs = append(errs, fmt.Errorf("enroll %s in %s: %w", cur.ID, a.ID, err))
		}
	}
	return errors.Join(errs...)
}

// startedBy reports the first fired trigger field that starts a.
func startedBy(a automations.Automation, channelID string, fired []connections.Trigger) (string, bool) {
	for _, t := range a.Triggers {
		if t.ChannelID != "" && t.ChannelID != channelID {
			continue
		}
		if slices.Contains(fired, connections.Trigger(t.Field)) {
			return t.Field, true
		}
	}
	return "", false
}
