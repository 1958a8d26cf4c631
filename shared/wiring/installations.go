package wiring

import (
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/installations"
	"github.com/startmsg/chatbackend/shared/scheduler"
)

// The ports of seed 004's sender installations (shared/installapi,
// shared/flowapi).

// Installations is the installations' store: installations and their
// messages on the data table, their queues and state on the operations
// table.
func (e *Env) Installations() *ddbstore.Installations {
	return &ddbstore.Installations{API: e.StoreAPI(), Table: e.DataTable, OpsTable: e.OpsTable}
}

// InstallationStore is the installations' store as the domain sees it.
func (e *Env) InstallationStore() installations.Store { return e.Installations() }

// InstallationRelease is the scheduler's handler of
// installations.ReleaseKind: a held message becomes pullable.
func (e *Env) InstallationRelease() scheduler.Handler {
	return (&installations.Service{Store: e.InstallationStore(), Now: e.Now}).Release
}
