package contactapi_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
)

var get = stacktest.Path

func bearer(t stacktest.Tenant) string { return "Bearer " + t.Token }

func fields(kv ...string) map[string]any {
	var cf []map[string]any
	for i := 0; i < len(kv); i += 2 {
		cf = append(cf, map[string]any{"name": kv[i], "value": kv[i+1]})
	}
	return map[string]any{"custom_fields": cf}
}

func mustStatus(t *testing.T, r stacktest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
}

func wantError(t *testing.T, r stacktest.Response, status int, contains string) {
	t.Helper()
	mustStatus(t, r, status)
	if r.JSON["status"] != "error" || !strings.Contains(fmt.Sprint(r.JSON["message"]), contains) {
		t.Fatalf("want an error naming %q: %s", contains, r.Body)
	}
	if d, ok := r.JSON["data"].([]any); !ok || len(d) != 0 {
		t.Fatalf("data must be []: %s", r.Body)
	}
}

// TestSeed001 runs every request example of the Contacts API document, in
// its order, with only the host and token changed.
func TestSeed001(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Bony", "messenger")
	auth := bearer(tn)

	// Crear contacto: POST /v1/contact/ (the document's URL has the slash).
	r := s.Do("POST", "/api/v1/contact/", auth, fields("phone", "03244077087", "firstName", "Muhammad Mahin", "lastName", "Dar"))
	mustStatus(t, r, 200)
	id, _ := get(r.JSON, "data.id").(string)
	if !regexp.MustCompile(`^[1-9][0-9]{14}$`).MatchString(id) || len(r.JSON) != 1 {
		t.Fatalf("create: %s", r.Body)
	}

	// Obtener contacto por ID.
	r = s.Do("GET", "/v1/contact/"+id, auth, nil)
	mustStatus(t, r, 200)
	c := r.JSON["data"].(map[string]any)
	cf := c["custom_fields"].(map[string]any)
	if c["id"] != id || cf["firstName"] != "Muhammad Mahin" || cf["lastName"] != "Dar" || cf["phone"] != "+923244077087" {
		t.Fatalf("get: %s", r.Body)
	}
	if tags, ok := c["tags"].([]any); !ok || len(tags) != 0 {
		t.Fatalf("tags must be []: %s", r.Body)
	}
	if _, ok := c["created_at"].(float64); !ok {
		t.Fatalf("created_at must be unix seconds: %s", r.Body)
	}

	// Actualizar contacto por ID.
	r = s.Do("PUT", "/v1/contact/"+id, auth, fields("firstName", "Mahin", "lastName", "Dar"))
	mustStatus(t, r, 200)
	if get(r.JSON, "data.id") != id {
		t.Fatalf("update: %s", r.Body)
	}

	// Obtener contacto por campo personalizado.
	r = s.Do("GET", "/v1/contact/by_custom_field?name=firstName&value=Mahin", auth, nil)
	mustStatus(t, r, 200)
	data := r.JSON["data"].([]any)
	if len(data) != 1 || get(data[0], "id") != id || get(data[0], "custom_fields.firstName") != "Mahin" {
		t.Fatalf("search: %s", r.Body)
	}
	links, meta := r.JSON["links"].(map[string]any), r.JSON["meta"].(map[string]any)
	for _, k := range []string{"first", "last", "prev", "next"} {
		if _, ok := links[k]; !ok {
			t.Fatalf("links.%s missing: %s", k, r.Body)
		}
	}
	if links["prev"] != nil || links["next"] != nil || !strings.HasSuffix(links["first"].(string), "page=1") {
		t.Fatalf("links: %s", r.Body)
	}
	want := map[string]any{"current_page": 1.0, "from": 1.0, "last_page": 1.0, "per_page": 10.0, "to": 1.0, "total": 1.0}
	for k, v := range want {
		if meta[k] != v {
			t.Fatalf("meta.%s = %v, want %v: %s", k, meta[k], v, r.Body)
		}
	}
	if p, _ := meta["path"].(string); !strings.HasPrefix(p, "http://") || !strings.HasSuffix(p, "/v1/contact/by_custom_field") {
		t.Fatalf("meta.path %q", meta["path"])
	}
	// Case does not matter; a standard field the platform sets is searchable.
	if r := s.Do("GET", "/v1/contact/by_custom_field?name=firstName&value=mahin", auth, nil); get(r.JSON, "meta.total") != 1.0 {
		t.Fatalf("case-insensitive search: %s", r.Body)
	}
	// The phone is found by any spelling of it.
	if r := s.Do("GET", "/v1/contact/by_custom_field?name=phone&value=%2B92%20324%204077087", auth, nil); get(r.JSON, "meta.total") != 1.0 {
		t.Fatalf("phone search: %s", r.Body)
	}

	// Agregar etiqueta / Eliminar etiqueta: the document's bodies verbatim.
	tagBody := `{"tags":["Blog Updates","Platform Updates"]}`
	r = s.Do("POST", "/v1/contact/"+id+"/tags", auth, tagBody)
	mustStatus(t, r, 200)
	if string(r.Body) != `{"status":"success","message":"Contact Tags have been added successfully.","data":[]}` {
		t.Fatalf("add tags: %s", r.Body)
	}
	r = s.Do("GET", "/v1/contact/"+id, auth, nil)
	if tags := get(r.JSON, "data.tags").([]any); len(tags) != 2 || tags[0] != "Blog Updates" {
		t.Fatalf("tags after add: %s", r.Body)
	}
	r = s.Do("DELETE", "/v1/contact/"+id+"/tags", auth, tagBody)
	mustStatus(t, r, 200)
	if string(r.Body) != `{"status":"success","message":"Contact Tags deleted successfully.","data":[]}` {
		t.Fatalf("delete tags: %s", r.Body)
	}

	// Códigos de error.
	r = s.Do("GET", "/v1/contact/"+id, "Bearer not-a-valid-token-000000000000", nil)
	mustStatus(t, r, 401)
	if string(r.Body) != `{"status":"error","message":"API Token is invalid.","data":[]}` {
		t.Fatalf("401: %s", r.Body)
	}
	r = s.Do("PATCH", "/v1/contact/"+id, auth, nil)
	mustStatus(t, r, 405)
	if string(r.Body) != `{"status":"error","message":"405 Method Not Allowed.","data":[]}` {
		t.Fatalf("405: %s", r.Body)
	}
	wantError(t, s.Do("PUT", "/v1/contact/by_custom_field", auth, fields("firstName", "x")), 405, "405 Method Not Allowed.")
}

