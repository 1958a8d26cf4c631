// Package apidoc generates the OpenAPI 3.1 document of the API
// (shared/routes/openapi.json) from the route table and the Go types the
// handlers decode and encode. It imports the handler packages, so it is
// used only by tests and `make openapi`: no function binary links it (they
// serve the checked-in document that package routes embeds).
//
// The document cannot drift from the code: a test fails when openapi.json
// differs from what Generate makes, the document is validated as OpenAPI
// 3.1 and its schemas as JSON Schema 2020-12, every answer the integration
// tests receive is checked against it (infra/local/stacktest), and a
// TypeScript client generated from it must compile.
package apidoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/routes"
)

// errorResponses are the reusable error answers, by status.
var errorResponses = map[int]struct{ name, description, example string }{
	http.StatusBadRequest:            {"BadRequest", "Bad input: malformed JSON, wrong content type, a null body, an unknown or invalid field or parameter, a string that is not UTF-8 or holds a NUL (\\u0000); the message names it.", `custom_fields: field "Plan" must be one of gold, silver.`},
	http.StatusUnauthorized:          {"Unauthorized", "No credential, or one that is unknown or revoked.", httpapi.MsgInvalidToken},
	http.StatusForbidden:             {"Forbidden", "A credential of another kind than the route takes (or a Messenger signature or verify token that does not match).", "This route takes a channel API token."},
	http.StatusNotFound:              {"NotFound", "The item does not exist, belongs to another tenant or channel, or its ID is not of its kind's form: all answered alike.", `Contact "123456789012345" not found.`},
	http.StatusConflict:              {"Conflict", "Changed by another request at the same time, or an Idempotency-Key whose first request is still running: retry.", "The contact was changed by another request at the same time; retry."},
	http.StatusRequestEntityTooLarge: {"PayloadTooLarge", "Request body over 256 KB, or a contact write that would take the contact over its 256 KB byte budget.", "Request body is too large (max 256 KB)."},
	http.StatusUnprocessableEntity:   {"UnprocessableEntity", "A webhook URL the SSRF guard refuses, an Idempotency-Key reused with another body, or a per-tenant limit reached (contacts_per_tenant, connections_per_channel, automations_per_tenant); an automation whose nodes name a channel, template, connection or custom field that is missing or cannot do what the node asks.", "url: host 127.0.0.1 is a loopback address."},
	http.StatusTooManyRequests: {"TooManyRequests", "Over 100 calls in this minute for this credential, or too many calls from this address (the per-address limit in front of the API, which counts failed authentications and unauthenticated calls): retry after Retry-After seconds.",
		httpapi.MsgTooManyRequests},
}

// pathParamDocs describe path parameters.
var pathParamDocs = map[string]string{
	"contactId":    "The contact's ID (on Messenger, its PSID); Base64-encoded on Viber channels.",
	"fieldId":      "A custom field's numeric ID.",
	"connectionId": "A connection's ID (conn_…); a Zapier hook's ID is its connection's.",
	"hookId":       "The hook's ID, as POST /v1/hooks answered it.",
	"webhookId":    "The webhook-id of a logged delivery (its activity).",
	"deliveryId":   "A dead delivery's ID.",
	"tenantId":     "A tenant's ID (ten_…).",
	"channelId":    "A channel's ID (ch_…).",
	"tokenId":      "A channel API token's ID (tok_…).",
}

// idempotent routes honour Idempotency-Key.
var idempotent = map[string]bool{"contact-create": true, "actions": true}

// ErrorStatuses lists the error statuses a route's operation declares.
func ErrorStatuses(r routes.Route) []int {
	set := map[int]bool{}
	if r.Body {
		set[http.StatusBadRequest] = true
		set[http.StatusRequestEntityTooLarge] = true
	}
	if len(r.PathParams()) > 0 {
		set[http.StatusNotFound] = true
	}
	if strings.Contains(r.Path, "{contactId}") {
		set[http.StatusBadRequest] = true // Viber IDs must be Base64
	}
	if r.Auth != routes.AuthNone {
		set[http.StatusUnauthorized] = true
		set[http.StatusForbidden] = true
	}
	// Every route sits behind the per-address limit (WAF in AWS, the
	// gateway locally), whatever its own limit.
	set[http.StatusTooManyRequests] = true
	for _, s := range Ops[r.Function].Errors {
		set[s] = true
	}
	var out []int
	for s := range errorResponses {
		if set[s] {
			out = append(out, s)
		}
	}
	sortInts(out)
	return out
}

func rateLimited(r routes.Route) bool { return r.Auth != routes.AuthNone && r.Auth != routes.AuthAdmin }

