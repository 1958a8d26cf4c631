package stacktest

import (
	"net/http"
	"strings"

	"github.com/startmsg/chatbackend/shared/routes/contract"
)

// checkContract fails the test when an answer is not what the OpenAPI
// document (shared/routes/openapi.json) says the route answers: a status
// it does not declare, or a body that does not match the declared schema.
// Every request a test sends through Do or Send is checked.
func (s *Stack) checkContract(req *http.Request, res Response) {
	s.T.Helper()
	c, err := contract.Default()
	if err != nil {
		s.T.Fatalf("load the OpenAPI document: %v", err)
	}
	if !strings.HasPrefix(req.URL.String(), s.URL) {
		return // not this stack's API (a webhook receiver, say)
	}
	if err := c.Check(req.Method, req.URL.Path, res.Status, res.Header, res.Body); err != nil {
		s.T.Errorf("OpenAPI contract: %v", err)
	}
}
