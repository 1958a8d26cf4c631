package chatapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/netguard"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/webhook"
)

// WebhookBody is POST /webhook's body: the URL inbound messages are posted
// to; "" removes it.
type WebhookBody struct {
	WebhookURL *string `json:"webhookUrl"`
}

// WebhookSet is POST /webhook's answer. Secret (whsec_…, the Standard
// Webhooks key every call is signed with) is shown once, when the webhook
// is first set.
type WebhookSet struct {
	Set          bool   `json:"set"`
	WebhookURL   string `json:"webhookUrl"`
	ConnectionID string `json:"connection_id,omitempty"`
	Secret       string `json:"secret,omitempty"`
}

// webhookName names the connection a chat-api webhook is.
const webhookName = "Inbound messages (chat-api webhook)"

// webhook sets the channel's inbound-messages webhook: one connection of
// source chatapi with the trigger message, made on the first call and
// moved by the next ones; "" deletes it.
func (a *API) webhook(w http.ResponseWriter, r *http.Request, c call) error {
	var in WebhookBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	if in.WebhookURL == nil {
		return apperr.Invalid("webhookUrl", `is required: the URL inbound messages are posted to ("" removes it)`)
	}
	u := strings.TrimSpace(*in.WebhookURL)
	ctx := r.Context()
	store := a.p.ConnectionStore()
	existing, count, err := a.find(ctx, c)
	if err != nil {
		return err
	}
	if u == "" {
		if existing != nil {
			if err := store.DeleteConnection(ctx, c.tenantID, existing.ID); err != nil && !apperr.Is(err, apperr.KindNotFound) {
				return err
			}
		}
		httpapi.WriteJSON(w, http.StatusOK, WebhookSet{Set: true, WebhookURL: ""})
		return nil
	}
	if u, err = a.checkURL(ctx, u); err != nil {
		return err
	}
	if existing == nil {
		return a.createWebhook(w, r, c, u, count)
	}
	for range 5 {
		conn := *existing
		conn.URL, conn.Enabled, conn.DisabledReason, conn.FailingSince = u, true, "", 0
		conn.UpdatedAt = a.now().Unix()
		conn.Version++
		err = store.PutConnection(ctx, conn)
		if err == nil {
			httpapi.WriteJSON(w, http.StatusOK, WebhookSet{Set: true, WebhookURL: u, ConnectionID: conn.ID})
			return nil
		}
		if !apperr.Is(err, apperr.KindConflict) {
			return err
		}
		if existing, _, err = a.find(ctx, c); err != nil {
			return err
		}
		if existing == nil {
			return a.createWebhook(w, r, c, u, count)
		}
	}
	return apperr.Conflict("webhook")
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request, c call, u string, count int) error {
	limit := a.p.TenantLimits().ConnectionsPerChannel
	if limit <= 0 {
		limit = connections.MaxConnectionsPerChannel
	}
	if count >= limit {
		return apperr.Rejected("connections_per_channel",
			fmt.Sprintf("the channel has reached its limit of %d connections; delete one first", limit))
	}
	now := a.now().Unix()
	conn := connections.Connection{ID: tenancy.NewID("conn"), TenantID: c.tenantID, ChannelID: c.channelID, Name: webhookName,
		URL: u, Triggers: []connections.Trigger{connections.TriggerMessage}, Fields: []string{},
		Secrets: []connections.Secret{{Value: webhook.NewSecret()}}, Source: connections.SourceChatAPI, Enabled: true,
		CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := a.p.ConnectionStore().CreateConnection(r.Context(), conn); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, WebhookSet{Set: true, WebhookURL: u, ConnectionID: conn.ID, Secret: conn.CurrentSecret()})
	return nil
}

// find is the channel's chat-api webhook connection (nil if none) and how
// many connections the channel has.
func (a *API) find(ctx context.Context, c call) (*connections.Connection, int, error) {
	all, err := a.p.ConnectionStore().ListConnections(ctx, c.tenantID)
	if err != nil {
		return nil, 0, err
	}
	var found *connections.Connection
	n := 0
	for i := range all {
		if all[i].ChannelID != c.channelID {
			continue
		}
		n++
		if all[i].Source == connections.SourceChatAPI && found == nil {
			found = &all[i]
		}
	}
	return found, n, nil
}

// checkURL applies the SSRF guard the dispatcher dials with.
func (a *API) checkURL(ctx context.Context, u string) (string, error) {
	dev := a.p.Setting(appenv.AllowLoopbackTargets) == "true"
	err := netguard.Policy{AllowLoopback: dev, RequireHTTPS: !dev}.CheckURL(ctx, u, nil)
	var ascii interface{ ASCIIURL() string }
	if errors.As(err, &ascii) {
		return ascii.ASCIIURL(), nil
	}
	if err != nil {
		return "", apperr.Rejected("webhookUrl", err.Error())
	}
	return u, nil
}
