package wiring

import (
	"context"

	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/templates"
)

// The ports of the automations (shared/automations, shared/automationapi).

// Automations is the automations' definitions store on the data table.
func (e *Env) Automations() *ddbstore.Automations {
	return &ddbstore.Automations{API: e.StoreAPI(), Table: e.DataTable}
}

// AutomationStore is the definitions store as the domain sees it.
func (e *Env) AutomationStore() automations.Store { return e.Automations() }

// AutomationRefs reads what automations name (automations.CheckRefs) from
// the stores: channels, templates, connections and custom fields, all
// settings items of the tenant's partition (TENANT#<t>).
func (e *Env) AutomationRefs() automations.Refs { return automationRefs{e} }

type automationRefs struct{ e *Env }

var _ automations.Refs = automationRefs{}

func (r automationRefs) ChannelKind(ctx context.Context, tenantID, channelID string) (string, error) {
	c, err := r.e.Tenancy().GetChannel(ctx, tenantID, channelID)
	return string(c.Kind), err
}

func (r automationRefs) FindTemplate(ctx context.Context, tenantID, channelID, name, language string) (templates.Template, error) {
	return r.e.Templates().FindTemplate(ctx, tenantID, channelID, name, language)
}

func (r automationRefs) CheckConnection(ctx context.Context, tenantID, connectionID string) error {
	_, err := r.e.Connections().GetConnection(ctx, tenantID, connectionID)
	return err
}

func (r automationRefs) CustomFields(ctx context.Context, tenantID string) ([]contacts.Field, error) {
	return r.e.Contacts().ListFields(ctx, tenantID)
}
