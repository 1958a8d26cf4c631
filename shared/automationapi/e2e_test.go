package automationapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/limits"
	"github.com/startmsg/chatbackend/shared/templates"
)

func TestMain(m *testing.M) { emulators.Main(m) }

var get = stacktest.Path

func wantStatus(t *testing.T, r stacktest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %d %s, want %d", r.Status, r.Body, status)
	}
}

func wantError(t *testing.T, r stacktest.Response, status int, msg string) {
	t.Helper()
	if r.Status != status || get(r.JSON, "status") != "error" || get(r.JSON, "message") != msg {
		t.Fatalf("got %d %s\nwant %d %q", r.Status, r.Body, status, msg)
	}
}

// account is a tenant with a WhatsApp channel (an APPROVED template
// with one body parameter and a PENDING one), an SMS channel, a
// connection and a custom field.
type account struct {
	stacktest.Tenant
	auth, sms, conn, field string
}

func newAccount(t *testing.T, s *stacktest.Stack, name string) account {
	t.Helper()
	a := account{Tenant: s.NewTenant(name, "whatsapp")}
	a.auth = a.Secret
	r := s.Admin("POST", "/admin/tenants/"+a.ID+"/channels", map[string]any{"kind": "sms", "name": name + " sms", "default_country": "PK"})
	wantStatus(t, r, http.StatusCreated)
	a.sms = get(r.JSON, "data.id").(string)
	for _, tpl := range []templates.Template{
		{ID: "tpl_welcome", Name: "welcome", Language: "en", Status: templates.StatusApproved, BodyParams: 1},
		{ID: "tpl_pending", Name: "pending", Language: "en", Status: templates.StatusPending},
	} {
		tpl.TenantID, tpl.ChannelID, tpl.Category, tpl.Version = a.ID, a.ChannelID, "MARKETING", 1
		tpl.Components = []templates.Component{{Type: "BODY", Text: strings.Repeat("Hello {{1}}", tpl.BodyParams) + "!"}}
		if err := s.Deps.Templates().CreateTemplate(t.Context(), tpl); err != nil {
			t.Fatal(err)
		}
	}
	token := "Bearer " + a.Token
	r = s.Do("POST", "/v1/connections", token, map[string]any{"name": "CRM", "url": "http://127.0.0.1:9/hook", "triggers": []string{"email"}})
	wantStatus(t, r, http.StatusCreated)
	a.conn = get(r.JSON, "data.id").(string)
	r = s.Do("POST", "/v1/contact_fields", token, map[string]any{"name": "Size", "type": "number"})
	wantStatus(t, r, http.StatusCreated)
	a.field = get(r.JSON, "data.id").(string)
	return a
}

// welcome is an automation that names every kind of reference.
func (a account) welcome(on bool) map[string]any {
	return map[string]any{"name": "Welcome", "on": on, "nodes": []map[string]any{
		{"type": "send_message", "channel_id": a.ChannelID, "template": map[string]any{"name": "welcome", "language": "en", "params": []string{"Ana"}}},
		{"type": "wait", "seconds": 60},
		{"type": "add_tag", "tag": "welcomed"},
		{"id": "size", "type": "condition", "field": a.field, "op": "is_set", "then": "crm", "else": "sms"},
		{"id": "sms", "type": "send_message", "channel_id": a.sms, "text": "What is your size?"},
		{"id": "crm", "type": "call_connection", "connection_id": a.conn},
		{"type": "set_field", "field": a.field, "value": "42"},
	}, "triggers": []map[string]any{{"field": "email"}, {"field": "phone", "channel_id": a.ChannelID}}}
}

