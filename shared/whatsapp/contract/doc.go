// Package contract checks the WhatsApp Cloud API client's requests and the
// provider sandbox's answers and webhooks against JSON Schemas of the
// Cloud API's shapes (testdata/cloudapi.schema.json), written by hand from
// Meta's published OpenAPI description; each definition names the schema
// of Meta's it follows. With WHATSAPP_OPENAPI set to the path of Meta's
// description, a further test checks that every field Meta requires is
// required here too. Tests only.
package contract
