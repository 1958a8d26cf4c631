// Command template-update is the Lambda behind its template registry route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/templateapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("template-update", templateapi.TemplateUpdate) }
