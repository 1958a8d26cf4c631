// Package connectionapi serves the JSON API connector (seed 000):
// connections, their activity, test sends, replays and dead deliveries, and
// Zapier's REST hooks. A connection belongs to the calling token's channel.
package connectionapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/delivery"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/limits"
	"github.com/startmsg/chatbackend/shared/router"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// The handlers, one builder per function: a function binary links only
// its own handler (shared/registry lists them all by name).

// ConnectionCreate builds the handler of function connection-create.
func ConnectionCreate(p Ports) http.Handler { return build((*API).create)(p) }

// ConnectionList builds the handler of function connection-list.
func ConnectionList(p Ports) http.Handler { return build((*API).list)(p) }

// ConnectionGet builds the handler of function connection-get.
func ConnectionGet(p Ports) http.Handler { return build((*API).get)(p) }

// ConnectionUpdate builds the handler of function connection-update.
func ConnectionUpdate(p Ports) http.Handler { return build((*API).update)(p) }

// ConnectionDelete builds the handler of function connection-delete.
func ConnectionDelete(p Ports) http.Handler { return build((*API).delete)(p) }

// ConnectionSecretRotate builds the handler of function connection-secret-rotate.
func ConnectionSecretRotate(p Ports) http.Handler { return build((*API).rotate)(p) }

// ConnectionActivity builds the handler of function connection-activity.
func ConnectionActivity(p Ports) http.Handler { return build((*API).activity)(p) }

// ConnectionTest builds the handler of function connection-test.
func ConnectionTest(p Ports) http.Handler { return build((*API).test)(p) }

// ConnectionReplay builds the handler of function connection-replay.
func ConnectionReplay(p Ports) http.Handler { return build((*API).replay)(p) }

// DeliveryDeadList builds the handler of function delivery-dead-list.
func DeliveryDeadList(p Ports) http.Handler { return build((*API).deadList)(p) }

// DeliveryDeadRedrive builds the handler of function delivery-dead-redrive.
func DeliveryDeadRedrive(p Ports) http.Handler { return build((*API).deadRedrive)(p) }

// HookSubscribe builds the handler of function hook-subscribe.
func HookSubscribe(p Ports) http.Handler { return build((*API).hookSubscribe)(p) }

// HookUnsubscribe builds the handler of function hook-unsubscribe.
func HookUnsubscribe(p Ports) http.Handler { return build((*API).hookUnsubscribe)(p) }

// HookSample builds the handler of function hook-sample.
func HookSample(p Ports) http.Handler { return build((*API).hookSample)(p) }

// Ports are what these handlers need; shared/wiring provides them.
type Ports interface {
	ConnectionStore() connections.Store
	ContactStore() contacts.Store
	TenancyStore() tenancy.Store
	Clock() func() time.Time
	Setting(key string) string
	AWSConfig() aws.Config
	Queues() (deliveries, dlq string)
	TenantLimits() limits.Limits
}

// API holds the handlers' dependencies.
type API struct {
	p     Ports
	now   func() time.Time
	svc   *connections.Service
	store connections.Store
	cts   contacts.Store
	ten   tenancy.Store
}

func build(h func(*API, http.ResponseWriter, *http.Request) error) func(Ports) http.Handler {
	return func(p Ports) http.Handler {
		a := newAPI(p)
		return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return h(a, w, r) })
	}
}

func newAPI(p Ports) *API {
	store := p.ConnectionStore()
	cts := p.ContactStore()
	policy := dispatch.Policy(p.Setting)
	return &API{p: p, now: p.Clock(), store: store, cts: cts, ten: p.TenancyStore(), svc: &connections.Service{
		Store:    store,
		CheckURL: func(ctx context.Context, u string) error { return policy.CheckURL(ctx, u, nil) },
		CustomFields: func(ctx context.Context, tenantID string) ([]string, error) {
			fs, err := cts.ListFields(ctx, tenantID)
			names := make([]string, len(fs))
			for i, f := range fs {
				names[i] = f.Name
			}
			return names, err
		},
		NewSecret: webhook.NewSecret,
		NewID:     func() string { return tenancy.NewID("conn") },
		Now:       p.Clock(),

		MaxPerChannel: p.TenantLimits().ConnectionsPerChannel,
	}}
}

func caller(r *http.Request) (tenantID, channelID string) {
	p := httpapi.CallerOf(r)
	return p.TenantID, p.ChannelID
}

