package routes

// KeyDue is the scheduler's items on the operations table: due items
// (DUE#<minute>#<shard>), its cursor (DUE#CURSOR) and its dead items
// (DUE#DEAD); shared/scheduler.KeyPrefix. A function that schedules work
// (a held message's release) writes it in its own transaction
// (ddbstore.DueItem) and needs KeyDue in its OpsWrite.
const KeyDue = "DUE#*"

// SchedulerTick is the function that releases due items
// (routes.EventFunctions, Source "schedule").
const SchedulerTick = "scheduler-tick"

// SourceSchedule is the Source of a function invoked every minute.
const SourceSchedule = "schedule"
