package httpapi

// Automation IDs: aut_ and 16 base32 characters (tenancy.NewID); the
// samples make run seeds use short names (aut_sample).
func init() {
	PathIDs["automationId"] = IDForm{Valid: prefixedForm("aut_"), NotFound: notFound("Automation")}
}
