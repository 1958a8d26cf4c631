package automations

import (
	"context"

	"github.com/startmsg/chatbackend/shared/scheduler"
)

// StepKind is the scheduler's kind of a run's next step (the engine's
// handler, shared/autorun).
const StepKind = "automation.step"

// Source of a run enrolled by the API; a trigger's is TriggerSource(field).
const SourceAPI = "api"

// TriggerSource is the Source of a run a connector trigger enrolled.
func TriggerSource(field string) string { return "trigger:" + field }

// RunPage is one page of runs, newest first; Next is "" on the last page.
type RunPage struct {
	Runs []Run
	Next string
}

// RunStore keeps runs (ddbstore.Runs). Errors are apperr kinds.
type RunStore interface {
	// StartRun writes a new run, the guard that marks the contact's run of
	// the automation active, and first (the run's first due item) in one
	// transaction. An apperr.KindExists when the guard is there: the
	// contact has an active run of the automation (nothing is written).
	StartRun(ctx context.Context, r Run, first scheduler.Due) error
	// GetRun reads a run (strongly consistent; apperr.KindNotFound).
	GetRun(ctx context.Context, tenantID, channelID, contactID, runID string) (Run, error)
	// SaveRun replaces prev by next (next.Seq must be prev.Seq+1) if the
	// stored run is still prev (its Seq) and active, and in the same
	// transaction schedules due (nil: none), deletes done (the due item
	// being released, which this write consumes; nil: none) and, when
	// next has ended, removes the active guard. An apperr.KindConflict
	// when the stored run is not prev any more (another release moved it
	// on): nothing is written.
	SaveRun(ctx context.Context, prev, next Run, due, done *scheduler.Due) error
	// ContactRuns lists a contact's runs (every automation), newest first,
	// from cursor ("" for the first page).
	ContactRuns(ctx context.Context, tenantID, channelID, contactID string, limit int, cursor string) (RunPage, error)
	// AutomationRuns lists an automation's runs, newest first, from cursor.
	AutomationRuns(ctx context.Context, tenantID, automationID string, limit int, cursor string) (RunPage, error)
}
