package routes

// Leading-key patterns: the partition keys (or, for a GSI1 query, the
// GSI1PK values) of the items a function may touch, in the syntax of IAM's
// StringLike: a trailing "*" matches any rest, anything else matches
// exactly. They are the prefixes of shared/ddbstore/schema.go (a test of
// accesstest checks that they agree).
const (
	// Data table.
	KeyTenant  = "TENANT#*"  // a tenant's settings: tenant, channels, tokens, fields, connections, dead deliveries
	KeyTenants = "TENANTS"   // the tenants listing (admin)
	KeyCred    = "CRED#*"    // credential lookups by hash (authorizer, and where credentials are issued)
	KeyContact = "CONTACT#*" // a contact ID per partition: one item per channel that holds it (SK CONTACT#<channel>)
	KeyDead    = "DEAD#*"    // GSI1: a tenant's dead deliveries, by time
	KeyInbox   = "INBOX#*"   // stored Messenger webhook calls, for messenger-intake
	KeyMessage = "MSG#*"     // a message per partition (MSG#<t>#<id>)
	KeyMsgList = "MSGS#*"    // GSI1: a contact's messages on a channel, by time
	KeyChanMsg = "CHMSGS#*"  // GSI2: a channel's messages, by time
	KeyMsgRef  = "PMSG#*"    // a provider's id of a message → the message (status callbacks; operations table now, read here for pointers kept before)
	// Operations table.
	KeyIndex   = "IDX#*"   // search entries (and their GSI1, tenant-wide)
	KeyRate    = "RL#*"    // rate-limit counters
	KeyIdem    = "IDEM#*"  // idempotency records
	KeyAttempt = "CONN#*"  // delivery attempts of a connection
	KeyWebhook = "WH#*"    // GSI1: the attempts of one delivery (replay), as written before they were keyed by delivery
	KeyOnce    = "ONCE#*"  // marks of Messenger events already recorded
	KeyWindow  = "WIN#*"   // a contact's last inbound message per channel (the 24-hour window)
	KeyClaim   = "CLAIM#*" // the sender's claim of a message (token, lease)
)

// KeyScope is what one function may touch, per table and per kind of
// access: the CDK app turns each non-empty list into one IAM statement with
// a dynamodb:LeadingKeys condition (ForAllValues:StringLike), and the access
// audit (shared/routes/accesstest) fails a test whose call names a key
// outside them. Reads are GetItem, BatchGetItem, Query (also on GSI1, by its
// partition key) and a transaction's ConditionCheck; writes are PutItem,
// UpdateItem, DeleteItem and BatchWriteItem. Nothing may Scan.
type KeyScope struct {
	Read, Write       []string // data table
	OpsRead, OpsWrite []string // operations table
}

// scope shorthands.
var (
	rate        = []string{KeyRate}
	settings    = []string{KeyTenant}
	contactRead = []string{KeyTenant, KeyContact}
	contactOnly = []string{KeyContact}
)

