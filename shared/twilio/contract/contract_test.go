package contract_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/shared/twilio"
)

// SpecPath is Twilio's description, as `make deps` installs it.
const SpecPath = "node_modules/@twilio/cli-core/src/services/twilio-api/twilio_api_v2010.json"

const (
	messagesPath = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
	callsPath    = "/2010-04-01/Accounts/{AccountSid}/Calls.json"
	sid          = "AC0123456789abcdef0123456789abcdef"
	token        = "0123456789abcdef0123456789abcdef"
)

// spec is Twilio's description as one JSON Schema document: its
// components' schemas under $defs (OpenAPI 3.0's nullable as a "null"
// type), and the form bodies of the two operations.
type spec struct {
	t        *testing.T
	compiler *jsonschema.Compiler
	doc      map[string]any
	props    map[string]map[string]any // request body properties by path
}

// convert rewrites an OpenAPI 3.0 schema into JSON Schema 2020-12.
func convert(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			switch k {
			case "$ref":
				out[k] = strings.Replace(val.(string), "#/components/schemas/", "#/$defs/", 1)
			case "nullable", "x-twilio", "description", "example", "format":
			default:
				out[k] = convert(val)
			}
		}
		if x["nullable"] == true {
			if t, ok := out["type"].(string); ok {
				out["type"] = []any{t, "null"}
			} else if ref, ok := out["$ref"]; ok {
				delete(out, "$ref")
				out["anyOf"] = []any{map[string]any{"$ref": ref}, map[string]any{"type": "null"}}
			}
			if e, ok := out["enum"].([]any); ok {
				out["enum"] = append(e, nil)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = convert(e)
		}
		return out
	}
	return v
}

func load(t *testing.T) *spec {
	t.Helper()
	raw, err := os.ReadFile(SpecPath)
	if err != nil {
		t.Fatalf("Twilio's OpenAPI description is missing (%v): run make deps (npm ci in shared/twilio/contract)", err)
	}
	var api map[string]any
	if err := json.Unmarshal(raw, &api); err != nil {
		t.Fatal(err)
	}
	defs := convert(api["components"].(map[string]any)["schemas"]).(map[string]any)
	s := &spec{t: t, props: map[string]map[string]any{}}
	paths := api["paths"].(map[string]any)
	for _, p := range []string{messagesPath, callsPath} {
		body := paths[p].(map[string]any)["post"].(map[string]any)["requestBody"].(map[string]any)
		schema := body["content"].(map[string]any)["application/x-www-form-urlencoded"].(map[string]any)["schema"]
		conv := convert(schema).(map[string]any)
		conv["additionalProperties"] = false
		defs[defName("request", p)] = conv
		s.props[p] = conv["properties"].(map[string]any)
		// The 201's schema, every property the sandbox answers with
		// declared.
		resp := paths[p].(map[string]any)["post"].(map[string]any)["responses"].(map[string]any)["201"].(map[string]any)
		ref := resp["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["$ref"].(string)
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		strict := map[string]any{}
		for k, v := range defs[name].(map[string]any) {
			strict[k] = v
		}
		strict["additionalProperties"] = false
		defs[defName("response", p)] = strict
	}
	s.doc = map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs}
	s.compiler = jsonschema.NewCompiler()
	if err := s.compiler.AddResource("urn:twilio-api-v2010", s.doc); err != nil {
		t.Fatal(err)
	}
	return s
}

// defName names the definition of an operation's request or answer.
func defName(what, path string) string {
	if strings.HasSuffix(path, "Calls.json") {
		return what + "Call"
	}
	return what + "Message"
}

// validate checks v against definition def.
func (s *spec) validate(def string, v any) error {
	sch, err := s.compiler.Compile("urn:twilio-api-v2010#/$defs/" + def)
	if err != nil {
		s.t.Fatalf("compile %s: %v", def, err)
	}
	// Round-trip through JSON so numbers and maps are as the validator
	// wants them.
	raw, _ := json.Marshal(v)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		s.t.Fatal(err)
	}
	return sch.Validate(inst)
}

func (s *spec) check(def string, v any) {
	s.t.Helper()
	if err := s.validate(def, v); err != nil {
		raw, _ := json.Marshal(v)
		s.t.Errorf("%s does not match Twilio's description: %v\n%s", def, err, raw)
	}
}

