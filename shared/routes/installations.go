package routes

// Leading keys of seed 004's sender installations
// (shared/ddbstore/installations.go; schema.go's layout).
const (
	// Data table.
	KeyInstall     = "INSTALL#*"  // an installation, by UUID
	KeyInstallList = "INSTALLS#*" // GSI1: a channel's installations
	// Operations table.
	KeyInstallQueue = "INSTALLQ#*"  // an installation's queue: one entry per message not yet acked
	KeyInstallState = "INSTALLST#*" // an installation's sequence counter and last pull
	KeyInstallDue   = "DUE#*"       // scheduler due items (a held message's release)
)

// The key scopes of the installations' functions (kept beside Keys, in
// this file, so that the lists merge apart).
func init() {
	release := []string{KeyInstall, KeyMessage}
	for fn, k := range map[string]KeyScope{
		"installation-create":    {Write: []string{KeyInstall}, OpsWrite: rate},
		"installation-list":      {Read: []string{KeyInstallList}, OpsRead: []string{KeyInstallState}, OpsWrite: rate},
		"installation-get":       {Read: []string{KeyInstall}, OpsRead: []string{KeyInstallState}, OpsWrite: rate},
		"installation-update":    {Read: []string{KeyInstall}, Write: []string{KeyInstall}, OpsRead: []string{KeyInstallState}, OpsWrite: rate},
		"installation-hours-get": {Read: settings, OpsWrite: rate},
		"installation-hours-set": {Read: settings, Write: settings, OpsWrite: rate},
		// The pull reads the installation (its secret's hash) and its
		// queue, leases entries, records the pull, and releases a due
		// held message (message and entry) itself.
		"installation-pull": {Read: release, Write: []string{KeyMessage}, OpsRead: []string{KeyInstallQueue}, OpsWrite: []string{KeyInstallQueue, KeyInstallState}},
		// The ack deletes the entry and records the message's status.
		"installation-ack":       {Read: release, Write: []string{KeyMessage}, OpsRead: []string{KeyInstallQueue}, OpsWrite: []string{KeyInstallQueue}},
		"installation-ack-batch": {Read: release, Write: []string{KeyMessage}, OpsRead: []string{KeyInstallQueue}, OpsWrite: []string{KeyInstallQueue}},
		// add_message reads the installation and the channel's hours,
		// takes a sequence number and stores message, entry and release.
		"add-message":         {Read: []string{KeyInstall, KeyTenant}, Write: []string{KeyMessage}, OpsWrite: []string{KeyInstallState, KeyInstallQueue, KeyInstallDue}},
		"webhook-add-message": {Read: []string{KeyInstall, KeyTenant}, Write: []string{KeyMessage}, OpsWrite: []string{KeyInstallState, KeyInstallQueue, KeyInstallDue}},
	} {
		Keys[fn] = k
	}
}

// ReleaseKeys is what the scheduler's ticker needs to run an
// installation's release (installations.ReleaseKind): read the message,
// move it and its queue entry.
var ReleaseKeys = KeyScope{Read: []string{KeyMessage}, Write: []string{KeyMessage}, OpsWrite: []string{KeyInstallQueue}}