// view is a connection as the API shows it: never the secrets, except the
// current one right after it was made (create, rotate).
func view(c connections.Connection, withSecret bool) ConnectionView {
	v := ConnectionView{
		ID: c.ID, Name: c.Name, URL: c.URL, PageID: c.ChannelID, Triggers: c.Triggers, Fields: c.Fields,
		Enabled: c.Enabled, Source: c.Source, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		DisabledReason: c.DisabledReason, FailingSince: c.FailingSince,
	}
	if withSecret {
		v.Secret = c.CurrentSecret()
	}
	return withState(v, connections.Breaker{})
}

func (a *API) create(w http.ResponseWriter, r *http.Request) error {
	var in connections.Input
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	t, ch := caller(r)
	c, err := a.svc.Create(r.Context(), t, ch, connections.SourceAPI, in)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusCreated, view(c, true))
	return nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	cs, err := a.svc.List(r.Context(), t, ch)
	if err != nil {
		return err
	}
	out, err := a.statesOf(r.Context(), t, cs)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, out)
	return nil
}

func (a *API) get(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	c, err := a.svc.Get(r.Context(), t, ch, httpapi.PathParam(r, "connectionId"))
	if err != nil {
		return err
	}
	v, err := a.stateOf(r.Context(), c)
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, v)
	return nil
}

func (a *API) update(w http.ResponseWriter, r *http.Request) error {
	var in connections.Input
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	t, ch := caller(r)
	c, err := a.svc.Update(r.Context(), t, ch, httpapi.PathParam(r, "connectionId"), in)
	if err != nil {
		return err
	}
	a.resetBreaker(r.Context(), t, c.ID)
	httpapi.WriteData(w, http.StatusOK, view(c, false))
	return nil
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	if err := a.svc.Delete(r.Context(), t, ch, httpapi.PathParam(r, "connectionId")); err != nil {
		return err
	}
	a.resetBreaker(r.Context(), t, httpapi.PathParam(r, "connectionId"))
	httpapi.WriteSuccess(w, "Connection deleted successfully.")
	return nil
}

func (a *API) rotate(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	c, err := a.svc.RotateSecret(r.Context(), t, ch, httpapi.PathParam(r, "connectionId"))
	if err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusOK, view(c, true))
	return nil
}

// activity is the report: the last 10 attempts, newest first, and the
// connection's main settings.
func (a *API) activity(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	c, err := a.svc.Get(r.Context(), t, ch, httpapi.PathParam(r, "connectionId"))
	if err != nil {
		return err
	}
	atts, err := a.store.Attempts(r.Context(), t, c.ID, connections.ActivityKept)
	if err != nil {
		return err
	}
	if atts == nil {
		atts = []connections.Attempt{}
	}
	stats := []connections.HourStat{}
	if hs, ok := a.store.(hourlyStats); ok {
		if stats, err = hs.HourlyStats(r.Context(), t, c.ID, a.now()); err != nil {
			return err
		}
	}
	v, err := a.stateOf(r.Context(), c)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, Activity{Connection: v, Data: atts, Stats: stats})
	return nil
}

// hourlyStats is a store that keeps connections' hourly counters.
type hourlyStats interface {
	HourlyStats(ctx context.Context, tenantID, connectionID string, now time.Time) ([]connections.HourStat, error)
}

