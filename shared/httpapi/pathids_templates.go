package httpapi

import "strings"

// The path parameters of the template registry and of seed 002's chat-api
// routes (kept beside PathIDs, in this file, so that the two lists merge
// apart).
func init() {
	PathIDs["templateId"] = IDForm{Valid: prefixedForm("tpl_"), NotFound: notFound("Template")}
	// "instance" and the channel's numeric instance id, one segment
	// (instance777): anything else is no route at all.
	PathIDs["instance"] = IDForm{Valid: instanceForm, NotFound: func(string) error { return ErrNotFound }}
}

// instanceForm is "instance" and 1 to 18 digits without a leading zero.
func instanceForm(s string) bool {
	id, ok := strings.CutPrefix(s, "instance")
	return ok && decimalForm(18)(id)
}
