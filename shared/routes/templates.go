package routes

// Provider marks a function that calls the messaging provider's API (the
// WhatsApp Cloud API: templates, business profile). It grants nothing in
// AWS (the provider is outside it); it tells that the function has an
// effect beyond the tables, so it is never read-only.
const Provider Access = 1 << 20

// The key scopes shared by seed 002's sends and webhooks (their entries
// are in Keys).
var (
	sendScope = KeyScope{Read: contactRead, Write: []string{KeyTenant, KeyMessage}, OpsRead: []string{KeyIdem, KeyWindow}, OpsWrite: []string{KeyIdem, KeyRate}}
	hookScope = KeyScope{Read: settings, Write: settings, OpsWrite: rate}
)