// sample is a payload of the live shape for a made-up subscriber.
func (a *API) sample(ctx context.Context, tenantID, channelID string, fields []string) ([]byte, error) {
	ch, err := a.ten.GetChannel(ctx, tenantID, channelID)
	if err != nil {
		return nil, err
	}
	defs, err := a.cts.ListFields(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	c := contacts.Contact{ID: "12765756", CreatedAt: a.now().Unix(), Tags: []string{"Demo", "Demo Label 1"},
		Fields: map[string]string{"firstName": "Test", "lastName": "User", "email": "testuser@example.com", "phone": "+370628282846"},
		Custom: map[string]string{}, LastEvent: &contacts.Event{PostbackID: "GET_STARTED"}}
	for _, d := range defs {
		c.Custom[d.ID] = "sample " + d.Name
	}
	return connections.Payload(c, connections.Channel{ID: ch.ID, Name: ch.Name}, defs, fields), nil
}

// test sends a sample to the connection now and answers the attempt.
func (a *API) test(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	c, err := a.svc.Get(r.Context(), t, ch, httpapi.PathParam(r, "connectionId"))
	if err != nil {
		return err
	}
	payload, err := a.sample(r.Context(), t, ch, c.Fields)
	if err != nil {
		return err
	}
	del := connections.Delivery{ID: tenancy.NewID("msg"), TenantID: t, ConnectionID: c.ID, Payload: payload, CreatedAt: a.now().Unix(), Test: true}
	d := dispatch.New(a.store, delivery.New(dispatch.Policy(a.p.Setting), delivery.AttemptTimeout), nil, "")
	d.Now = a.now
	att, _ := d.Attempt(r.Context(), c, del, 1)
	if att.Outcome == connections.OutcomeSuccess {
		a.resetBreaker(r.Context(), t, c.ID)
	}
	httpapi.WriteData(w, http.StatusOK, att)
	return nil
}

func (a *API) queue() (*sqs.Client, string) {
	deliveries, _ := a.p.Queues()
	return sqs.NewFromConfig(a.p.AWSConfig()), deliveries
}

// replay queues a logged delivery again: same webhook-id and body, a fresh
// signature when it is sent.
func (a *API) replay(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	c, err := a.svc.Get(r.Context(), t, ch, httpapi.PathParam(r, "connectionId"))
	if err != nil {
		return err
	}
	id := httpapi.PathParam(r, "webhookId")
	at, err := a.store.FindAttempt(r.Context(), t, c.ID, id)
	if apperr.Is(err, apperr.KindNotFound) {
		return apperr.New(apperr.KindNotFound, "No logged delivery %q on this connection (attempts are kept 7 days).", id)
	}
	if err != nil {
		return err
	}
	del := connections.Delivery{ID: id, TenantID: t, ConnectionID: c.ID, Trigger: at.Trigger, Payload: []byte(at.RequestBody), CreatedAt: a.now().Unix()}
	q, qURL := a.queue()
	if err := router.Enqueue(r.Context(), q, qURL, []connections.Delivery{del}); err != nil {
		return err
	}
	httpapi.WriteData(w, http.StatusAccepted, Replayed{Queued: true, WebhookID: id})
	return nil
}

// deadList lists the channel's dead deliveries, newest first, a page at a
// time: ?limit= (1–100, default 100) and ?cursor= (links.next of the page
// before). Dead deliveries are kept per tenant, so a page may hold fewer
// than limit items when other channels' deliveries died in between.
func (a *API) deadList(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	q := r.URL.Query()
	limit := maxDeadPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDeadPage {
			return apperr.BadRequest("limit: must be a whole number from 1 to %d.", maxDeadPage)
		}
		limit = n
	}
	page, err := a.store.ListDead(r.Context(), t, limit, q.Get("cursor"))
	if err != nil {
		return err
	}
	channelOf := map[string]string{} // connection ID → channel ID ("" when gone)
	out := []DeadView{}
	for _, d := range page.Items {
		cid, seen := channelOf[d.ConnectionID]
		if !seen {
			c, err := a.store.GetConnection(r.Context(), t, d.ConnectionID)
			switch {
			case err == nil:
				cid = c.ChannelID
			case !apperr.Is(err, apperr.KindNotFound):
				return err
			}
			channelOf[d.ConnectionID] = cid
		}
		if cid != "" && cid != ch {
			continue
		}
		out = append(out, DeadView{ID: d.ID, ConnectionID: d.ConnectionID, Trigger: d.Trigger,
			Payload: string(d.Payload), DiedAt: d.DiedAt, LastAttempt: d.LastAttempt})
	}
	var next *string
	if page.Next != "" {
		u := httpapi.PublicURL(r)
		u.RawQuery = url.Values{"limit": {strconv.Itoa(limit)}, "cursor": {page.Next}}.Encode()
		s := u.String()
		next = &s
	}
	httpapi.WriteJSON(w, http.StatusOK, DeadPage{Data: out, Links: DeadLinks{Next: next}})
	return nil
}

// maxDeadPage is the largest page of the dead-delivery listing.
const maxDeadPage = 100

func (a *API) deadRedrive(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	id := httpapi.PathParam(r, "deliveryId")
	d, err := a.store.GetDead(r.Context(), t, id)
	if err != nil {
		return err
	}
	if _, err := a.svc.Get(r.Context(), t, ch, d.ConnectionID); apperr.Is(err, apperr.KindNotFound) {
		// Another channel's dead delivery (or one whose connection is
		// gone) is answered as an unknown one: its connection's ID stays
		// unsaid.
		return apperr.NotFound("Dead delivery", id)
	} else if err != nil {
		return err
	}
	q, qURL := a.queue()
	if err := router.Enqueue(r.Context(), q, qURL, []connections.Delivery{d.Delivery}); err != nil {
		return err
	}
	if err := a.store.DeleteDead(r.Context(), t, id); err != nil && !apperr.Is(err, apperr.KindNotFound) {
		return err
	}
	httpapi.WriteData(w, http.StatusAccepted, Redriven{ID: id, Queued: true})
	return nil
}
