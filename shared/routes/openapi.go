package routes

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strings"
)

// Document is the checked-in OpenAPI document (openapi.json beside this
// file), served at /openapi.json. A test fails when it drifts from Table;
// `make openapi` rewrites it.
//
//go:embed openapi.json
var Document []byte

// OpenAPI generates the OpenAPI 3.1 document from the route table.
func OpenAPI() ([]byte, error) {
	type obj = map[string]any
	ref := func(name string) obj { return obj{"$ref": "#/components/" + name} }
	errResp := func(desc string) obj {
		return obj{"description": desc, "content": obj{"application/json": obj{"schema": ref("schemas/Error")}}}
	}
	security := map[Auth][]obj{
		AuthNone:         {},
		AuthChannel:      {{"channelToken": []string{}}},
		AuthChannelQuery: {{"channelQueryToken": []string{}}, {"channelToken": []string{}}},
		AuthAccount:      {{"accountSecret": []string{}}},
		AuthAdmin:        {{"adminIAM": []string{}}},
	}
	paths := obj{}
	for _, r := range Table {
		item, _ := paths[r.Path].(obj)
		if item == nil {
			item = obj{}
			paths[r.Path] = item
		}
		var params []obj
		for _, p := range r.PathParams() {
			params = append(params, obj{"name": p, "in": "path", "required": true, "schema": obj{"type": "string"}})
		}
		for _, q := range r.Query {
			params = append(params, obj{"name": q, "in": "query", "schema": obj{"type": "string"}})
		}
		status := http.StatusOK
		if r.Created {
			status = http.StatusCreated
		}
		responses := obj{
			itoa(status): obj{"description": "Success", "headers": rateHeaders(r.Auth),
				"content": obj{"application/json": obj{"schema": obj{"type": "object"}}}},
			"400": errResp("Bad input: malformed JSON, wrong content type, unknown or invalid field"),
			"404": errResp("Not found"),
			"405": errResp("Method not allowed on this path"),
			"413": errResp("Request body over 256 KB"),
			"500": errResp("Internal error"),
		}
		if r.Auth != AuthNone {
			responses["401"] = errResp("API Token is invalid.")
			responses["403"] = errResp("Forbidden: a credential of another kind")
		}
		if r.Auth != AuthNone && r.Auth != AuthAdmin {
			responses["429"] = errResp("Too many requests (100 per minute per credential)")
		}
		op := obj{
			"operationId": r.Function,
			"summary":     r.Summary,
			"tags":        []string{r.Tag},
			"security":    security[r.Auth],
			"responses":   responses,
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if r.Body {
			op["requestBody"] = obj{"required": true, "content": obj{"application/json": obj{"schema": obj{"type": []string{"object", "array"}}}}}
		}
		item[strings.ToLower(r.Method)] = op
	}
	doc := obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":       "Chat marketing backend API",
			"version":     "1.0.0",
			"description": "Contacts, messaging and webhook connectors for chat-marketing bots. Every error is {\"status\":\"error\",\"message\":...,\"data\":[]}.",
		},
		"servers": []obj{{"url": "/"}},
		"paths":   paths,
		"components": obj{
			"securitySchemes": obj{
				"channelToken":      obj{"type": "http", "scheme": "bearer", "description": "A channel API token."},
				"channelQueryToken": obj{"type": "apiKey", "in": "query", "name": "token", "description": "A channel API token in the query string."},
				"accountSecret":     obj{"type": "apiKey", "in": "header", "name": "Authorization", "description": "The tenant's account secret key, bare or as Bearer."},
				"adminIAM":          obj{"type": "apiKey", "in": "header", "name": "Authorization", "description": "AWS SigV4 (IAM) in AWS; Bearer ADMIN_KEY on the local stack."},
			},
			"schemas": obj{
				"Error": obj{
					"type":     "object",
					"required": []string{"status", "message", "data"},
					"properties": obj{
						"status":  obj{"const": "error"},
						"message": obj{"type": "string"},
						"data":    obj{"type": "array", "maxItems": 0},
					},
				},
			},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func rateHeaders(a Auth) map[string]any {
	if a == AuthNone || a == AuthAdmin {
		return map[string]any{}
	}
	h := func(d string) map[string]any {
		return map[string]any{"description": d, "schema": map[string]any{"type": "integer"}}
	}
	return map[string]any{
		"X-RateLimit-Limit":     h("Calls allowed per minute"),
		"X-RateLimit-Remaining": h("Calls left in this minute"),
		"X-RateLimit-Reset":     h("Unix time when the minute ends"),
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
