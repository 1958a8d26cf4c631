package routes

// KeyRecent is the operations table's recent payloads of each trigger per
// channel (RECENT#<t>#<c>#<trigger>): the trigger router writes them,
// GET /v1/hooks/sample (Zapier's perform list) reads them.
const KeyRecent = "RECENT#*"