// formObject is a form body as the JSON object its schema describes: a
// parameter whose property is an array as a list, others as a string.
func (s *spec) formObject(path string, f url.Values) map[string]any {
	out := map[string]any{}
	for k, vs := range f {
		p, _ := s.props[path][k].(map[string]any)
		if p != nil && p["type"] == "array" {
			out[k] = vs
			continue
		}
		if len(vs) != 1 {
			s.t.Errorf("%s: parameter %s sent %d times, its schema takes one", path, k, len(vs))
		}
		out[k] = vs[0]
	}
	return out
}

// recorder keeps the requests that pass through it to the sandbox and
// the sandbox's answers.
type recorder struct {
	mu   sync.Mutex
	next http.Handler
	got  []exchange
}

type exchange struct {
	path   string
	form   url.Values
	status int
	body   []byte
	ctype  string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	form, _ := url.ParseQuery(string(body))
	req.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	r.next.ServeHTTP(rec, req)
	r.mu.Lock()
	r.got = append(r.got, exchange{path: req.URL.Path, form: form, status: rec.Code, body: rec.Body.Bytes(), ctype: req.Header.Get("Content-Type")})
	r.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// TestRequestsAndAnswers: the client's SMS and call requests (with a
// number, with a messaging service, with status callbacks) are bodies
// Twilio's description takes, and the sandbox's 201 answers are the
// Message and Call resources it describes, with no property it does not.
func TestRequestsAndAnswers(t *testing.T) {
	s := load(t)
	sb, err := sandbox.New(sandbox.Options{TwilioAccounts: map[string]string{sid: token}, StatusDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	rec := &recorder{next: sb}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cr := twilio.Credentials{AccountSID: sid, AuthToken: token, From: "+15005550006", BaseURL: srv.URL}
	svc := cr
	svc.From, svc.MessagingServiceSID = "", "MG0123456789abcdef0123456789abcdef"
	c := &twilio.Client{}
	ctx := context.Background()
	cb := "https://api.example.com/v1/webhooks/twilio/ten_1/ch_1"
	for _, send := range []func() error{
		func() error { _, err := c.SMS(ctx, cr, "+923001234567", "Hello 👍", cb); return err },
		func() error { _, err := c.SMS(ctx, svc, "+923001234567", "Hello", ""); return err },
		func() error { _, err := c.Call(ctx, cr, "+923001234567", twilio.SayTwiML("Hi & bye"), cb); return err },
		func() error { _, err := c.Call(ctx, cr, "+923001234567", twilio.SayTwiML("Hi"), ""); return err },
	} {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.got) != 4 {
		t.Fatalf("%d requests", len(rec.got))
	}
	paths := map[string]string{"Messages.json": messagesPath, "Calls.json": callsPath}
	for _, x := range rec.got {
		p := paths[x.path[strings.LastIndex(x.path, "/")+1:]]
		if p == "" || x.path != strings.Replace(p, "{AccountSid}", sid, 1) {
			t.Fatalf("request to %s", x.path)
		}
		if x.ctype != "application/x-www-form-urlencoded" {
			t.Errorf("%s: Content-Type %q", x.path, x.ctype)
		}
		keys := slices.Collect(func(yield func(string) bool) {
			for k := range x.form {
				if !yield(k) {
					return
				}
			}
		})
		sort.Strings(keys)
		t.Logf("%s %v", p, keys)
		s.check(defName("request", p), s.formObject(p, x.form))
		if x.status != http.StatusCreated {
			t.Fatalf("%s answered %d: %s", x.path, x.status, x.body)
		}
		var answer any
		if err := json.Unmarshal(x.body, &answer); err != nil {
			t.Fatal(err)
		}
		s.check(defName("response", p), answer)
	}
}

// TestContractCatchesDrift: the checks above can fail: a parameter
// Twilio does not know, a missing required one and an answer with an
// undeclared property are each reported.
func TestContractCatchesDrift(t *testing.T) {
	s := load(t)
	for _, tc := range []struct {
		def string
		v   any
	}{
		{"requestMessage", map[string]any{"To": "+923001234567", "Body": "x", "Bogus": "1"}},
		{"requestCall", map[string]any{"Twiml": "<Response/>", "From": "+15005550006"}},
		{"responseMessage", map[string]any{"sid": "SM1", "made_up": true}},
		{"responseCall", map[string]any{"sid": "CA1", "status": "not-a-status"}},
	} {
		if err := s.validate(tc.def, tc.v); err == nil {
			t.Errorf("%s accepted %v", tc.def, tc.v)
		}
	}
}