// TestAutomationsAPI: /v1/automations through the local gateway on the
// emulators, every answer checked against the OpenAPI document.
func TestAutomationsAPI(t *testing.T) {
	s := stacktest.New(t)
	a := newAccount(t, s, "Acme")

	r := s.Do("POST", "/v1/automations", a.auth, a.welcome(false))
	wantStatus(t, r, http.StatusCreated)
	id, _ := get(r.JSON, "data.id").(string)
	if !strings.HasPrefix(id, "aut_") || get(r.JSON, "data.on") != false || get(r.JSON, "data.version") != 1.0 ||
		len(get(r.JSON, "data.nodes").([]any)) != 7 {
		t.Fatalf("create: %s", r.Body)
	}
	nodes := get(r.JSON, "data.nodes").([]any)
	if nodes[0].(map[string]any)["id"] != "n1" || nodes[3].(map[string]any)["id"] != "size" || nodes[6].(map[string]any)["id"] != "n7" {
		t.Fatalf("node IDs: %s", r.Body)
	}

	r = s.Do("GET", "/v1/automations/"+id, a.auth, nil)
	if r.Status != 200 || get(r.JSON, "data.name") != "Welcome" || get(r.JSON, "data.triggers") == nil {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	r = s.Do("GET", "/v1/automations", a.auth, nil)
	if r.Status != 200 || len(get(r.JSON, "data").([]any)) != 1 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}

	// Replace on the version read; a stale version is a 409 and changes nothing.
	body := a.welcome(false)
	body["name"], body["version"] = "Welcome v2", 1
	r = s.Do("PUT", "/v1/automations/"+id, a.auth, body)
	if r.Status != 200 || get(r.JSON, "data.version") != 2.0 || get(r.JSON, "data.name") != "Welcome v2" {
		t.Fatalf("replace: %d %s", r.Status, r.Body)
	}
	body["name"] = "Lost update"
	wantError(t, s.Do("PUT", "/v1/automations/"+id, a.auth, body), http.StatusConflict,
		"Automation "+id+" is at version 2, not 1: it was changed since you read it. Read it again and retry.")
	if r := s.Do("GET", "/v1/automations/"+id, a.auth, nil); get(r.JSON, "data.name") != "Welcome v2" {
		t.Fatalf("after a stale replace: %s", r.Body)
	}
	delete(body, "version")
	delete(body, "on")
	body["name"] = "Welcome v3"
	r = s.Do("PUT", "/v1/automations/"+id, a.auth, body)
	if r.Status != 200 || get(r.JSON, "data.version") != 3.0 || get(r.JSON, "data.on") != false {
		t.Fatalf("replace without a version: %d %s", r.Status, r.Body)
	}

	// The switch: on checks the references; off does not.
	r = s.Do("PATCH", "/v1/automations/"+id, a.auth, `{"on":true}`)
	if r.Status != 200 || get(r.JSON, "data.on") != true || get(r.JSON, "data.version") != 4.0 {
		t.Fatalf("switch on: %d %s", r.Status, r.Body)
	}
	r = s.Do("PATCH", "/v1/automations/"+id, a.auth, `{"on":false}`)
	if r.Status != 200 || get(r.JSON, "data.on") != false {
		t.Fatalf("switch off: %d %s", r.Status, r.Body)
	}
	wantError(t, s.Do("PATCH", "/v1/automations/"+id, a.auth, `{}`), 400, "on: is required: true switches the automation on, false off.")
	wantError(t, s.Do("PATCH", "/v1/automations/"+id, a.auth, `{"on":true,"name":"x"}`), 400, `Unknown field "name".`)
	// A replace that leaves the switch out keeps it on, and checks again.
	wantStatus(t, s.Do("PATCH", "/v1/automations/"+id, a.auth, `{"on":true}`), 200)
	broken := a.welcome(true)
	delete(broken, "on")
	broken["nodes"].([]map[string]any)[5]["connection_id"] = "conn_gone"
	wantError(t, s.Do("PUT", "/v1/automations/"+id, a.auth, broken), 422, `nodes[5] (crm): connection_id "conn_gone" is not a connection of this account.`)
	broken["on"] = false // saved off, it may name what is gone
	r = s.Do("PUT", "/v1/automations/"+id, a.auth, broken)
	if r.Status != 200 || get(r.JSON, "data.on") != false {
		t.Fatalf("replace, off, with a missing connection: %d %s", r.Status, r.Body)
	}
	wantError(t, s.Do("PATCH", "/v1/automations/"+id, a.auth, `{"on":true}`), 422, `nodes[5] (crm): connection_id "conn_gone" is not a connection of this account.`)
	if r := s.Do("GET", "/v1/automations/"+id, a.auth, nil); get(r.JSON, "data.on") != false || get(r.JSON, "data.version") != 7.0 {
		t.Fatalf("after a refused switch: %s", r.Body)
	}

	// Another tenant's secret sees nothing of it; a channel token is the
	// wrong credential.
	b := s.NewTenant("Other", "whatsapp")
	for _, c := range []struct {
		method string
		body   any
	}{{"GET", nil}, {"PUT", a.welcome(false)}, {"PATCH", `{"on":false}`}, {"DELETE", nil}} {
		wantError(t, s.Do(c.method, "/v1/automations/"+id, b.Secret, c.body), 404, `Automation "`+id+`" not found.`)
	}
	if r := s.Do("GET", "/v1/automations", b.Secret, nil); r.Status != 200 || len(get(r.JSON, "data").([]any)) != 0 {
		t.Fatalf("the other tenant's list: %d %s", r.Status, r.Body)
	}
	wantStatus(t, s.Do("GET", "/v1/automations", "Bearer "+a.Token, nil), 403)
	wantError(t, s.Do("GET", "/v1/automations/nope", a.auth, nil), 404, `Automation "nope" not found.`)
	wantError(t, s.Do("GET", "/v1/automations/aut_"+strings.Repeat("x", 65), a.auth, nil), 404, `Automation "aut_`+strings.Repeat("x", 65)+`" not found.`)

	wantStatus(t, s.Do("DELETE", "/v1/automations/"+id, a.auth, nil), 200)
	wantError(t, s.Do("GET", "/v1/automations/"+id, a.auth, nil), 404, `Automation "`+id+`" not found.`)
	wantError(t, s.Do("DELETE", "/v1/automations/"+id, a.auth, nil), 404, `Automation "`+id+`" not found.`)
	wantError(t, s.Do("PATCH", "/v1/automations/"+id, a.auth, `{"on":true}`), 404, `Automation "`+id+`" not found.`)

	// A draft: no nodes, stored (enrolling in it is refused), even on.
	r = s.Do("POST", "/v1/automations", a.auth, `{"name":"Draft","on":true}`)
	if r.Status != 201 || len(get(r.JSON, "data.nodes").([]any)) != 0 || get(r.JSON, "data.on") != true {
		t.Fatalf("draft: %d %s", r.Status, r.Body)
	}
}

