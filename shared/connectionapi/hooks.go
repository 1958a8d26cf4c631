package connectionapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/messages"
)

// Zapier REST hooks: a subscription is a connection made by Zapier.

type hookBody struct {
	TargetURL string `json:"target_url"`
	Event     string `json:"event"`
}

func (a *API) hookSubscribe(w http.ResponseWriter, r *http.Request) error {
	var in hookBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	if in.TargetURL == "" || in.Event == "" {
		return apperr.BadRequest("target_url and event are required.")
	}
	t, ch := caller(r)
	name, triggers := "Zapier: "+in.Event, []string{in.Event}
	c, err := a.svc.Create(r.Context(), t, ch, connections.SourceZapier, connections.Input{Name: &name, URL: &in.TargetURL, Triggers: &triggers})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, HookCreated{Data: view(c, false), ID: c.ID})
	return nil
}

func (a *API) hookUnsubscribe(w http.ResponseWriter, r *http.Request) error {
	t, ch := caller(r)
	id := httpapi.PathParam(r, "hookId")
	c, err := a.svc.Get(r.Context(), t, ch, id)
	if apperr.Is(err, apperr.KindNotFound) {
		// The same answer as for a connection that is not a hook.
		return apperr.New(apperr.KindNotFound, "Hook %q not found.", id)
	}
	if err != nil {
		return err
	}
	if c.Source != connections.SourceZapier {
		return apperr.New(apperr.KindNotFound, "Hook %q not found.", id)
	}
	if err := a.svc.Delete(r.Context(), t, ch, id); err != nil {
		return err
	}
	httpapi.WriteSuccess(w, "Hook deleted successfully.")
	return nil
}

// hookSample answers Zapier's perform list: the trigger's recent items on
// the channel (connections.Recent, recorded by the trigger router whether
// or not a hook exists), newest first; a channel that has none yet gets
// one made-up payload in the live shape.
func (a *API) hookSample(w http.ResponseWriter, r *http.Request) error {
	ev := connections.Trigger(r.URL.Query().Get("event"))
	if ev != "" && !slices.Contains(connections.HookTriggers, ev) {
		return apperr.BadRequest("event must be one of %s, not %q.", hookTriggerNames(), string(ev))
	}
	t, ch := caller(r)
	var items [][]byte
	if rs, ok := a.store.(connections.Recent); ok && ev != "" {
		var err error
		if items, err = rs.ListRecent(r.Context(), t, ch, ev, connections.RecentLimit); err != nil {
			return err
		}
		if items, err = a.present(r.Context(), t, ch, items); err != nil {
			return err
		}
	}
	if len(items) == 0 {
		var p []byte
		var err error
		if ev == connections.TriggerMessageReceived || ev == connections.TriggerMessageStatus {
			p, err = a.messageSample(r.Context(), t, ch, ev)
		} else {
			p, err = a.sample(r.Context(), t, ch, nil)
		}
		if err != nil {
			return err
		}
		items = [][]byte{p}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(append([]byte("["), bytes.Join(items, []byte(","))...), ']'))
	return nil
}

// present drops the recent items of contacts deleted since: a recent item
// is a copy of the contact's fields, and a deleted contact's are not shown
// (one GetItem per item: at most RecentLimit). Message items name their
// contact as contact_id, contact items as psid.
func (a *API) present(ctx context.Context, tenantID, channelID string, items [][]byte) ([][]byte, error) {
	out := items[:0]
	for _, it := range items {
		var p struct {
			PSID      string `json:"psid"`
			ContactID string `json:"contact_id"`
		}
		_ = json.Unmarshal(it, &p)
		id := cmp.Or(p.PSID, p.ContactID)
		if id != "" {
			_, err := a.cts.GetContact(ctx, tenantID, channelID, id)
			if apperr.Is(err, apperr.KindNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// messageSample is a message trigger's payload for a made-up message.
func (a *API) messageSample(ctx context.Context, tenantID, channelID string, t connections.Trigger) ([]byte, error) {
	ch, err := a.ten.GetChannel(ctx, tenantID, channelID)
	if err != nil {
		return nil, err
	}
	at := a.now().UnixMilli()
	m := messages.Message{ID: "msg_sample", ChannelID: ch.ID, ContactID: "923001234567", Direction: messages.Inbound,
		Type: messages.TypeText, From: "+923001234567", Text: &messages.Text{Body: "Hello!"}, Status: messages.StatusReceived, CreatedAt: at}
	if t == connections.TriggerMessageStatus {
		m.Direction, m.From, m.To, m.Status, m.SentAt, m.DeliveredAt = messages.Outbound, "", "+923001234567", messages.StatusDelivered, at, at
		m.Text = &messages.Text{Body: "Your order shipped."}
	}
	return connections.MessagePayload(t, m, connections.Channel{ID: ch.ID, Name: ch.Name}), nil
}

func hookTriggerNames() string {
	names := make([]string, len(connections.HookTriggers))
	for i, t := range connections.HookTriggers {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}
