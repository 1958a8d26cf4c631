package routes

// Leading keys of automation runs (shared/ddbstore/runs.go, autocalls.go;
// schema.go's layout).
const (
	// Operations table.
	KeyRuns    = "RUNC#*" // a contact's runs and their active-run guards
	KeyRunList = "RUNS#*" // GSI1: an automation's runs, in shards
	// Data table.
	KeyAutoCall = "AUTOCALL#*" // an automation's call of a connection, for the trigger router
)

// RunKeys is what the scheduler's ticker needs to advance a run
// (automations.StepKind): read the automation, the channel, templates and
// fields (settings), read and change the contact (its search entries
// move with it), store a queued message, read the contact's window
// record, read and write the run and its next due item, and write a
// connection's call.
var RunKeys = KeyScope{
	Read: []string{KeyTenant, KeyContact}, Write: []string{KeyContact, KeyMessage, KeyAutoCall},
	OpsRead: []string{KeyRuns, KeyWindow}, OpsWrite: []string{KeyRuns, KeyIndex, KeyDue},
}