func sortInts(s []int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Generate makes the OpenAPI 3.1 document.
func Generate() ([]byte, error) {
	g := newReflector()
	extendReflector(g)
	for _, x := range moreReflectors {
		x(g)
	}
	security := map[routes.Auth][]obj{
		routes.AuthNone:         {},
		routes.AuthChannel:      {{"channelToken": []string{}}},
		routes.AuthChannelQuery: {{"channelQueryToken": []string{}}, {"channelToken": []string{}}},
		routes.AuthAccount:      {{"accountSecret": []string{}}},
		// Either scheme: OpenAPI's alternatives.
		routes.AuthChannelOrAccount: {{"channelToken": []string{}}, {"accountSecret": []string{}}},
		routes.AuthAdmin:            {{"adminIAM": []string{}}},
	}
	example := func(where, s string) (any, error) {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("%s: example: %w", where, err)
		}
		return v, nil
	}
	paths := obj{}
	for _, r := range routes.Table {
		op, ok := Ops[r.Function]
		if !ok {
			return nil, fmt.Errorf("route %s %s (%s) has no entry in apidoc.Ops", r.Method, r.Path, r.Function)
		}
		item, _ := paths[r.Path].(obj)
		if item == nil {
			item = obj{}
			paths[r.Path] = item
		}
		params := []obj{}
		for _, p := range r.PathParams() {
			param := obj{"name": p, "in": "path", "required": true, "schema": obj{"type": "string", "minLength": 1}}
			if d, ok := pathParamDocs[p]; ok {
				param["description"] = d
			}
			params = append(params, param)
		}
		queryNames := map[string]bool{}
		for _, q := range op.Query {
			queryNames[q.Name] = true
			p := obj{"name": q.Name, "in": "query", "schema": q.Schema}
			if q.Required {
				p["required"] = true
			}
			if q.Description != "" {
				p["description"] = q.Description
			}
			params = append(params, p)
		}
		for _, q := range r.Query {
			if !queryNames[q] {
				return nil, fmt.Errorf("%s: query parameter %s has no apidoc.Param", r.Function, q)
			}
		}
		if len(op.Query) != len(r.Query) {
			return nil, fmt.Errorf("%s: apidoc.Ops lists query parameters the route table does not", r.Function)
		}
		if idempotent[r.Function] {
			params = append(params, obj{"$ref": "#/components/parameters/IdempotencyKey"})
		}

		status := op.Status
		if status == 0 {
			status = http.StatusOK
		}
		if (status == http.StatusCreated) != r.Created {
			return nil, fmt.Errorf("%s: status %d, but the route table's Created is %v", r.Function, status, r.Created)
		}
		okResp := obj{"description": http.StatusText(status)}
		headers := obj{}
		if rateLimited(r) {
			for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
				headers[h] = obj{"$ref": "#/components/headers/" + strings.ReplaceAll(h, "-", "")}
			}
		}
		if idempotent[r.Function] {
			headers["Idempotent-Replayed"] = obj{"$ref": "#/components/headers/IdempotentReplayed"}
		}
		if len(headers) > 0 {
			okResp["headers"] = headers
		}
		switch {
		case op.Text:
			okResp["content"] = obj{"text/plain": obj{"schema": obj{"type": "string"}}}
		case op.Media != "":
			okResp["content"] = obj{op.Media: obj{"schema": obj{"type": "string"}}}
		case op.Response != nil:
			s := g.schema(op.Response)
			if op.Wrap {
				s = obj{"type": "object", "required": []string{"data"}, "properties": obj{"data": s}, "additionalProperties": false}
			}
			media := obj{"schema": s}
			if op.ResponseExample != "" {
				ex, err := example(r.Function, op.ResponseExample)
				if err != nil {
					return nil, err
				}
				media["example"] = ex
			}
			okResp["content"] = obj{"application/json": media}
		default:
			return nil, fmt.Errorf("%s: no response type", r.Function)
		}
		responses := obj{strconv.Itoa(status): okResp}
		if op.Redirect {
			responses[strconv.Itoa(http.StatusPermanentRedirect)] = obj{"description": http.StatusText(http.StatusPermanentRedirect),
				"headers": obj{"Location": obj{"description": "Where the resource is (relative).", "schema": obj{"type": "string"}}}}
		}
		for _, s := range ErrorStatuses(r) {
			responses[strconv.Itoa(s)] = obj{"$ref": "#/components/responses/" + errorResponses[s].name}
		}
		o := obj{
			"operationId": r.Function,
			"summary":     r.Summary,
			"tags":        []string{r.Tag},
			"security":    security[r.Auth],
			"responses":   responses,
		}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if r.Body != (op.Request != nil) {
			return nil, fmt.Errorf("%s: the route table's Body is %v, apidoc's Request %v", r.Function, r.Body, op.Request)
		}
		if op.Request != nil {
			media := obj{"schema": g.request(op.Request)}
			if op.RequestExample != "" {
				ex, err := example(r.Function, op.RequestExample)
				if err != nil {
					return nil, err
				}
				media["example"] = ex
			}
			o["requestBody"] = obj{"required": !op.RequestOptional, "content": obj{"application/json": media}}
		}
		item[strings.ToLower(r.Method)] = o
	}
	for k := range g.properties {
		if !g.used[k] {
			return nil, fmt.Errorf("apidoc: property override %s matches no property", k)
		}
	}
	for fn := range Ops {
		if _, ok := routes.ByFunction(fn); !ok {
			return nil, fmt.Errorf("apidoc.Ops has %s, which no route has", fn)
		}
	}

	// The seed's message-only success body, and the error envelope: one Go
	// type, two constants.
	g.schema(success)
	msg := g.comps["Message"]
	msg["properties"].(obj)["status"] = obj{"const": "success"}
	msg["properties"].(obj)["data"] = obj{"type": "array", "maxItems": 0}
	msg["description"] = "The seed's success answer that carries only a message."
	errSchema := obj{}
	for k, v := range msg {
		errSchema[k] = v
	}
	props := obj{}
	for k, v := range msg["properties"].(obj) {
		props[k] = v
	}
	props["status"] = obj{"const": "error"}
	errSchema["properties"] = props
	errSchema["description"] = `Every error: {"status":"error","message":…,"data":[]}. The message names what was wrong.`
	g.comps["Error"] = errSchema

	respComps := obj{}
	for s, e := range errorResponses {
		resp := obj{"description": e.description, "content": obj{"application/json": obj{
			"schema":  ref("Error"),
			"example": obj{"status": "error", "message": e.example, "data": []any{}},
		}}}
		if s == http.StatusTooManyRequests {
			resp["headers"] = obj{"Retry-After": obj{"description": "Seconds until the window ends (the minute, for the per-credential limit).", "schema": obj{"type": "integer", "minimum": 0}}}
		}
		respComps[e.name] = resp
	}
	intHeader := func(d string) obj { return obj{"description": d, "schema": obj{"type": "integer"}} }
	doc := obj{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"info": obj{
			"title":   "Chat marketing backend API",
			"version": "1.0.0",
			"description": "Contacts, messaging and webhook connectors for chat-marketing bots. " +
				"Every error is {\"status\":\"error\",\"message\":...,\"data\":[]}; an unknown path answers 404 and a known path " +
				"with another method 405 (\"405 Method Not Allowed.\"), both in that envelope. " +
				"The paths are also served under the /api base path.",
		},
		"servers": []obj{{"url": "/"}},
		"paths":   paths,
		"components": obj{
			"schemas":   g.comps,
			"responses": respComps,
			"headers": obj{
				"XRateLimitLimit":     intHeader("Calls allowed per minute (100)."),
				"XRateLimitRemaining": intHeader("Calls left in this minute."),
				"XRateLimitReset":     intHeader("Unix time when the minute ends."),
				"IdempotentReplayed":  obj{"description": "true when this is the stored answer to an earlier request with the same Idempotency-Key.", "schema": obj{"type": "string", "enum": []string{"true"}}},
			},
			"parameters": obj{
				"IdempotencyKey": obj{"name": "Idempotency-Key", "in": "header", "description": "The same key and body within 24 hours gets the first answer again; the same key with another body a 422, a retry while the first runs a 409.",
					"schema": obj{"type": "string", "minLength": 1, "maxLength": 255}},
			},
			"securitySchemes": obj{
				"channelToken":      obj{"type": "http", "scheme": "bearer", "description": "A channel API token: Authorization: Bearer <token>."},
				"channelQueryToken": obj{"type": "apiKey", "in": "query", "name": "token", "description": "A channel API token in the query string."},
				"accountSecret":     obj{"type": "apiKey", "in": "header", "name": "Authorization", "description": "The tenant's account secret key: Authorization: <secret> or Authorization: Bearer <secret>."},
				"adminIAM":          obj{"type": "apiKey", "in": "header", "name": "Authorization", "description": "The operator: AWS SigV4 (IAM) in AWS; Authorization: Bearer <ADMIN_KEY> on the local stack."},
			},
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
