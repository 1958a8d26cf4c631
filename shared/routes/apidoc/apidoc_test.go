package apidoc

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/routes/contract"
)

var update = flag.Bool("update", false, "rewrite shared/routes/openapi.json")

const docPath = "../openapi.json"

func TestOpenAPIMatchesTable(t *testing.T) {
	want, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(docPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(routes.Document, want) {
		t.Fatal("shared/routes/openapi.json differs from the route table and the handlers' types: run `make openapi`")
	}
}

// TestDocumentIsValidOpenAPI31 validates the document against the OpenAPI
// 3.1 schema and builds its model (every $ref resolves).
func TestDocumentIsValidOpenAPI31(t *testing.T) {
	doc, err := libopenapi.NewDocument(routes.Document)
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Fatalf("version %q", v)
	}
	if _, err := doc.BuildV3Model(); err != nil {
		t.Fatalf("build model: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("%s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s at %s (line %d)", se.Reason, se.KeywordLocation, se.Line)
			}
		}
	}
}

// schemaPointers lists every schema of the document: the components and
// each operation's request, response and parameter schemas.
func schemaPointers(t *testing.T, doc map[string]any) []string {
	var out []string
	comps := doc["components"].(map[string]any)
	for name := range comps["schemas"].(map[string]any) {
		out = append(out, "/components/schemas/"+contract.Pointer(name))
	}
	for name, r := range comps["responses"].(map[string]any) {
		for mt := range r.(map[string]any)["content"].(map[string]any) {
			out = append(out, "/components/responses/"+name+"/content/"+contract.Pointer(mt)+"/schema")
		}
	}
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			base := "/paths/" + contract.Pointer(path) + "/" + method
			o := op.(map[string]any)
			if rb, ok := o["requestBody"].(map[string]any); ok {
				for mt := range rb["content"].(map[string]any) {
					out = append(out, base+"/requestBody/content/"+contract.Pointer(mt)+"/schema")
				}
			}
			for status, r := range o["responses"].(map[string]any) {
				for mt := range mapOf(r.(map[string]any)["content"]) {
					out = append(out, base+"/responses/"+status+"/content/"+contract.Pointer(mt)+"/schema")
				}
			}
			for i, p := range sliceOf(o["parameters"]) {
				if _, ok := p.(map[string]any)["schema"]; ok {
					out = append(out, base+"/parameters/"+itoa(i)+"/schema")
				}
			}
		}
	}
	sort.Strings(out)
	if len(out) < 50 {
		t.Fatalf("only %d schemas found", len(out))
	}
	return out
}

func mapOf(v any) map[string]any { m, _ := v.(map[string]any); return m }
func sliceOf(v any) []any        { s, _ := v.([]any); return s }
func itoa(i int) string          { b, _ := json.Marshal(i); return string(b) }

// TestSchemasAreJSONSchema2020 compiles every schema of the document as
// JSON Schema 2020-12 (checked against the meta-schema), and checks every
// example against the schema beside it.
func TestSchemasAreJSONSchema2020(t *testing.T) {
	c, err := contract.Load(routes.Document)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(routes.Document, &doc); err != nil {
		t.Fatal(err)
	}
	examples := 0
	for _, ptr := range schemaPointers(t, doc) {
		if _, err := c.Schema(ptr); err != nil {
			t.Errorf("%s: %v", ptr, err)
			continue
		}
		media := lookup(doc, strings.TrimSuffix(ptr, "/schema"))
		if ex, ok := mapOf(media)["example"]; ok {
			examples++
			if err := c.Valid(ptr, ex); err != nil {
				t.Errorf("the example at %s does not match its schema: %v", ptr, err)
			}
		}
	}
	if examples < len(routes.Table) {
		t.Errorf("%d examples for %d routes", examples, len(routes.Table))
	}
}

func lookup(doc map[string]any, ptr string) any {
	var v any = doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			var i int
			_ = json.Unmarshal([]byte(tok), &i)
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// TestEveryRouteIsDescribed: each operation has a success answer with a
// schema, the security of its route's auth, and the errors it can give.
func TestEveryRouteIsDescribed(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(routes.Document, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range routes.Table {
		op := mapOf(lookup(doc, "/paths/"+contract.Pointer(r.Path)+"/"+strings.ToLower(r.Method)))
		if op == nil {
			t.Errorf("%s %s: no operation", r.Method, r.Path)
			continue
		}
		resps := mapOf(op["responses"])
		var success []string
		for s := range resps {
			if s[0] == '2' {
				success = append(success, s)
			}
		}
		if len(success) != 1 {
			t.Errorf("%s: success statuses %v", r.Function, success)
		}
		sec := sliceOf(op["security"])
		if (r.Auth == routes.AuthNone) != (len(sec) == 0) {
			t.Errorf("%s: auth %s, security %v", r.Function, r.Auth, sec)
		}
		if r.Auth != routes.AuthNone {
			for _, s := range []string{"401", "403"} {
				if resps[s] == nil {
					t.Errorf("%s: no %s", r.Function, s)
				}
			}
		}
		if r.Body && resps["400"] == nil {
			t.Errorf("%s: takes a body but declares no 400", r.Function)
		}
	}
	for fn, want := range map[string]string{"connection-replay": "202", "delivery-dead-redrive": "202", "admin-tenant-create": "201", "contact-create": "200"} {
		r, _ := routes.ByFunction(fn)
		if lookup(doc, "/paths/"+contract.Pointer(r.Path)+"/"+strings.ToLower(r.Method)+"/responses/"+want) == nil {
			t.Errorf("%s: no %s answer", fn, want)
		}
	}
	if typ := lookup(doc, "/paths/~1v1~1hooks~1sample/get/responses/200/content/application~1json/schema/type"); typ != "array" {
		t.Errorf("/v1/hooks/sample answers an array, the document says %v", typ)
	}
}
