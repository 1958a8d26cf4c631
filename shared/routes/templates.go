package routes

// Provider marks a function that calls the messaging provider's API (the
// WhatsApp Cloud API: templates, business profile). It grants nothing in
// AWS (the provider is outside it); it tells that the function has an
// effect beyond the tables, so it is never read-only.
const Provider Access = 1 << 20

// The key scopes of the template registry's and seed 002's functions
// (kept beside Keys, in this file, so that the two lists merge apart).
func init() {
	send := KeyScope{Read: contactRead, Write: []string{KeyTenant, KeyContact, KeyMessage}, OpsRead: []string{KeyIdem, KeyWindow, KeyCount}, OpsWrite: []string{KeyIdem, KeyRate, KeyIndex, KeyCount}}
	hook := KeyScope{Read: settings, Write: settings, OpsWrite: rate}
	for fn, k := range map[string]KeyScope{
		// Templates are settings of the tenant (TENANT#<t>, SK TPL#…).
		"template-create": {Read: settings, Write: settings, OpsWrite: rate},
		"template-list":   {Read: settings, OpsWrite: rate},
		"template-get":    {Read: settings, OpsWrite: rate},
		"template-update": {Read: settings, Write: settings, OpsWrite: rate},
		"template-delete": {Read: settings, Write: settings, OpsWrite: rate},
		// A send reads the template, the channel and the contact's window
		// record, and stores the message (its stream record queues it)
		// and, for a number no contact has yet, its contact.
		"chatapi-send-template":          send,
		"chatapi-instance-send-template": send,
		"chatapi-message":                send,
		// The webhook is a connection (TENANT#<t>, SK CONN#…).
		"chatapi-instance-webhook": hook,
		"chatapi-instance-me-get":  {Read: settings, OpsWrite: rate},
		"chatapi-instance-me-set":  {Read: settings, OpsWrite: rate},
		"chatapi-instance-message": send,
		"chatapi-webhook":          hook,
	} {
		Keys[fn] = k
	}
}
