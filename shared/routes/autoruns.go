package routes

// Leading keys of automation runs (shared/ddbstore/runs.go; schema.go's
// layout), on the operations table.
const (
	KeyRuns    = "RUNC#*" // a contact's runs and their active-run guards
	KeyRunList = "RUNS#*" // GSI1: an automation's runs, in shards
)

// RunKeys is what the scheduler's ticker needs to advance a run
// (automations.StepKind): read the automation, the channel, templates and
// fields (settings), read and change the contact (its search entries
// move with it), store a queued message, read the contact's window
// record, and read and write the run and its next due item.
var RunKeys = KeyScope{
	Read: []string{KeyTenant, KeyContact}, Write: []string{KeyContact, KeyMessage},
	OpsRead: []string{KeyRuns, KeyWindow}, OpsWrite: []string{KeyRuns, KeyIndex, KeyDue},
}
