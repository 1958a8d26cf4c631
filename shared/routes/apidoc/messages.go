package apidoc

import (
	"net/http"

	"github.com/startmsg/chatbackend/shared/messageapi"
	"github.com/startmsg/chatbackend/shared/messages"
)

const messageExample = `{"id":"msg_q2w3e4r5t6y7u2i3","channel_id":"ch_7bq2x9m4k1v8c3n6","contact_id":"123456789012345","direction":"outbound",` +
	`"type":"template","to":"+923244077087","template":{"name":"order_update","language":"en_US","params":["Ana","#1042"]},` +
	`"provider_message_id":"wamid.HBgLOTIzMjQ0MDc3MDg3FQIAERgSNUQ5RkI3QzQxQjY0RjBBQjZGAA==","status":"delivered","attempts":1,` +
	`"created_at":1714560000123,"sent_at":1714560000456,"delivered_at":1714560002000}`

// The Messages API's routes.
func init() {
	Ops["message-send"] = Op{Request: typeOf[messageapi.SendBody](), Response: typeOf[messageapi.Queued](), Wrap: true, Status: http.StatusAccepted,
		Errors:          []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
		RequestExample:  `{"to":"+923244077087","type":"template","template":{"name":"order_update","language":"en_US","params":["Ana","#1042"]}}`,
		ResponseExample: `{"data":{"id":"msg_q2w3e4r5t6y7u2i3","status":"queued"}}`}
	Ops["message-get"] = Op{Response: typeOf[messages.Message](), Wrap: true, ResponseExample: `{"data":` + messageExample + `}`}
	Ops["contact-message-list"] = Op{Response: typeOf[messageapi.Page](), Errors: []int{http.StatusBadRequest},
		Query: []Param{
			{Name: "limit", Schema: obj{"type": "integer", "minimum": 1, "maximum": messageapi.MaxPage, "default": 20}, Description: "Messages per page."},
			{Name: "cursor", Schema: obj{"type": "string"}, Description: "Where the page starts: from the previous page's links.next."},
		},
		ResponseExample: `{"data":[` + messageExample + `],"links":{"next":null}}`}
	Ops["message-list"] = Ops["contact-message-list"]
}
