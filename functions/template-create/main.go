// Command template-create is the Lambda behind its template registry route
// (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/templateapi"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

func main() { messaging.StartAPI("template-create", templateapi.TemplateCreate) }
