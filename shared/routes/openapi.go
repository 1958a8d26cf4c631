package routes

import _ "embed"

// Document is the checked-in OpenAPI 3.1 document (openapi.json beside this
// file), served at /openapi.json. Package apidoc generates it from Table and
// the handlers' Go types; a test fails when it drifts, and `make openapi`
// rewrites it.
//
//go:embed openapi.json
var Document []byte