// TestAutomationsBadInput: bad shapes are 400s naming the node and field,
// references that are missing or cannot do what the node asks are 422s,
// and nothing is stored for either.
func TestAutomationsBadInput(t *testing.T) {
	s := stacktest.New(t)
	a := newAccount(t, s, "Acme")
	node := func(i int, k string, v any) map[string]any {
		b := a.welcome(true)
		b["nodes"].([]map[string]any)[i][k] = v
		return b
	}
	tpl := func(name string, params ...string) map[string]any {
		return node(0, "template", map[string]any{"name": name, "language": "en", "params": params})
	}
	for _, c := range []struct {
		body   any
		status int
		msg    string
	}{
		{`null`, 400, "Request body is null; a JSON body is required."},
		{`{"name":"x","nodes":[{"type":"wait","seconds":1,"colour":"red"}]}`, 400, `Unknown field "colour".`},
		{`{"name":"x","nodes":[{"type":"wait","seconds":1.5}]}`, 400, ""},
		{`{"name":"","nodes":[]}`, 400, "name: is required."},
		{`{"name":"x","version":3}`, 400, "version: is given by the service: send it on a replace (PUT) only."},
		{node(0, "template", map[string]any{"language": "en"}), 400, "nodes[0] (n1): template.name is required."},
		{node(1, "seconds", 0), 400, `nodes[1] (n2): seconds or until is required (a duration, or a time of day "HH:MM").`},
		{node(3, "then", "nowhere"), 400, `nodes[3] (size): then names node "nowhere", which this automation does not have.`},
		{node(2, "text", "hi"), 400, "nodes[2] (n3): text is not a field of a add_tag node (it takes tag)."},
		{node(0, "channel_id", "ch_missing"), 422, `nodes[0] (n1): channel_id "ch_missing" is not a channel of this account.`},
		{tpl("pending"), 422, `nodes[0] (n1): template "pending" (en) is PENDING, not APPROVED: only an approved template can be sent.`},
		{tpl("nope", "Ana"), 422, `nodes[0] (n1): template "nope" (en) is not a template of channel ` + a.ChannelID + `.`},
		{tpl("welcome"), 422, `nodes[0] (n1): template.params template "welcome" (en) takes 1 body parameter, got 0.`},
		{tpl("welcome", "Ana", "Ben"), 422, `nodes[0] (n1): template.params template "welcome" (en) takes 1 body parameter, got 2.`},
		{node(0, "channel_id", a.sms), 422, "nodes[0] (n1): template cannot be sent on sms channel " + a.sms + ": it sends text only."},
		{node(4, "text", strings.Repeat("x", 1601)), 422, "nodes[4] (sms): text is 1601 characters long; an SMS takes at most 1600."},
		{node(6, "field", "9999"), 422, "nodes[6] (n7): field 9999 is not a custom field of this account."},
		{node(6, "value", "large"), 422, `nodes[6] (n7): value must be a number, not "large".`},
	} {
		r := s.Do("POST", "/v1/automations", a.auth, c.body)
		if r.Status != c.status || get(r.JSON, "status") != "error" || (c.msg != "" && get(r.JSON, "message") != c.msg) {
			t.Errorf("%v:\ngot %d %s\nwant %d %q", c.body, r.Status, r.Body, c.status, c.msg)
		}
	}
	if r := s.Do("GET", "/v1/automations", a.auth, nil); len(get(r.JSON, "data").([]any)) != 0 {
		t.Fatalf("refused creates stored something: %s", r.Body)
	}
	// The same automation off is stored whatever it names.
	r := s.Do("POST", "/v1/automations", a.auth, tpl("pending"))
	wantStatus(t, r, 422)
	off := tpl("pending")
	off["on"] = false
	wantStatus(t, s.Do("POST", "/v1/automations", a.auth, off), 201)
}

