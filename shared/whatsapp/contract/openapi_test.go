package contract_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// OpenAPIEnv names Meta's OpenAPI description of the Cloud API
// (business-messaging-api_v23.0.yaml): reference material, not part of
// the repository, so this test runs only when it is given.
const OpenAPIEnv = "WHATSAPP_OPENAPI"

// node is a schema with its allOf parts and $refs resolved: the union of
// their required fields and properties.
type node struct {
	required []string
	props    map[string]any
	oneOf    []any
	enum     []any
	raw      map[string]any
}

type resolver struct {
	root  map[string]any
	defs  string // "components/schemas" or "$defs"
	prefs string // "#/components/schemas/" or "#/$defs/"
}

func (r resolver) deref(v any) map[string]any {
	m, _ := v.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			break
		}
		name, ok := strings.CutPrefix(ref, r.prefs)
		if !ok {
			return nil
		}
		var defs map[string]any
		if r.defs == "$defs" {
			defs, _ = r.root["$defs"].(map[string]any)
		} else {
			comps, _ := r.root["components"].(map[string]any)
			defs, _ = comps["schemas"].(map[string]any)
		}
		m, _ = defs[name].(map[string]any)
	}
	return m
}

func (r resolver) flatten(v any) node {
	n := node{props: map[string]any{}}
	m := r.deref(v)
	if m == nil {
		return n
	}
	n.raw = m
	for _, q := range asList(m["required"]) {
		n.required = append(n.required, q.(string))
	}
	if ps, ok := m["properties"].(map[string]any); ok {
		for k, p := range ps {
			n.props[k] = p
		}
	}
	n.oneOf = asList(m["oneOf"])
	n.enum = asList(m["enum"])
	for _, part := range asList(m["allOf"]) {
		sub := r.flatten(part)
		n.required = append(n.required, sub.required...)
		for k, p := range sub.props {
			if _, ok := n.props[k]; !ok {
				n.props[k] = p
			}
		}
		if len(sub.oneOf) > 0 {
			n.oneOf = sub.oneOf
		}
	}
	return n
}

