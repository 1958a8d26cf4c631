package events

import (
	"context"
	"fmt"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// The connections the connector samples name, all on SampleChannel: the
// one they read, edit, rotate and replay (SampleConnection, with a logged
// attempt SampleAttempt), one the delete sample deletes, a Zapier hook the
// unsubscribe sample removes, and two dead deliveries on SampleConnection
// (one listed, one the redrive sample queues again). Their URL is a
// literal public address (no DNS lookup at a check) that no sample sends
// to, and they fire on birthdays only, so the stream samples' email
// triggers reach none of them.
const (
	SampleConnection     = "conn_samplecrm"
	SampleConnectionURL  = "https://93.184.215.14/hooks/crm"
	SampleAttempt        = "msg_sampleattempt"
	SampleDead           = "msg_sampledead"
	sampleConnDelete     = "conn_sampledelete"
	sampleHook           = "conn_samplehook"
	sampleDeadRedrive    = "msg_sampleredrive"
	sampleConnSecret     = "whsec_c2FtcGxlIGNvbm5lY3Rpb24gc2VjcmV0IGtleQ=="
	sampleConnCreatedAt  = 1795000000
	sampleAttemptPayload = `{"psid":"100000000000042","first_name":"Mahin"}`
)

// seedConnections writes the connector samples' connections, attempt and
// dead deliveries where they are missing.
func seedConnections(ctx context.Context, d *wiring.Env) error {
	store := d.Connections()
	conns := []connections.Connection{
		{ID: SampleConnection, Name: "Sample CRM", Source: connections.SourceAPI},
		{ID: sampleConnDelete, Name: "Sample CRM to delete", Source: connections.SourceAPI},
		{ID: sampleHook, Name: "Zapier: birthday", Source: connections.SourceZapier},
	}
	for _, c := range conns {
		c.TenantID, c.ChannelID, c.URL, c.Enabled = SampleTenant, SampleChannel, SampleConnectionURL, true
		c.Triggers, c.Fields = []connections.Trigger{connections.TriggerBirthday}, []string{}
		c.Secrets = []connections.Secret{{Value: sampleConnSecret}}
		c.CreatedAt, c.UpdatedAt, c.Version = sampleConnCreatedAt, sampleConnCreatedAt, 1
		if _, err := store.GetConnection(ctx, SampleTenant, c.ID); apperr.Is(err, apperr.KindNotFound) {
			if err := store.CreateConnection(ctx, c); err != nil && !apperr.Is(err, apperr.KindExists) {
				return fmt.Errorf("seed sample connection %s: %w", c.ID, err)
			}
		} else if err != nil {
			return err
		}
	}
	if _, err := store.FindAttempt(ctx, SampleTenant, SampleConnection, SampleAttempt); apperr.Is(err, apperr.KindNotFound) {
		// Logged now: attempts are kept 7 days.
		at := connections.Attempt{Time: d.Now().UnixMilli(), WebhookID: SampleAttempt, Attempt: 1, Outcome: connections.OutcomeSuccess,
			HTTPCode: 200, DurationMS: 42, Trigger: connections.TriggerBirthday, RequestBody: sampleAttemptPayload, ResponseBody: "ok", Final: true}
		if err := store.AddAttempt(ctx, SampleTenant, SampleConnection, at); err != nil {
			return fmt.Errorf("seed sample attempt: %w", err)
		}
	} else if err != nil {
		return err
	}
	for _, id := range []string{SampleDead, sampleDeadRedrive} {
		if _, err := store.GetDead(ctx, SampleTenant, id); apperr.Is(err, apperr.KindNotFound) {
			last := connections.Attempt{Time: sampleConnCreatedAt * 1000, WebhookID: id, Attempt: 8, Outcome: connections.OutcomeHTTP,
				HTTPCode: 500, Trigger: connections.TriggerBirthday, RequestBody: sampleAttemptPayload, ResponseBody: "down", Final: true}
			dead := connections.Dead{Delivery: connections.Delivery{ID: id, TenantID: SampleTenant, ConnectionID: SampleConnection,
				Trigger: connections.TriggerBirthday, Payload: []byte(sampleAttemptPayload), CreatedAt: sampleConnCreatedAt}, LastAttempt: last, DiedAt: sampleConnCreatedAt}
			if err := store.AddDead(ctx, dead); err != nil {
				return fmt.Errorf("seed sample dead delivery %s: %w", id, err)
			}
		} else if err != nil {
			return err
		}
	}
	return nil
}