// Keys is every function's KeyScope, by function name. A function without
// table access has no entry.
var Keys = map[string]KeyScope{
	"me": {Read: settings, OpsWrite: rate},

	"contact-create":      {Read: contactRead, Write: contactOnly, OpsRead: []string{KeyIdem, KeyCount}, OpsWrite: []string{KeyIndex, KeyIdem, KeyRate, KeyCount}},
	"contact-search":      {Read: contactRead, OpsRead: []string{KeyIndex}, OpsWrite: rate},
	"contact-get":         {Read: contactRead, OpsWrite: rate},
	"contact-update":      {Read: contactRead, Write: contactOnly, OpsWrite: []string{KeyIndex, KeyRate}},
	"contact-delete":      {Read: contactRead, Write: contactOnly, OpsRead: []string{KeyCount}, OpsWrite: []string{KeyIndex, KeyRate, KeyCount}},
	"contact-tags-add":    {Read: contactRead, Write: contactOnly, OpsWrite: rate},
	"contact-tags-remove": {Read: contactRead, Write: contactOnly, OpsWrite: rate},

	"contact-field-list":   {Read: settings, OpsWrite: rate},
	"contact-field-create": {Read: settings, Write: settings, OpsWrite: rate},
	"contact-field-get":    {Read: settings, OpsWrite: rate},
	"contact-field-update": {Read: settings, Write: settings, OpsWrite: rate},
	"contact-field-delete": {Read: settings, Write: settings, OpsWrite: rate},

	// actions: the contact actions; SMS and CALL store their message
	// (MSG#, queued) on the channel they read from the settings; an
	// enrollment ({idContact, idAuto}) reads the automation (settings) and
	// writes the run, its guard and its first due item.
	"actions": {Read: contactRead, Write: []string{KeyContact, KeyMessage}, OpsRead: []string{KeyIndex, KeyIdem, KeyCount}, OpsWrite: []string{KeyIndex, KeyIdem, KeyRate, KeyCount, KeyRuns, KeyDue}},

	// The runs API reads the automation or the contact, then its runs.
	"automation-run-list": {Read: settings, OpsRead: []string{KeyRuns, KeyRunList}, OpsWrite: rate},
	"contact-run-list":    {Read: contactRead, OpsRead: []string{KeyRuns}, OpsWrite: rate},

	// Automations are settings of the tenant (TENANT#<t>, SK AUTO#… and
	// the limit's guard); so is what their nodes name (channels,
	// templates, connections, custom fields), read when one is on.
	"automation-create": {Read: settings, Write: settings, OpsRead: []string{KeyIdem}, OpsWrite: []string{KeyIdem, KeyRate}},
	"automation-list":   {Read: settings, OpsWrite: rate},
	"automation-get":    {Read: settings, OpsWrite: rate},
	"automation-update": {Read: settings, Write: settings, OpsWrite: rate},
	"automation-switch": {Read: settings, Write: settings, OpsWrite: rate},
	"automation-delete": {Read: settings, Write: settings, OpsWrite: rate},

	"connection-create":        {Read: settings, Write: settings, OpsWrite: rate},
	"connection-list":          {Read: settings, OpsWrite: rate},
	"connection-get":           {Read: settings, OpsWrite: rate},
	"connection-update":        {Read: settings, Write: settings, OpsWrite: rate},
	"connection-delete":        {Read: settings, Write: settings, OpsWrite: rate},
	"connection-secret-rotate": {Read: settings, Write: settings, OpsWrite: rate},
	"connection-activity":      {Read: settings, OpsRead: []string{KeyAttempt}, OpsWrite: rate},
	"connection-test":          {Read: settings, Write: settings, OpsWrite: []string{KeyAttempt, KeyRate}},
	"connection-replay":        {Read: settings, Write: settings, OpsRead: []string{KeyWebhook, KeyAttempt}, OpsWrite: rate},
	"delivery-dead-list":       {Read: []string{KeyTenant, KeyDead}, OpsWrite: rate},
	"delivery-dead-redrive":    {Read: settings, Write: settings, OpsWrite: rate},
	"events-collect":           {Read: contactRead, Write: contactOnly, OpsRead: []string{KeyCount}, OpsWrite: []string{KeyIndex, KeyRate, KeyCount}},

	// Public: reads the channel it is called for (its verify token and app
	// secret); the receiver writes contacts and their search entries only.
	"messenger-verify":  {Read: settings},
	"messenger-receive": {Read: settings, Write: []string{KeyInbox}},

	"hook-subscribe":   {Read: settings, Write: settings, OpsWrite: rate},
	"hook-unsubscribe": {Read: settings, Write: settings, OpsWrite: rate},
	"hook-sample":      {Read: contactRead, OpsRead: []string{KeyRecent}, OpsWrite: rate},

	"admin-tenant-create":  {Read: settings, Write: []string{KeyTenant, KeyTenants, KeyCred}},
	"admin-tenant-get":     {Read: settings},
	"admin-secret-rotate":  {Read: settings, Write: []string{KeyTenant, KeyCred}},
	"admin-channel-create": {Read: settings, Write: []string{KeyTenant, KeyInstance, KeyInstanceSeq}},
	"admin-channel-list":   {Read: settings},
	"admin-token-create":   {Read: settings, Write: []string{KeyTenant, KeyCred}},
	"admin-token-list":     {Read: settings},
	"admin-token-revoke":   {Read: settings, Write: []string{KeyTenant, KeyCred}},

	// The authorizer reads credentials and nothing else: no contact, no
	// settings item.
	Authorizer: {Read: []string{KeyCred}},
	// The trigger router also reads the contact of an automation's call
	// and enrolls contacts in the automations their triggers start (the
	// run, its guard, its first due item).
	"trigger-router": {Read: contactRead, OpsWrite: []string{KeyRuns, KeyDue, KeyRecent}},
	"dispatcher":     {Read: settings, Write: settings, OpsWrite: []string{KeyAttempt}},
	// messenger-intake records the events of stored Messenger calls: contact
	// writes with their search entries and a mark per event, in one
	// transaction.
	"messenger-intake": {Read: contactRead, Write: contactOnly, OpsRead: []string{KeyCount}, OpsWrite: []string{KeyIndex, KeyOnce, KeyCount}},

	// whatsapp: the public webhook reads only the lookups by verify token,
	// phone number id and WABA id (not any tenant's settings) and writes
	// only its inbox; the intake writes contacts and reads and writes the
	// marks of the messages it recorded, stores inbound messages, moves
	// outbound ones' statuses and templates' (settings), keeps a status
	// that comes before its message's sent write on the pointer's key, and
	// opens windows.
	"whatsapp-verify":  {Read: []string{KeyWAVerify}},
	"whatsapp-receive": {Read: []string{KeyWAPhone, KeyWABA}, Write: []string{KeyWAInbox}},
	"whatsapp-intake":  {Read: []string{KeyTenant, KeyContact, KeyMessage, KeyMsgRef}, Write: []string{KeyTenant, KeyContact, KeyMessage}, OpsRead: []string{KeyCount, KeyWAMark, KeyMsgRef}, OpsWrite: []string{KeyIndex, KeyCount, KeyWAMark, KeyWindow, KeyMsgRef}},
	// admin-twilio-set: the channel's Twilio info and its credentials
	// item, both under the tenant (CHANNEL#<c>#TWILIO).
	"admin-twilio-set":   {Read: []string{KeyTenant}, Write: []string{KeyTenant}},
	"admin-whatsapp-set": {Read: []string{KeyTenant}, Write: []string{KeyTenant, KeyWAPhone, KeyWABA, KeyWAVerify, KeyInstance, KeyInstanceSeq}},
	// Twilio's status callbacks read the channel's Twilio credentials
	// (settings) and move the message by its SID: the pointer (operations
	// table; data table for pointers kept before), the message, and an
	// early status kept on the pointer's key when the callback comes
	// before the sender's sent write.
	"twilio-status": {Read: []string{KeyTenant, KeyMessage, KeyMsgRef}, Write: []string{KeyMessage}, OpsRead: []string{KeyMsgRef}, OpsWrite: []string{KeyMsgRef}},
	// Messages. message-send reads the contact it is given and the
	// contact's window record, stores the message and its idempotency
	// record (settings: for the channel's template registry); a send to a
	// number no contact has yet makes its contact (with its search
	// entries and the tenant's contact count).
	"message-send":         {Read: []string{KeyTenant, KeyContact}, Write: []string{KeyContact, KeyMessage}, OpsRead: []string{KeyIdem, KeyWindow, KeyCount}, OpsWrite: []string{KeyIdem, KeyRate, KeyIndex, KeyCount}},
	"message-get":          {Read: []string{KeyMessage}, OpsWrite: rate},
	"contact-message-list": {Read: []string{KeyMsgList}, OpsWrite: rate},
	"message-list":         {Read: []string{KeyChanMsg}, OpsWrite: rate},
	// The sender reads and updates messages, reads the channel's provider
	// credentials, and (operations table) reads and writes its claims of
	// messages and the pointer from the provider's id. A status the
	// provider reported before the sent write waits on the pointer's key
	// (the intake writes it, the sender reads it).
	"sender": {Read: []string{KeyTenant, KeyMessage}, Write: []string{KeyMessage}, OpsRead: []string{KeyClaim, KeyMsgRef}, OpsWrite: []string{KeyClaim, KeyMsgRef}},
	// scheduler: the ticker reads and moves the due items, its cursor and
	// its dead items (DUE#…). A handler registered for a kind
	// (wiring.DueHandlers) adds the keys its work touches here.
	// An installation's release (ReleaseKeys) reads and moves the held
	// message and its queue entry.
	// A run's step (RunKeys) reads and writes the run, its contact and
	// its message.
	SchedulerTick: {Read: append(ReleaseKeys.Read, RunKeys.Read...), Write: append(ReleaseKeys.Write, RunKeys.Write...), OpsRead: append([]string{KeyDue}, RunKeys.OpsRead...),
		OpsWrite: append(append([]string{KeyDue}, ReleaseKeys.OpsWrite...), RunKeys.OpsWrite...)},

	// The template registry and seed 002's chat-api routes. Templates are
	// settings of the tenant (TENANT#<t>, SK TPL#…).
	"template-create": {Read: settings, Write: settings, OpsWrite: rate},
	"template-list":   {Read: settings, OpsWrite: rate},
	"template-get":    {Read: settings, OpsWrite: rate},
	"template-update": {Read: settings, Write: settings, OpsWrite: rate},
	"template-delete": {Read: settings, Write: settings, OpsWrite: rate},
	// A send reads the template, the channel and the contact's window
	// record, and stores the message (its stream record queues it).
	"chatapi-send-template":          sendScope,
	"chatapi-instance-send-template": sendScope,
	"chatapi-message":                sendScope,
	// The webhook is a connection (TENANT#<t>, SK CONN#…).
	"chatapi-instance-webhook": hookScope,
	"chatapi-instance-me-get":  {Read: settings, OpsWrite: rate},
	"chatapi-instance-me-set":  {Read: settings, OpsWrite: rate},
	"chatapi-instance-message": sendScope,
	"chatapi-webhook":          hookScope,

	// Seed 004's sender installations (installations.go).
	"installation-create":    {Write: []string{KeyInstall}, OpsWrite: rate},
	"installation-list":      {Read: []string{KeyInstallList}, OpsRead: []string{KeyInstallState}, OpsWrite: rate},
	"installation-get":       {Read: []string{KeyInstall}, OpsRead: []string{KeyInstallState}, OpsWrite: rate},
	"installation-update":    {Read: []string{KeyInstall}, Write: []string{KeyInstall}, OpsRead: []string{KeyInstallState}, OpsWrite: rate},
	"installation-hours-get": {Read: settings, OpsWrite: rate},
	"installation-hours-set": {Read: settings, Write: settings, OpsWrite: rate},
	// The pull reads the installation (its secret's hash), its
	// sequence counter and its queue, leases entries, records the pull, and releases a due
	// held message (message and entry) itself.
	"installation-pull": {Read: installRelease, Write: []string{KeyMessage}, OpsRead: []string{KeyInstallQueue, KeyInstallState}, OpsWrite: []string{KeyInstallQueue, KeyInstallState}},
	// The ack deletes the entry and records the message's status.
	"installation-ack":       {Read: installRelease, Write: []string{KeyMessage}, OpsRead: []string{KeyInstallQueue}, OpsWrite: []string{KeyInstallQueue}},
	"installation-ack-batch": {Read: installRelease, Write: []string{KeyMessage}, OpsRead: []string{KeyInstallQueue}, OpsWrite: []string{KeyInstallQueue}},
	// add_message reads the installation, the channel's hours and the
	// sequence counter, and stores the next number with message, entry
	// and release.
	"add-message":         {Read: []string{KeyInstall, KeyTenant}, Write: []string{KeyMessage}, OpsRead: []string{KeyInstallState}, OpsWrite: []string{KeyInstallState, KeyInstallQueue, KeyInstallDue}},
	"webhook-add-message": {Read: []string{KeyInstall, KeyTenant}, Write: []string{KeyMessage}, OpsRead: []string{KeyInstallState}, OpsWrite: []string{KeyInstallState, KeyInstallQueue, KeyInstallDue}},
}

// Keys is a map literal and nothing adds to it at init (no func init
// writes it): the functions never read it (it is the CDK app's and the
// tests'), and a write at init would make every function link and build it
// at its cold start (TestKeysNotBuiltAtInit). Add a function's scope above.
