// Command admin-secret-rotate is the Lambda behind its admin API route (shared/routes).
package main

import (
	"github.com/startmsg/chatbackend/shared/adminapi"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() { wiring.StartAPI("admin-secret-rotate", adminapi.AdminSecretRotate) }