// prop descends to a property (through array items).
func (r resolver) prop(n node, name string) node {
	p := r.deref(n.props[name])
	if items, ok := p["items"]; ok && p["type"] == "array" {
		return r.flatten(items)
	}
	return r.flatten(p)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// compare checks that mine requires every field Meta requires and has no
// property Meta does not know, but for extras.
func compare(t *testing.T, what string, meta, mine node, extras ...string) {
	t.Helper()
	if meta.raw == nil {
		t.Errorf("%s: Meta's schema was not found", what)
		return
	}
	if mine.raw == nil {
		t.Errorf("%s: our schema was not found", what)
		return
	}
	for _, q := range meta.required {
		if !slices.Contains(mine.required, q) {
			t.Errorf("%s: Meta requires %q; our schema does not (ours: %v)", what, q, mine.required)
		}
	}
	for k := range mine.props {
		if _, ok := meta.props[k]; !ok && !slices.Contains(extras, k) {
			t.Errorf("%s: our property %q is not in Meta's schema (Meta's: %v)", what, k, keys(meta.props))
		}
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func enumOf(r resolver, v any) []string {
	var out []string
	for _, e := range r.flatten(v).enum {
		out = append(out, e.(string))
	}
	sort.Strings(out)
	return out
}

func TestSchemasFollowMetasDescription(t *testing.T) {
	path := os.Getenv(OpenAPIEnv)
	if path == "" {
		t.Skip(OpenAPIEnv + " is not set: point it at Meta's business-messaging-api_v23.0.yaml to cross-check the hand-written schemas")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var metaDoc map[string]any
	if err := yaml.Unmarshal(raw, &metaDoc); err != nil {
		t.Fatal(err)
	}
	mineRaw, err := os.ReadFile("testdata/cloudapi.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var mineDoc map[string]any
	if err := json.Unmarshal(mineRaw, &mineDoc); err != nil {
		t.Fatal(err)
	}
	meta := resolver{metaDoc, "components/schemas", "#/components/schemas/"}
	mine := resolver{mineDoc, "$defs", "#/$defs/"}
	M := func(name string) node { return meta.flatten(map[string]any{"$ref": "#/components/schemas/" + name}) }
	O := func(name string) node { return mine.flatten(map[string]any{"$ref": "#/$defs/" + name}) }

	// Sends: each kind's required fields, base and variant together.
	send := O("SendRequest")
	for kind, metaName := range map[string]string{"text": "TextMessage", "template": "TemplateMessage", "image": "ImageMessage",
		"document": "DocumentMessage", "audio": "AudioMessage", "video": "VideoMessage"} {
		variant := send
		variant.required = slices.Clone(send.required)
		for _, alt := range send.oneOf {
			a := mine.flatten(alt)
			if c, _ := mine.deref(a.props["type"])["const"].(string); c == kind {
				variant.required = append(variant.required, a.required...)
			}
		}
		compare(t, "send "+kind, M(metaName), variant, "biz_opaque_callback_data", "text", "template", "image", "document", "audio", "video")
	}
	compare(t, "text object", meta.prop(M("TextMessage"), "text"), mine.prop(send, "text"))
	tpl := meta.prop(M("TemplateMessage"), "template")
	compare(t, "template object", tpl, O("TemplateObject"))
	compare(t, "template language", meta.prop(tpl, "language"), mine.prop(O("TemplateObject"), "language"))
	compare(t, "template component", meta.prop(tpl, "components"), mine.prop(O("TemplateObject"), "components"))
	for _, name := range []string{"HeaderComponent", "BodyComponent", "ButtonComponent", "TextParameter", "ImageParameter",
		"DocumentParameter", "VideoParameter", "ButtonPayloadParameter", "ButtonTextParameter"} {
		compare(t, name, M(name), O(name))
	}
	// Media: one of id or link, as Meta's MediaObject.
	var metaAlts, mineAlts []string
	for _, a := range M("MediaObject").oneOf {
		metaAlts = append(metaAlts, strings.Join(meta.flatten(a).required, ","))
	}
	for _, a := range O("MediaObject").oneOf {
		mineAlts = append(mineAlts, strings.Join(mine.flatten(a).required, ","))
	}
	sort.Strings(metaAlts)
	sort.Strings(mineAlts)
	if strings.Join(metaAlts, "|") != strings.Join(mineAlts, "|") {
		t.Errorf("media object alternatives: Meta %v, ours %v", metaAlts, mineAlts)
	}

	// Answers.
	resp := M("MessageResponsePayload")
	compare(t, "send answer", resp, O("SendResponse"))
	compare(t, "send answer contacts", meta.prop(resp, "contacts"), mine.prop(O("SendResponse"), "contacts"))
	compare(t, "send answer messages", meta.prop(resp, "messages"), mine.prop(O("SendResponse"), "messages"))
	if a, b := enumOf(meta, meta.prop(resp, "messages").props["message_status"]), enumOf(mine, mine.prop(O("SendResponse"), "messages").props["message_status"]); !slices.Equal(a, b) {
		t.Errorf("message_status: Meta %v, ours %v", a, b)
	}
	ge := M("GraphAPIError")
	compare(t, "error", ge, O("GraphError"))
	compare(t, "error object", meta.prop(ge, "error"), mine.prop(O("GraphError"), "error"), "error_data")

	// Profile.
	compare(t, "profile update", M("WhatsAppBusinessProfileUpdateRequest"), O("ProfileUpdateRequest"))
	compare(t, "profile", M("WhatsAppBusinessProfile"), mine.prop(O("ProfileGetResponse"), "data"))
	compare(t, "profile update answer", M("WhatsAppBusinessProfileUpdateResponse"), O("SuccessResponse"))
	if a, b := enumOf(meta, map[string]any{"$ref": "#/components/schemas/WhatsAppBusinessVertical"}), enumOf(mine, map[string]any{"$ref": "#/$defs/Vertical"}); !slices.Equal(a, b) {
		t.Errorf("verticals: Meta %v, ours %v", a, b)
	}
	for _, f := range []string{"about", "address", "email"} {
		mp, op := meta.deref(M("WhatsAppBusinessProfileUpdateRequest").props[f]), mine.deref(O("ProfileUpdateRequest").props[f])
		if fmt.Sprint(mp["maxLength"]) != fmt.Sprint(op["maxLength"]) {
			t.Errorf("profile %s maxLength: Meta %v, ours %v", f, mp["maxLength"], op["maxLength"])
		}
	}

	// Templates: the paths' own inline schemas.
	paths, _ := metaDoc["paths"].(map[string]any)
	tp, _ := paths["/{Version}/{WABA-ID}/message_templates"].(map[string]any)
	body := func(op, where string) node {
		o, _ := tp[op].(map[string]any)
		var c map[string]any
		if where == "request" {
			rb, _ := o["requestBody"].(map[string]any)
			c, _ = rb["content"].(map[string]any)
		} else {
			rs, _ := o["responses"].(map[string]any)
			r200, _ := rs["200"].(map[string]any)
			c, _ = r200["content"].(map[string]any)
		}
		aj, _ := c["application/json"].(map[string]any)
		return meta.flatten(aj["schema"])
	}
	compare(t, "template create", body("post", "request"), O("TemplateCreateRequest"))
	compare(t, "template create answer", body("post", "response"), O("TemplateCreateResponse"))
	compare(t, "template list", body("get", "response"), O("TemplateListResponse"))
	compare(t, "template list item", meta.prop(body("get", "response"), "data"), mine.prop(O("TemplateListResponse"), "data"))

	// Webhooks.
	wp := M("WebhookPayload")
	compare(t, "webhook", wp, O("WebhookPayload"))
	entry := meta.prop(wp, "entry")
	compare(t, "webhook entry", entry, mine.prop(O("WebhookPayload"), "entry"), "time")
	compare(t, "webhook change", meta.prop(entry, "changes"), mine.prop(mine.prop(O("WebhookPayload"), "entry"), "changes"))
	compare(t, "metadata", M("Metadata"), O("Metadata"))
	compare(t, "statuses value", M("StatusMessageValue"), O("StatusMessageValue"))
	st := mine.prop(O("StatusMessageValue"), "statuses")
	compare(t, "status", M("Statuses"), st, "biz_opaque_callback_data")
	if a, b := enumOf(meta, M("Statuses").props["status"]), enumOf(mine, st.props["status"]); !slices.Equal(a, b) {
		t.Errorf("status values: Meta %v, ours %v", a, b)
	}
	compare(t, "status conversation", M("Conversation"), mine.prop(st, "conversation"))
	compare(t, "status pricing", M("Pricing"), mine.prop(st, "pricing"))
	compare(t, "status error", M("StatusError"), mine.prop(st, "errors"))
	in := O("IncomingMessageValue")
	compare(t, "inbound value", M("IncomingMessageValueGeneral"), in)
	compare(t, "inbound contact", M("ContactProfile"), mine.prop(in, "contacts"))
	compare(t, "inbound contact profile", meta.prop(M("ContactProfile"), "profile"), mine.prop(mine.prop(in, "contacts"), "profile"))
	msg := mine.prop(in, "messages")
	compare(t, "inbound message", M("BaseMessageProperties_1"), msg, "type", "text")
	compare(t, "inbound text", meta.prop(M("TextMessage_2"), "text"), mine.prop(msg, "text"))
}