func TestSearchPagination(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Acme", "whatsapp")
	auth := bearer(tn)
	for i := 0; i < 25; i++ {
		mustStatus(t, s.Do("POST", "/v1/contact", auth, fields("lastName", "Smith", "firstName", fmt.Sprintf("N%02d", i))), 200)
	}
	mustStatus(t, s.Do("POST", "/v1/contact", auth, fields("lastName", "Jones")), 200)
	seen := map[string]bool{}
	for page, n := range []int{10, 10, 5} {
		r := s.Do("GET", fmt.Sprintf("/v1/contact/by_custom_field?name=lastName&value=Smith&page=%d", page+1), auth, nil)
		mustStatus(t, r, 200)
		data := r.JSON["data"].([]any)
		if len(data) != n || get(r.JSON, "meta.total") != 25.0 || get(r.JSON, "meta.last_page") != 3.0 ||
			get(r.JSON, "meta.from") != float64(page*10+1) || get(r.JSON, "meta.to") != float64(page*10+n) {
			t.Fatalf("page %d: %s", page+1, r.Body)
		}
		for _, c := range data {
			id := get(c, "id").(string)
			if seen[id] {
				t.Fatalf("contact %s on two pages", id)
			}
			seen[id] = true
		}
		next := get(r.JSON, "links.next")
		if (page == 2) != (next == nil) {
			t.Fatalf("links.next on page %d: %v", page+1, next)
		}
		if next != nil && !strings.Contains(next.(string), "name=lastName") {
			t.Fatalf("links keep the search: %v", next)
		}
	}
	r := s.Do("GET", "/v1/contact/by_custom_field?name=lastName&value=Nobody", auth, nil)
	mustStatus(t, r, 200)
	if len(r.JSON["data"].([]any)) != 0 || get(r.JSON, "meta.total") != 0.0 || get(r.JSON, "meta.from") != nil {
		t.Fatalf("no matches: %s", r.Body)
	}
	wantError(t, s.Do("GET", "/v1/contact/by_custom_field?name=lastName&value=Smith&page=0", auth, nil), 400, "page")
	wantError(t, s.Do("GET", "/v1/contact/by_custom_field?name=lastName", auth, nil), 400, "value")
	wantError(t, s.Do("GET", "/v1/contact/by_custom_field?name=shoeSize&value=1", auth, nil), 400, "shoeSize")
}

