package routes

// Leading keys of seed 004's sender installations
// (shared/ddbstore/installations.go; schema.go's layout).
const (
	// Data table.
	KeyInstall     = "INSTALL#*"  // an installation, by UUID
	KeyInstallList = "INSTALLS#*" // GSI1: a channel's installations
	// Operations table.
	KeyInstallQueue = "INSTALLQ#*"  // an installation's queue: one entry per message not yet acked
	KeyInstallState = "INSTALLST#*" // an installation's sequence counter, and its last pull
	KeyInstallDue   = "DUE#*"       // scheduler due items (a held message's release)
)

// installRelease: what the pull and the acks read (the installation and
// the message); their entries are in Keys.
var installRelease = []string{KeyInstall, KeyMessage}

// ReleaseKeys is what the scheduler's ticker needs to run an
// installation's release (installations.ReleaseKind): read the message,
// move it and its queue entry.
var ReleaseKeys = KeyScope{Read: []string{KeyMessage}, Write: []string{KeyMessage}, OpsWrite: []string{KeyInstallQueue}}