// TestAutomationsIdempotencyAndLimit: a create repeated with its
// Idempotency-Key gets the first answer; concurrent creates stop exactly
// at automations_per_tenant (422 naming it), and a delete makes room.
func TestAutomationsIdempotencyAndLimit(t *testing.T) {
	s := stacktest.NewWith(t, stacktest.Options{Vars: map[string]string{limits.EnvAutomationsPerTenant: "3"}})
	a := s.NewTenant("Acme", "whatsapp")
	body := `{"name":"Tagger","nodes":[{"type":"add_tag","tag":"vip"}]}`
	post := func(key string) stacktest.Response {
		req, err := http.NewRequest("POST", s.URL+"/v1/automations", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", a.Secret)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		return s.Send(req)
	}
	first := post("create-tagger")
	wantStatus(t, first, 201)
	again := post("create-tagger")
	if again.Status != 201 || string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s %v", again.Status, again.Body, again.Header)
	}
	if r := s.Do("GET", "/v1/me", "Bearer "+a.Token, nil); get(r.JSON, "data.limits.automations_per_tenant") != 3.0 {
		t.Fatalf("/v1/me: %s", r.Body)
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	created, refused := 0, 0
	for i := range 8 {
		wg.Go(func() {
			r := post(fmt.Sprintf("race-%d", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Status == 201:
				created++
			case r.Status == 422 && get(r.JSON, "message") == "automations_per_tenant: the account has reached its limit of 3 automations; delete one first.":
				refused++
			default:
				t.Errorf("create: %d %s", r.Status, r.Body)
			}
		})
	}
	wg.Wait()
	if created != 2 || refused != 6 {
		t.Fatalf("created %d, refused %d; want 2 and 6 (the limit is 3, one made before)", created, refused)
	}
	r := s.Do("GET", "/v1/automations", a.Secret, nil)
	list := get(r.JSON, "data").([]any)
	if len(list) != 3 {
		t.Fatalf("list: %s", r.Body)
	}
	wantStatus(t, s.Do("DELETE", "/v1/automations/"+list[0].(map[string]any)["id"].(string), a.Secret, nil), 200)
	wantStatus(t, post(""), 201)
}
