package routes

// Provider marks a function that calls the messaging provider's API (the
// WhatsApp Cloud API: templates, business profile). It grants nothing in
// AWS (the provider is outside it); it tells that the function has an
// effect beyond the tables, so it is never read-only.
const Provider Access = 1 << 20

// The key scopes shared by seed 002's sends and webhooks (their entries
// are in Keys). A send may also make the contact of a number no contact
// has yet (its search entries and the tenant's contact count).
var (
	sendScope = KeyScope{Read: contactRead, Write: []string{KeyTenant, KeyContact, KeyMessage}, OpsRead: []string{KeyIdem, KeyWindow, KeyCount}, OpsWrite: []string{KeyIdem, KeyRate, KeyIndex, KeyCount}}
	hookScope = KeyScope{Read: settings, Write: settings, OpsWrite: rate}
)
