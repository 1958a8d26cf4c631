package wiring

import (
	"context"
	"fmt"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/autorun"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/scheduler"
	"github.com/startmsg/chatbackend/shared/templates"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// The ports of automation runs (shared/autorun): enrollment (the action
// API, triggers), the engine (the scheduler's handler of
// automations.StepKind) and the runs API.

// Runs is the runs' store on the operations table.
func (e *Env) Runs() *ddbstore.Runs { return &ddbstore.Runs{API: e.StoreAPI(), OpsTable: e.OpsTable} }

// RunStore is the runs' store as the domain sees it.
func (e *Env) RunStore() automations.RunStore { return e.Runs() }

// EnrollRefs checks that an automation's references exist before a
// contact is enrolled (automations.CheckRefs on AutomationRefs): a node
// naming a channel, template, connection or field that is gone refuses the
// enrollment, nothing written.
func (e *Env) EnrollRefs() func(context.Context, automations.Automation) error {
	refs := e.AutomationRefs()
	return func(ctx context.Context, a automations.Automation) error { return automations.CheckRefs(ctx, a, refs) }
}

// Enrollment enrolls contacts in automations.
func (e *Env) Enrollment() *autorun.Service {
	return &autorun.Service{Runs: e.RunStore(), Automations: e.AutomationStore(),
		Contacts: &contacts.Service{Store: e.ContactStore(), Phone: e.PhoneParser, Now: e.Now}, Refs: e.EnrollRefs(), Now: e.Now}
}

// AutomationEngine executes runs. It sends messages by storing them
// queued (the messaging pipeline sends them), a template one checked
// against the channel's template registry (its store: approved, the
// parameters it takes).
func (e *Env) AutomationEngine() *autorun.Engine {
	ten := e.Tenancy()
	return &autorun.Engine{
		Runs: e.RunStore(), Automations: e.AutomationStore(),
		Contacts:  &contacts.Service{Store: e.ContactStore(), Phone: e.PhoneParser, Now: e.Now},
		Messages:  e.MessageStore(),
		Channels:  func(ctx context.Context, t, c string) (tenancy.Channel, error) { return ten.GetChannel(ctx, t, c) },
		Templates: registryCheck{&templates.Service{Store: e.TemplateStore(), Now: e.Now}},
		Calls:     autoCaller{e},
		Zone:      time.LoadLocation,
		Now:       e.Now,
		Load:      (&ddbstore.StepReads{API: e.StoreAPI(), Table: e.DataTable, OpsTable: e.OpsTable}).Load,
	}
}

// AutomationStep is the scheduler's handler of automations.StepKind.
func (e *Env) AutomationStep() scheduler.Handler { return e.AutomationEngine().Handle }

// registryCheck is messages.Templates on the registry's rules.
type registryCheck struct{ s *templates.Service }

func (r registryCheck) CheckTemplate(ctx context.Context, tenantID, channelID string, t messages.Template) error {
	_, err := r.s.ResolveSend(ctx, tenantID, channelID, t)
	return err
}

// autoCaller calls a connection for the engine: an AutoCall on the data
// table, whose stream record the trigger router turns into the delivery
// (the dispatcher's road, without an SQS client here).
type autoCaller struct{ e *Env }

func (c autoCaller) CallConnection(ctx context.Context, ct contacts.Contact, connectionID, deliveryID string) error {
	conn, err := c.e.Connections().GetConnection(ctx, ct.TenantID, connectionID)
	if apperr.Is(err, apperr.KindNotFound) {
		return fmt.Errorf("connection %q not found", connectionID)
	}
	if err != nil {
		return err
	}
	if !conn.Enabled {
		return fmt.Errorf("connection %q is switched off", connectionID)
	}
	calls := &ddbstore.AutoCalls{API: c.e.StoreAPI(), Table: c.e.DataTable}
	return calls.PutCall(ctx, ddbstore.AutoCall{ID: deliveryID, TenantID: ct.TenantID, ConnectionID: conn.ID,
		ChannelID: ct.ChannelID, ContactID: ct.ID, CreatedAt: c.e.Now().UnixMilli()})
}
