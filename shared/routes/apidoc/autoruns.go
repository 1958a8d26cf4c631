package apidoc

import (
	"net/http"

	"github.com/startmsg/chatbackend/shared/runapi"
)

const runExample = `{"id":"run_1714560000123k2m9qa7x","automation_id":"aut_welcome","contact_id":"123456789012345","channel_id":"",` +
	`"status":"active","automation_version":3,"node":"n3","wait_until":1714560060123,"source":"api","steps":[` +
	`{"node":"n1","type":"add_tag","outcome":"ok","attempt":1,"detail":"vip","at":1714560000456},` +
	`{"node":"n2","type":"wait","outcome":"ok","attempt":1,"detail":"until 2024-05-01T10:41:00Z","at":1714560000460}],` +
	`"started_at":1714560000123,"updated_at":1714560000460}`

// The runs API's routes.
func init() {
	runsQuery := []Param{
		{Name: "limit", Schema: obj{"type": "integer", "minimum": 1, "maximum": runapi.MaxPage, "default": runapi.DefaultPage}, Description: "Runs per page."},
		{Name: "cursor", Schema: obj{"type": "string"}, Description: "Where the page starts: from the previous page's links.next."},
	}
	Ops["automation-run-list"] = Op{Response: typeOf[runapi.Page](), Errors: []int{http.StatusBadRequest}, Query: runsQuery,
		ResponseExample: `{"data":[` + runExample + `],"links":{"next":null}}`}
	Ops["contact-run-list"] = Op{Response: typeOf[runapi.Page](), Errors: []int{http.StatusBadRequest}, Query: runsQuery,
		ResponseExample: `{"data":[` + runExample + `],"links":{"next":null}}`}
}
