package contactinputapi

// Names for the request and answer types of this package's routes, for the
// OpenAPI document (shared/routes/apidoc).
type (
	// FieldsBody is POST and PUT /v1/contact's body.
	FieldsBody = fieldsBody
	// EventBody is POST /v1/events' body.
	EventBody = eventBody
	// Action is one element of POST /v1/actions' array.
	Action = action
	// ActionResult is one element of POST /v1/actions' answer.
	ActionResult = result
	// MessengerBody is the part of a Messenger webhook call that is read.
	MessengerBody = messengerBody
)

// MessengerAck is the answer to a Messenger webhook call.
type MessengerAck struct {
	Status string `json:"status"`
}

// MessagingEvent is one event of a Messenger webhook call.
type MessagingEvent = messagingEvent
