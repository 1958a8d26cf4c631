// Package contract checks the Twilio client's requests and the provider
// sandbox's answers against Twilio's own OpenAPI description of the
// 2010-04-01 REST API (twilio_api_v2010.json, shipped in the npm package
// @twilio/cli-core, pinned by package-lock.json here and installed by
// `make deps`). Tests only.
package contract
