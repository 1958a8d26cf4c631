// Package contract checks HTTP answers against the OpenAPI document
// (routes.Document): the integration tests check every answer they receive
// with it (infra/local/stacktest), so the document cannot drift from what
// the code does. Tests only: no function binary imports it.
package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/startmsg/chatbackend/shared/routes"
)

const docURL = "urn:chatbackend:openapi.json"

// Contract is a loaded document.
type Contract struct {
	doc   map[string]any
	mu    sync.Mutex
	c     *jsonschema.Compiler
	cache map[string]*jsonschema.Schema
}

// Load reads an OpenAPI document.
func Load(doc []byte) (*Contract, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document is not a JSON object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, v); err != nil {
		return nil, err
	}
	return &Contract{doc: m, c: c, cache: map[string]*jsonschema.Schema{}}, nil
}

var (
	defaultOnce sync.Once
	defaultC    *Contract
	defaultErr  error
)

// Default is the checked-in document, loaded once.
func Default() (*Contract, error) {
	defaultOnce.Do(func() { defaultC, defaultErr = Load(routes.Document) })
	return defaultC, defaultErr
}

// Pointer escapes one JSON pointer token.
func Pointer(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// Schema compiles the schema at a JSON pointer of the document
// ("/components/schemas/Error").
func (c *Contract) Schema(ptr string) (*jsonschema.Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.cache[ptr]; ok {
		return s, nil
	}
	s, err := c.c.Compile(docURL + "#" + ptr)
	if err != nil {
		return nil, err
	}
	c.cache[ptr] = s
	return s, nil
}

// Match finds the route of a request path (the /api base path allowed):
// the route with method, or ok false with known true when the path exists
// with other methods only.
func Match(method, path string) (r routes.Route, ok, known bool) {
	path = strings.TrimPrefix(path, "/api")
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/") // the gateway takes a trailing slash
	}
	segs := strings.Split(path, "/")
	best := -1
	for _, rt := range routes.Table {
		ts := strings.Split(rt.Path, "/")
		if len(ts) != len(segs) {
			continue
		}
		lit, match := 0, true
		for i, t := range ts {
			if strings.HasPrefix(t, "{") {
				if segs[i] == "" {
					match = false
					break
				}
				continue
			}
			if t != segs[i] {
				match = false
				break
			}
			lit++
		}
		if !match {
			continue
		}
		known = true
		// A literal segment wins over a parameter (/v1/hooks/sample
		// over /v1/hooks/{hookId}), as in API Gateway.
		if rt.Method == method && lit > best {
			r, ok, best = rt, true, lit
		}
	}
	if ok {
		// A literal route with another method shadows a parameter route
		// with this one: API Gateway picks the resource first.
		for _, rt := range routes.Table {
			if rt.Method != method && sameShape(rt.Path, path) && literals(rt.Path) > best {
				return routes.Route{}, false, true
			}
		}
	}
	return r, ok, known
}

func literals(tpl string) int {
	n := 0
	for _, t := range strings.Split(tpl, "/") {
		if !strings.HasPrefix(t, "{") {
			n++
		}
	}
	return n
}

func sameShape(tpl, path string) bool {
	ts, ps := strings.Split(tpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i, t := range ts {
		if !strings.HasPrefix(t, "{") && t != ps[i] {
			return false
		}
	}
	return true
}

// Check returns what is wrong with an answer to method path, or nil: its
// status must be one the operation declares, and its body must match that
// response's schema. An unknown path must answer 404 and a known path with
// another method 405, both in the error envelope.
func (c *Contract) Check(method, path string, status int, header http.Header, body []byte) error {
	r, ok, known := Match(method, path)
	if !ok {
		want := http.StatusNotFound
		if known {
			want = http.StatusMethodNotAllowed
		}
		if status != want {
			return fmt.Errorf("%s %s: answered %d; a path the document does not have with this method must answer %d", method, path, status, want)
		}
		return c.checkJSON(method, path, "/components/schemas/Error", header, body)
	}
	op, _ := c.at("paths", r.Path, strings.ToLower(r.Method)).(map[string]any)
	if op == nil {
		return fmt.Errorf("%s %s: the document has no operation %s %s", method, path, r.Method, r.Path)
	}
	resps, _ := op["responses"].(map[string]any)
	resp, _ := resps[strconv.Itoa(status)].(map[string]any)
	if resp == nil {
		return fmt.Errorf("%s %s (%s): answered %d, which the document does not declare: %.300s", method, path, r.Function, status, body)
	}
	base := "/paths/" + Pointer(r.Path) + "/" + strings.ToLower(r.Method) + "/responses/" + strconv.Itoa(status)
	if ref, ok := resp["$ref"].(string); ok {
		base = strings.TrimPrefix(ref, "#")
		resp, _ = c.at(strings.Split(strings.TrimPrefix(base, "/"), "/")...).(map[string]any)
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		if len(body) != 0 {
			return fmt.Errorf("%s %s: %d declares no body, got %.200s", method, path, status, body)
		}
		return nil
	}
	mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	if _, ok := content[mt]; !ok {
		return fmt.Errorf("%s %s: %d answered Content-Type %q; the document declares %v", method, path, status, header.Get("Content-Type"), keys(content))
	}
	if mt != "application/json" {
		return nil
	}
	return c.checkJSON(method, path, base+"/content/application~1json/schema", header, body)
}

func (c *Contract) checkJSON(method, path, ptr string, header http.Header, body []byte) error {
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("%s %s: Content-Type %q, want application/json", method, path, header.Get("Content-Type"))
	}
	s, err := c.Schema(ptr)
	if err != nil {
		return fmt.Errorf("%s %s: compile %s: %w", method, path, ptr, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: the body is not JSON: %v: %.200s", method, path, err, body)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("%s %s: the answer does not match the document's %s: %v\nbody: %.600s", method, path, ptr, err, body)
	}
	return nil
}

func (c *Contract) at(path ...string) any {
	var v any = c.doc
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[unescape(k)]
	}
	return v
}

func unescape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Valid reports whether v (any JSON value) matches the schema at ptr.
func (c *Contract) Valid(ptr string, v any) error {
	s, err := c.Schema(ptr)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	jv, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return s.Validate(jv)
}
