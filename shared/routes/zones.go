package routes

// ZoneReaders are the functions that load a schedule's IANA time zone
// (shared/hours): they validate allowed hours (installation create and
// update, the channel's hours) or apply them to a new message (both
// add_message forms), or apply a contact's time zone (scheduler-tick: an
// automation's wait until a time of day). Lambda's provided.al2023 has no zone database, and
// embedding Go's (time/tzdata) costs a bootstrap 450 KB: instead `make
// build` puts Go's lib/time/zoneinfo.zip beside these functions' bootstrap
// (ZoneInfoFile) and the CDK app sets ZoneInfoEnv to ZoneInfoPath for them,
// where Go's time package reads it.
var ZoneReaders = []string{"installation-create", "installation-update", "installation-hours-set", "add-message", "webhook-add-message", SchedulerTick}

const (
	// ZoneInfoFile is the zone database's file in a function's asset.
	ZoneInfoFile = "zoneinfo.zip"
	// ZoneInfoEnv names the zone database to Go's time package.
	ZoneInfoEnv = "ZONEINFO"
	// ZoneInfoPath is ZoneInfoFile where Lambda unpacks the asset.
	ZoneInfoPath = "/var/task/" + ZoneInfoFile
)
