package actionapi

// Names for the request and answer types of POST /v1/actions, for the
// OpenAPI document (shared/routes/apidoc).
type (
	// Action is one element of POST /v1/actions' array.
	Action = action
	// ActionResult is one element of POST /v1/actions' answer.
	ActionResult = result
)