func TestContactFieldsModule(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Acme", "messenger")
	auth := bearer(tn)
	mk := func(body string) stacktest.Response { return s.Do("POST", "/v1/contact_fields", auth, body) }

	r := mk(`{"name":"customerid","type":"number"}`)
	mustStatus(t, r, 201)
	if get(r.JSON, "data.id") != "1" || get(r.JSON, "data.type") != "number" {
		t.Fatalf("create: %s", r.Body)
	}
	mustStatus(t, mk(`{"name":"VIP","type":"boolean"}`), 201)
	mustStatus(t, mk(`{"name":"Size","type":"list","options":["Small","Medium","Large"]}`), 201)
	mustStatus(t, mk(`{"name":"Delivery-Date","type":"date"}`), 201)
	mustStatus(t, mk(`{"name":"Backup phone","type":"phone"}`), 201)
	wantError(t, mk(`{"name":"vip","type":"text"}`), 409, `"vip" already exists`)
	wantError(t, mk(`{"name":"x","type":"colour"}`), 400, "type")
	wantError(t, mk(`{"name":"123","type":"text"}`), 400, "digits")
	wantError(t, mk(`{"name":"firstName","type":"text"}`), 400, "standard field")
	wantError(t, mk(`{"name":"Pick","type":"list"}`), 400, "options")
	wantError(t, mk(`{"name":"Note","type":"text","color":"red"}`), 400, `Unknown field "color"`)

	r = s.Do("GET", "/v1/contact_fields", auth, nil)
	if list := r.JSON["data"].([]any); len(list) != 5 || get(list[4], "id") != "5" {
		t.Fatalf("list: %s", r.Body)
	}

	// Values are checked against the type; fields are named by name or ID.
	r = s.Do("POST", "/v1/contact", auth, fields("1", "42", "VIP", "true", "size", "medium", "Delivery-Date", "2024-01-15", "email", "Ann@Example.COM"))
	mustStatus(t, r, 200)
	id := get(r.JSON, "data.id").(string)
	r = s.Do("GET", "/v1/contact/"+id, auth, nil)
	cf := get(r.JSON, "data.custom_fields").(map[string]any)
	if cf["customerid"] != "42" || cf["VIP"] != "TRUE" || cf["Size"] != "Medium" || cf["Delivery-Date"] != "2024-01-15" || cf["email"] != "Ann@example.com" {
		t.Fatalf("values: %s", r.Body)
	}
	// Booleans are searched with TRUE / FALSE.
	if r := s.Do("GET", "/v1/contact/by_custom_field?name=VIP&value=TRUE", auth, nil); get(r.JSON, "meta.total") != 1.0 {
		t.Fatalf("boolean search: %s", r.Body)
	}
	if r := s.Do("GET", "/v1/contact/by_custom_field?name=VIP&value=FALSE", auth, nil); get(r.JSON, "meta.total") != 0.0 {
		t.Fatalf("boolean search FALSE: %s", r.Body)
	}

	// Rename keeps the ID and the values; the type cannot change.
	r = s.Do("PUT", "/v1/contact_fields/1", auth, `{"name":"Customer ID"}`)
	mustStatus(t, r, 200)
	r = s.Do("GET", "/v1/contact/"+id, auth, nil)
	if cf := get(r.JSON, "data.custom_fields").(map[string]any); cf["Customer ID"] != "42" || cf["customerid"] != nil {
		t.Fatalf("after rename: %s", r.Body)
	}
	wantError(t, s.Do("PUT", "/v1/contact_fields/1", auth, `{"type":"text"}`), 400, "cannot change")
	wantError(t, s.Do("GET", "/v1/contact_fields/99", auth, nil), 404, `Contact field "99" not found.`)
	mustStatus(t, s.Do("DELETE", "/v1/contact_fields/2", auth, nil), 200)
	wantError(t, s.Do("GET", "/v1/contact_fields/2", auth, nil), 404, "not found")
	mustStatus(t, mk(`{"name":"VIP","type":"text"}`), 201) // the name is free again, with a new ID
	if r := s.Do("GET", "/v1/contact_fields", auth, nil); get(r.JSON["data"].([]any)[4], "id") == "2" {
		t.Fatalf("IDs are never reused: %s", r.Body)
	}

	// Another tenant has its own fields.
	other := s.NewTenant("Other", "sms")
	if r := s.Do("GET", "/v1/contact_fields", bearer(other), nil); len(r.JSON["data"].([]any)) != 0 {
		t.Fatalf("fields leak across tenants: %s", r.Body)
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Acme", "messenger")
	auth := bearer(tn)
	mustStatus(t, s.Do("POST", "/v1/contact_fields", auth, `{"name":"Age","type":"number"}`), 201)
	r := s.Do("POST", "/v1/contact", auth, fields("firstName", "Ann", "email", "ann@example.com"))
	id := get(r.JSON, "data.id").(string)

	var many []string
	for i := 0; i < 31; i++ {
		many = append(many, "firstName", "x")
	}
	var tags []string
	for i := 0; i < 11; i++ {
		tags = append(tags, fmt.Sprintf("t%d", i))
	}
	cases := []struct {
		name, method, path string
		body               any
		status             int
		contains           string
	}{
		{"31 fields", "PUT", "/v1/contact/" + id, fields(many...), 400, "at most 30"},
		{"31 fields on create", "POST", "/v1/contact", fields(many...), 400, "at most 30"},
		{"11 tags", "POST", "/v1/contact/" + id + "/tags", map[string]any{"tags": tags}, 400, "at most 10"},
		{"11 tags removed", "DELETE", "/v1/contact/" + id + "/tags", map[string]any{"tags": tags}, 400, "at most 10"},
		{"empty tag", "POST", "/v1/contact/" + id + "/tags", `{"tags":[""]}`, 400, "tags[0]"},
		{"unknown field", "PUT", "/v1/contact/" + id, fields("firstName", "Bob", "shoeSize", "9"), 400, "shoeSize"},
		{"wrong type", "PUT", "/v1/contact/" + id, fields("firstName", "Bob", "Age", "old"), 400, "Age"},
		{"invalid email", "PUT", "/v1/contact/" + id, fields("firstName", "Bob", "email", "not-an-email"), 400, "email"},
		{"invalid phone", "PUT", "/v1/contact/" + id, fields("firstName", "Bob", "phone", "call me maybe"), 400, "phone"},
		{"platform field", "PUT", "/v1/contact/" + id, fields("gender", "male"), 400, "gender"},
		{"field twice", "PUT", "/v1/contact/" + id, fields("firstName", "A", "firstname", "B"), 400, "more than once"},
		{"no fields", "PUT", "/v1/contact/" + id, `{"custom_fields":[]}`, 400, "custom_fields"},
		{"unknown key", "PUT", "/v1/contact/" + id, `{"custom_fields":[{"name":"firstName","value":"x","colour":1}]}`, 400, `"colour"`},
		{"object value", "PUT", "/v1/contact/" + id, `{"custom_fields":[{"name":"firstName","value":{"a":1}}]}`, 400, "firstName"},
		{"malformed", "PUT", "/v1/contact/" + id, `{"custom_fields":[`, 400, "Malformed JSON"},
		{"missing contact", "GET", "/v1/contact/100000000000000", nil, 404, "not found"},
		{"missing contact update", "PUT", "/v1/contact/100000000000000", fields("firstName", "x"), 404, "not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, s.Do(c.method, c.path, auth, c.body), c.status, c.contains)
		})
	}
	r = s.Do("GET", "/v1/contact/"+id, auth, nil)
	cf := get(r.JSON, "data.custom_fields").(map[string]any)
	if len(cf) != 2 || cf["firstName"] != "Ann" || len(get(r.JSON, "data.tags").([]any)) != 0 {
		t.Fatalf("a refused request changed the contact: %s", r.Body)
	}
	if r := s.Do("GET", "/v1/contact/by_custom_field?name=firstName&value=Bob", auth, nil); get(r.JSON, "meta.total") != 0.0 {
		t.Fatalf("a refused request left a search entry: %s", r.Body)
	}
}

