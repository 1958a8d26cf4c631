package eventsapi

import "github.com/startmsg/chatbackend/shared/messenger"

// Names for the request and answer types of this package's routes, for the
// OpenAPI document (shared/routes/apidoc).
type (
	// EventBody is POST /v1/events' body.
	EventBody = eventBody
	// MessengerBody is the part of a Messenger webhook call that is read.
	MessengerBody = messenger.Body
	// MessagingEvent is one event of a Messenger webhook call.
	MessagingEvent = messenger.Event
)

// MessengerAck is the answer to a Messenger webhook call.
type MessengerAck struct {
	Status string `json:"status"`
}
