package wiring

import (
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/templates"
)

// The stores of messages and templates, on the tables every function
// shares. The adapters that send, submit or take messages through them
// (the WhatsApp Cloud API, the sender's providers, the chat-api ports) are
// in shared/wiring/messaging, which only the messaging functions import.

// Messages is the message store: messages and provider-id pointers on the
// data table, contacts' last inbound times on the operations table.
func (e *Env) Messages() *ddbstore.Messages {
	return &ddbstore.Messages{API: e.StoreAPI(), Table: e.DataTable, OpsTable: e.OpsTable}
}

// MessageStore is the message store as the domain sees it.
func (e *Env) MessageStore() messages.Store { return e.Messages() }

// Templates is the template registry's store on the data table.
func (e *Env) Templates() *ddbstore.Templates {
	return &ddbstore.Templates{API: e.StoreAPI(), Table: e.DataTable}
}

// TemplateStore is the template store as the domain sees it.
func (e *Env) TemplateStore() templates.Store { return e.Templates() }

// Outbox is the outbox queue's and its DLQ's URLs.
func (e *Env) Outbox() (url, dlq string) {
	return e.Getenv(appenv.OutboxURL), e.Getenv(appenv.OutboxDLQURL)
}