func TestIsolationAndViber(t *testing.T) {
	s := stacktest.New(t)
	a := s.NewTenant("A", "messenger")
	b := s.NewTenant("B", "messenger")
	r := s.Do("POST", "/v1/contact", bearer(a), fields("firstName", "Secret"))
	id := get(r.JSON, "data.id").(string)

	// Another tenant's token: 404, no leak, no write.
	wantError(t, s.Do("GET", "/v1/contact/"+id, bearer(b), nil), 404, "not found")
	wantError(t, s.Do("PUT", "/v1/contact/"+id, bearer(b), fields("firstName", "Hacked")), 404, "not found")
	wantError(t, s.Do("POST", "/v1/contact/"+id+"/tags", bearer(b), `{"tags":["x"]}`), 404, "not found")
	wantError(t, s.Do("DELETE", "/v1/contact/"+id, bearer(b), nil), 404, "not found")
	if r := s.Do("GET", "/v1/contact/by_custom_field?name=firstName&value=Secret", bearer(b), nil); get(r.JSON, "meta.total") != 0.0 {
		t.Fatalf("search leaks across tenants: %s", r.Body)
	}
	if r := s.Do("GET", "/v1/contact/"+id, bearer(a), nil); get(r.JSON, "data.custom_fields.firstName") != "Secret" {
		t.Fatalf("B's calls changed A's contact: %s", r.Body)
	}

	// Viber: the contact ID travels Base64-encoded.
	v := s.NewTenant("V", "viber")
	r = s.Do("POST", "/v1/contact", bearer(v), fields("firstName", "Vi"))
	vid := get(r.JSON, "data.id").(string)
	enc := base64.StdEncoding.EncodeToString([]byte(vid))
	if r := s.Do("GET", "/v1/contact/"+enc, bearer(v), nil); r.Status != 200 || get(r.JSON, "data.id") != vid {
		t.Fatalf("viber get: %d %s", r.Status, r.Body)
	}
	mustStatus(t, s.Do("POST", "/v1/contact/"+enc+"/tags", bearer(v), `{"tags":["vip"]}`), 200)
	wantError(t, s.Do("GET", "/v1/contact/%25%25not-base64", bearer(v), nil), 400, "Base64")
	mustStatus(t, s.Do("DELETE", "/v1/contact/"+enc, bearer(v), nil), 200)
	wantError(t, s.Do("GET", "/v1/contact/"+enc, bearer(v), nil), 404, "not found")
}

