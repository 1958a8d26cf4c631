package automations

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/templates"
)

// Refs reads, in a tenant, what an automation's nodes and triggers name:
// shared/wiring implements it on the stores (wiring.Env.AutomationRefs).
// A thing that does not exist, or is another tenant's, is an
// apperr.KindNotFound; any other error is the store's, passed on as it is.
type Refs interface {
	// ChannelKind answers the kind of the tenant's channel channelID
	// (tenancy.ChannelKind as a string: "whatsapp", "sms", "voice",
	// "messenger", "viber").
	ChannelKind(ctx context.Context, tenantID, channelID string) (string, error)
	// FindTemplate reads the template of the channel by name and language.
	FindTemplate(ctx context.Context, tenantID, channelID, name, language string) (templates.Template, error)
	// CheckConnection answers nil if the tenant has the connection.
	CheckConnection(ctx context.Context, tenantID, connectionID string) error
	// CustomFields lists the tenant's custom field definitions.
	CustomFields(ctx context.Context, tenantID string) ([]contacts.Field, error)
}

// CheckRefs checks that what a's nodes and triggers name exists in tenant
// a.TenantID and can do what the node asks, reading through refs (each
// channel, template and the custom fields once):
//
//   - send_message: the channel exists and can send the message (text or
//     template on a WhatsApp channel; text on an SMS channel, at most
//     1,600 characters, or a voice channel, the call's TwiML at most
//     4,000; nothing on Messenger or Viber channels); a template exists on
//     that channel in that language, is APPROVED, and its params fill its
//     body exactly (templates.Template.CheckParams; a template whose
//     header or buttons take parameters cannot be sent by a node);
//   - call_connection: the tenant has the connection;
//   - set_field and condition: a custom field ID is one of the tenant's
//     fields; set_field's value is valid for the field's type (phone
//     fields excepted: a phone is normalised when the node runs);
//   - a trigger's channel exists.
//
// Call it after Validate (it relies on the shape Validate checked) when an
// automation is switched on or saved on, and when a contact is enrolled.
// A reference that fails is an apperr.KindRejected (422) whose message
// names the node and field, "nodes[0] (n1): channel_id
// \"ch_x\" is not a channel of this account."; a store error is returned as
// it is (a 5xx). Only the first failing reference is reported.
func CheckRefs(ctx context.Context, a Automation, refs Refs) error {
	kinds := map[string]string{}
	channelKind := func(id string) (string, error) {
		if k, ok := kinds[id]; ok {
			return k, nil
		}
		k, err := refs.ChannelKind(ctx, a.TenantID, id)
		if err != nil {
			return "", err
		}
		kinds[id] = k
		return k, nil
	}
	var fields []contacts.Field
	fieldsRead := false
	customField := func(id string) (contacts.Field, bool, error) {
		if !fieldsRead {
			fs, err := refs.CustomFields(ctx, a.TenantID)
			if err != nil {
				return contacts.Field{}, false, err
			}
			fields, fieldsRead = fs, true
		}
		for _, f := range fields {
			if f.ID == id {
				return f, true, nil
			}
		}
		return contacts.Field{}, false, nil
	}
	rejected := func(i int, n Node, field, problem string) error {
		return nodeError(apperr.KindRejected, i, n, field, problem)
	}

	for i, n := range a.Nodes {
		switch n.Type {
		case NodeSendMessage:
			kind, err := channelKind(n.ChannelID)
			if apperr.Is(err, apperr.KindNotFound) {
				return rejected(i, n, "channel_id", fmt.Sprintf("%q is not a channel of this account", n.ChannelID))
			}
			if err != nil {
				return err
			}
			if err := checkSendable(i, n, kind); err != nil {
				return err
			}
			if n.Template == nil {
				continue
			}
			t, err := refs.FindTemplate(ctx, a.TenantID, n.ChannelID, n.Template.Name, n.Template.Language)
			if apperr.Is(err, apperr.KindNotFound) {
				return rejected(i, n, "template", fmt.Sprintf("%q (%s) is not a template of channel %s", n.Template.Name, n.Template.Language, n.ChannelID))
			}
			if err != nil {
				return err
			}
			if t.Status != templates.StatusApproved {
				return rejected(i, n, "template", fmt.Sprintf("%q (%s) is %s, not APPROVED: only an approved template can be sent", t.Name, t.Language, t.Status))
			}
			if err := t.CheckParams("template.params", n.Template.Params); err != nil {
				if e, ok := apperr.As(err); ok && e.Field != "" {
					return rejected(i, n, e.Field, e.Problem)
				}
				return err
			}
		case NodeCallConnection:
			err := refs.CheckConnection(ctx, a.TenantID, n.ConnectionID)
			if apperr.Is(err, apperr.KindNotFound) {
				return rejected(i, n, "connection_id", fmt.Sprintf("%q is not a connection of this account", n.ConnectionID))
			}
			if err != nil {
				return err
			}
		case NodeSetField, NodeCondition:
			var typ contacts.FieldType
			var options []string
			if IsCustomFieldID(n.Field) {
				f, ok, err := customField(n.Field)
				if err != nil {
					return err
				}
				if !ok {
					return rejected(i, n, "field", fmt.Sprintf("%s is not a custom field of this account", n.Field))
				}
				typ, options = f.Type, f.Options
			} else {
				std, _ := contacts.StandardByName(n.Field)
				typ = std.Type
			}
			if n.Type == NodeSetField && typ != contacts.Phone {
				raw, _ := json.Marshal(n.Value)
				if _, err := contacts.Canonical("value", typ, options, raw, nil, ""); err != nil {
					if e, ok := apperr.As(err); ok && e.Problem != "" {
						return rejected(i, n, "value", e.Problem)
					}
					return rejected(i, n, "value", fmt.Sprintf("is not a valid %s value", typ))
				}
			}
		}
	}
	for i, t := range a.Triggers {
		if t.ChannelID == "" {
			continue
		}
		_, err := channelKind(t.ChannelID)
		if apperr.Is(err, apperr.KindNotFound) {
			return apperr.Rejected(fmt.Sprintf("triggers[%d].channel_id", i), fmt.Sprintf("%q is not a channel of this account", t.ChannelID))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkSendable refuses a send_message node whose channel, of kind kind,
// cannot send its message.
func checkSendable(i int, n Node, kind string) error {
	switch kind {
	case "whatsapp":
		return nil
	case "sms", "voice":
		if n.Template != nil {
			return nodeError(apperr.KindRejected, i, n, "template", fmt.Sprintf("cannot be sent on %s channel %s: it sends text only", kind, n.ChannelID))
		}
		if err := messages.CheckPhoneText(kind, "text", n.Text); err != nil {
			if e, ok := apperr.As(err); ok && e.Problem != "" {
				return nodeError(apperr.KindRejected, i, n, "text", e.Problem)
			}
			return err
		}
		return nil
	}
	return nodeError(apperr.KindRejected, i, n, "channel_id",
		fmt.Sprintf("%s is a %s channel: messages are sent on whatsapp, sms and voice channels", n.ChannelID, kind))
}
