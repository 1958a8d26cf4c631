package templateapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/templates"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

var get = stacktest.Path

func wantError(t *testing.T, r stacktest.Response, status int, msg string) {
	t.Helper()
	if r.Status != status || get(r.JSON, "status") != "error" || get(r.JSON, "message") != msg {
		t.Fatalf("got %d %s, want %d %q", r.Status, r.Body, status, msg)
	}
}

const seedTemplate = `{"name":"template_name","namespace":"namespace_of_template","language":"en","category":"MARKETING",` +
	`"components":[{"type":"HEADER","format":"TEXT","text":"Acme"},{"type":"BODY","text":"Hello {{1}}, we have news for you."` +
	`,"example":{"body_text":[["Andrew"]]}},{"type":"FOOTER","text":"Reply STOP to opt out"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop"}]}]}`

// TestTemplatesAPI: /v1/templates through the local gateway on the
// emulators, every answer checked against the OpenAPI document.
func TestTemplatesAPI(t *testing.T) {
	s := stacktest.New(t)
	wa := s.NewTenant("Acme", "whatsapp")
	auth := "Bearer " + wa.Token
	r := s.Do("POST", "/v1/templates", auth, seedTemplate)
	if r.Status != http.StatusCreated || get(r.JSON, "data.status") != "PENDING" || get(r.JSON, "data.body_params") != 1.0 ||
		get(r.JSON, "data.namespace") != "namespace_of_template" || get(r.JSON, "data.channel_id") != wa.ChannelID {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := get(r.JSON, "data.id").(string)
	wantError(t, s.Do("POST", "/v1/templates", auth, seedTemplate), 409, `A template named "template_name" in language "en" already exists on this channel.`)
	wantError(t, s.Do("POST", "/v1/templates", auth, `{"name":"Bad Name","language":"en","category":"UTILITY","components":[{"type":"BODY","text":"x"}]}`), 400,
		`name: may hold only lowercase letters, digits and underscores ("B" is not one).`)
	wantError(t, s.Do("POST", "/v1/templates", auth, `{"name":"gap","language":"en","category":"UTILITY","components":[{"type":"BODY","text":"{{1}} {{3}}"}]}`), 400,
		`components[0].text: parameters must be numbered from {{1}} without gaps: {{2}} is missing.`)
	wantError(t, s.Do("POST", "/v1/templates", auth, `{"name":"x","language":"en","category":"UTILITY","components":[{"type":"BODY","text":"x","color":"red"}]}`), 400,
		`Unknown field "color".`)
	wantError(t, s.Do("POST", "/v1/templates", auth, `{"name":"x"}`), 400, `language: is required.`)

	r = s.Do("GET", "/v1/templates/"+id, auth, nil)
	if r.Status != 200 || get(r.JSON, "data.name") != "template_name" {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	wantError(t, s.Do("GET", "/v1/templates/tpl_nope", auth, nil), 404, `Template "tpl_nope" not found.`)
	wantError(t, s.Do("GET", "/v1/templates/nope", auth, nil), 404, `Template "nope" not found.`)
	wantError(t, s.Do("GET", "/v1/templates?status=LIVE", auth, nil), 400, `status: must be one of PENDING, APPROVED, REJECTED, PAUSED, DISABLED, not "LIVE".`)
	if r := s.Do("GET", "/v1/templates?status=approved", auth, nil); r.Status != 200 || len(get(r.JSON, "data").([]any)) != 0 {
		t.Fatalf("approved: %d %s", r.Status, r.Body)
	}
	wantError(t, s.Do("PUT", "/v1/templates/"+id, auth, `{"components":[{"type":"BODY","text":"Hi"}]}`), 422,
		"status: the template is PENDING review and can be edited once it is APPROVED, REJECTED or PAUSED.")

	// The provider's status webhook approves it (the port its handler calls).
	if err := messaging.Of(s.Deps).TemplateRegistry().SetStatus(t.Context(), wa.ID, wa.ChannelID, "template_name", "en", templates.StatusApproved, ""); err != nil {
		t.Fatal(err)
	}
	r = s.Do("GET", "/v1/templates?status=APPROVED", auth, nil)
	if r.Status != 200 || len(get(r.JSON, "data").([]any)) != 1 {
		t.Fatalf("approved list: %d %s", r.Status, r.Body)
	}
	wantError(t, s.Do("PUT", "/v1/templates/"+id, auth, `{"category":"UTILITY"}`), 422, "category: an APPROVED template keeps its category (MARKETING).")
	r = s.Do("PUT", "/v1/templates/"+id, auth, `{"components":[{"type":"BODY","text":"Hello {{1}}, news: {{2}}."}]}`)
	if r.Status != 200 || get(r.JSON, "data.status") != "PENDING" || get(r.JSON, "data.body_params") != 2.0 {
		t.Fatalf("edit: %d %s", r.Status, r.Body)
	}
	wantError(t, s.Do("PUT", "/v1/templates/"+id, auth, `{}`), 400, "Request body must set at least one of namespace, category, components.")

	// Another channel's token does not see it; a Messenger token has no templates.
	other := s.NewTenant("Other", "whatsapp")
	wantError(t, s.Do("GET", "/v1/templates/"+id, "Bearer "+other.Token, nil), 404, `Template "`+id+`" not found.`)
	if r := s.Do("GET", "/v1/templates", "Bearer "+other.Token, nil); r.Status != 200 || len(get(r.JSON, "data").([]any)) != 0 {
		t.Fatalf("other's list: %d %s", r.Status, r.Body)
	}
	ms := s.NewTenant("Page", "messenger")
	wantError(t, s.Do("GET", "/v1/templates", "Bearer "+ms.Token, nil), 403, "Message templates are WhatsApp's: this token's channel is a messenger channel.")

	r = s.Do("DELETE", "/v1/templates/"+id, auth, nil)
	if r.Status != 200 || get(r.JSON, "message") != "Template deleted successfully." {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	wantError(t, s.Do("DELETE", "/v1/templates/"+id, auth, nil), 404, `Template "`+id+`" not found.`)
	if r := s.Do("GET", "/v1/templates", auth, nil); r.Status != 200 || strings.Contains(string(r.Body), id) {
		t.Fatalf("after delete: %s", r.Body)
	}
}