func TestIdempotentCreate(t *testing.T) {
	s := stacktest.New(t)
	tn := s.NewTenant("Acme", "sms")
	send := func(key, body string) stacktest.Response {
		req, _ := http.NewRequest("POST", s.URL+"/v1/contact", strings.NewReader(body))
		req.Header.Set("Authorization", bearer(tn))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		return s.Send(req)
	}
	body := `{"custom_fields":[{"name":"firstName","value":"Once"}]}`
	first := send("k-1", body)
	mustStatus(t, first, 200)
	again := send("k-1", body)
	if string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %s vs %s", again.Body, first.Body)
	}
	wantError(t, send("k-1", `{"custom_fields":[{"name":"firstName","value":"Twice"}]}`), 422, "Idempotency-Key")
	if r := s.Do("GET", "/v1/contact/by_custom_field?name=firstName&value=Once", bearer(tn), nil); get(r.JSON, "meta.total") != 1.0 {
		t.Fatalf("a replay created another contact: %s", r.Body)
	}
	mustStatus(t, send("k-2", body), 200) // another key is another request
	// A refused request is replayed as refused.
	bad := `{"custom_fields":[{"name":"email","value":"nope"}]}`
	wantError(t, send("k-3", bad), 400, "email")
	wantError(t, send("k-3", bad), 400, "email")
}
